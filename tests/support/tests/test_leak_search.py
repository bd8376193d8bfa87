"""The search behind tests/integration/test_secret_leaks.py: a leak it cannot see is no proof."""

from __future__ import annotations

import base64
import gzip
import io
import json
import sqlite3
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.support.leak_search import Scanner, encodings, no_hits, reader

SECRET = "LEAKCANARY0123456789abcdef"


def scanner() -> Scanner:
    return Scanner(encodings(SECRET))


@pytest.mark.parametrize("before", ["", "w", "wo", "worker:", "Authorization: Basic x"])
@pytest.mark.parametrize("after", ["", "!", "xy", "\n"])
def test_every_base64_text_holding_the_secret_holds_a_pattern(before: str, after: str) -> None:
    text = (before + SECRET + after).encode()
    patterns = encodings(SECRET).values()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        assert any(pattern in encode(text) for pattern in patterns)


def test_patterns_are_the_secret_and_padding_free_base64() -> None:
    found = encodings(SECRET)
    assert found["as is"] == SECRET.encode()
    assert len(found) >= 4  # three alignments, standard (URL-safe ones only when they differ)
    assert all(b"=" not in pattern and len(pattern) > 20 for pattern in found.values())
    # A header made of something else does not match.
    other = base64.b64encode(b"worker:LEAKCANARYffffffffffffffff")
    assert not any(pattern in other for pattern in found.values())


def test_a_secret_split_across_chunks_is_found_once() -> None:
    data = b"x" * 10 + SECRET.encode() + b"y" * 10 + SECRET.encode()
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    assert [str(hit) for hit in scanner().chunks("here", chunks)] == ["here [as is]"]
    assert scanner().chunks("here", [b"nothing", b"to see"]) == []


def test_files_plain_gzipped_zipped_and_base64(tmp_path: Path) -> None:
    (tmp_path / "plain.log").write_text(f"auth={SECRET}\n")
    (tmp_path / "blob").write_bytes(gzip.compress(b"layer " + SECRET.encode()))
    with zipfile.ZipFile(tmp_path / "stack.tfplan", "w", zipfile.ZIP_DEFLATED) as plan:
        plan.writestr("tfplan", f"variables: {SECRET}" * 3)
        plan.writestr("tfconfig/main.tf", "nothing here")
    header = base64.b64encode(f"worker:{SECRET}".encode()).decode()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "headers.txt").write_text(f"Authorization: Basic {header}")
    (tmp_path / "clean.txt").write_text("clean")
    found = {hit.place.removeprefix(f"{tmp_path}/") for hit in scanner().tree(tmp_path)}
    assert found == {
        "plain.log",
        "blob (gunzipped)",
        "stack.tfplan (zip member tfplan)",
        "sub/headers.txt",
    }


def test_tree_skips_links_and_what_it_is_told_to(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "provider").write_text(SECRET)
    root = tmp_path / "root"
    (root / "skipped").mkdir(parents=True)
    (root / "skipped" / "file").write_text(SECRET)
    (root / "link").symlink_to(outside / "provider")
    (root / "dir-link").symlink_to(outside)
    search = scanner()
    assert search.tree(root, skip=lambda path: path.is_relative_to(root / "skipped")) == []
    assert search.files == 0


def _tar(files: dict[str, bytes], compress: bool = False) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if compress else "w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("compress", [False, True])
def test_image_layers_are_searched_file_by_file(compress: bool) -> None:
    layer = _tar({"etc/app.env": f"TOKEN={SECRET}".encode(), "bin/tool": b"\0" * 5000}, compress)
    image = _tar(
        {
            "abc/layer.tar": layer,
            "config.json": json.dumps({"Env": ["A=1"], "history": [SECRET]}).encode(),
            "manifest.json": b"[]",
        }
    )
    search = scanner()
    chunks = (image[i : i + 4096] for i in range(0, len(image), 4096))
    found = {str(hit) for hit in search.tar("image x", reader(chunks))}
    assert found == {"image x: abc/layer.tar: etc/app.env [as is]", "image x: config.json [as is]"}
    assert search.files == 5 and search.unreadable == []


def test_sqlite_hits_name_the_table_and_column(tmp_path: Path) -> None:
    path = tmp_path / "prefect.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE log (id INTEGER, message TEXT, extra BLOB)")
        db.execute("INSERT INTO log VALUES (1, ?, ?)", (f"auth {SECRET}", b"clean"))
        db.execute("INSERT INTO log VALUES (2, 'clean', ?)", (SECRET.encode(),))
        db.execute("CREATE TABLE events (payload TEXT)")
        db.execute("INSERT INTO events VALUES ('nothing')")
    db.close()
    found = [str(hit) for hit in scanner().sqlite("orchestrator", path)]
    assert found == [
        "orchestrator: table log, column extra [as is]",
        "orchestrator: table log, column message [as is]",
    ]


def test_the_failure_message_lists_each_place_once() -> None:
    hits = [*scanner().data("b place", SECRET), *scanner().data("a place", SECRET)] * 2
    assert no_hits(hits, "somewhere") == (
        "the worker's Prefect credential leaked into somewhere:\n"
        "  a place [as is]\n"
        "  b place [as is]"
    )

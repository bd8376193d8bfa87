"""The build context and the content tag: what counts as image content, and what the tag covers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image import ImageBuildError, ImageSource, image_tag
from bootstrap_flows.image.base import ResolvedBase
from bootstrap_flows.image.context import (
    CA_FILE,
    TAG_LENGTH,
    build_context,
    collect,
    content_hash,
    write_context,
)

from .conftest import copy_fixture

AMD64 = "linux/amd64"


def test_tag_follows_the_context(settings: BootstrapSettings, scratch: ImageSource) -> None:
    tag = image_tag(settings, scratch)
    assert len(tag) == TAG_LENGTH and int(tag, 16) >= 0
    assert image_tag(settings, scratch) == tag, "the same content must give the same tag"

    (scratch.directory / "hello.txt").write_text("changed\n")
    changed = image_tag(settings, scratch)
    assert changed != tag

    (scratch.directory / "README.md").write_text("docs are not image content\n")
    assert image_tag(settings, scratch) == changed

    assert image_tag(settings, scratch, {"GREETING": "hi"}) != changed

    (scratch.directory / "hello.txt").chmod(0o755)
    assert image_tag(settings, scratch) != changed, "the executable bit goes into the image"


def test_tag_covers_extra_folders(
    tmp_path: Path, settings: BootstrapSettings, scratch: ImageSource
) -> None:
    flows = tmp_path / "deployments"
    flows.mkdir()
    source = scratch.model_copy(update={"extra": {"deployments": flows}})
    empty = image_tag(settings, source)
    assert empty != image_tag(settings, scratch), "an extra folder is a directory of the image"
    (flows / "e2e.py").write_text("print('flow')\n")
    with_flow = image_tag(settings, source)
    assert with_flow != empty
    (flows / "__pycache__").mkdir()
    (flows / "__pycache__" / "e2e.cpython-311.pyc").write_bytes(b"\0")
    assert image_tag(settings, source) == with_flow, "bytecode is not flow code"


def test_the_two_architectures_never_share_a_tag(
    settings: BootstrapSettings, scratch: ImageSource
) -> None:
    arm = settings.model_copy(update={"cpu_architecture": "ARM64"})
    assert image_tag(arm, scratch) != image_tag(settings, scratch)
    assert build_context(arm, scratch, None).platform == "linux/arm64"
    assert build_context(settings, scratch, None).platform == AMD64


def test_tag_changes_with_each_build_arg_value(
    settings: BootstrapSettings, scratch: ImageSource
) -> None:
    tags = {
        image_tag(settings, scratch, args)
        for args in ({}, {"A": "1"}, {"A": "2"}, {"B": "1"}, {"A": "1", "B": "1"})
    }
    assert len(tags) == 5
    assert image_tag(settings, scratch, {"A": "1", "B": "2"}) == image_tag(
        settings, scratch, {"B": "2", "A": "1"}
    ), "the order build args are given in is not content"


def test_a_given_base_image_is_content_and_needs_no_engine(
    tmp_path: Path, settings: BootstrapSettings
) -> None:
    source = copy_fixture(tmp_path, "failing")  # FROM ${BASE_IMAGE}
    one = build_context(settings, source, {"BASE_IMAGE": "example/base:1"})
    two = build_context(settings, source, {"BASE_IMAGE": "example/base:2"})
    assert one.base is None and one.build_args == {"BASE_IMAGE": "example/base:1"}
    assert one.tag != two.tag
    assert one.tag == one.content_hash[:TAG_LENGTH]


def test_the_resolved_base_is_content() -> None:
    files = {"Dockerfile": (b"FROM ${BASE_IMAGE}\n", False)}
    args = {"BASE_IMAGE": "python:3.11"}
    pulled = ResolvedBase(ref="python:3.11", identity="digest:sha256:aaa")
    same = ResolvedBase(ref="python:3.11", identity="digest:sha256:aaa", local=True)
    repushed = ResolvedBase(ref="python:3.11", identity="digest:sha256:bbb")
    hashes = [
        content_hash(files, [], args, base, platform=AMD64)
        for base in (pulled, same, repushed, None)
    ]
    assert hashes[0] == hashes[1], "a base pulled since the last build is the same content"
    assert len({hashes[0], hashes[2], hashes[3]}) == 3


def test_hash_inputs_cannot_run_into_each_other() -> None:
    # Without length prefixes these two would feed the same bytes.
    one = content_hash({"ab": (b"c", False)}, [], {}, None, platform=AMD64)
    two = content_hash({"a": (b"bc", False)}, [], {}, None, platform=AMD64)
    assert one != two
    assert content_hash({}, ["deployments"], {}, None, platform=AMD64) != content_hash(
        {}, [], {}, None, platform=AMD64
    )


def test_collect_keeps_image_content_only(tmp_path: Path) -> None:
    root = tmp_path / "worker"
    for name, data in {
        "Dockerfile": "FROM scratch\n",
        "README.md": "docs\n",
        "NOTES.MD": "docs\n",
        "entrypoint.sh": "#!/bin/sh\n",
        "app/main.py": "print()\n",
        "app/README.md": "packaged docs\n",
        "app/main.pyc": "",
        "app/old.pyo": "",
        "app/__pycache__/main.cpython-311.pyc": "",
        ".git/HEAD": "ref\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(data)
    (root / "entrypoint.sh").chmod(0o755)

    files = collect(root)
    assert sorted(files) == ["Dockerfile", "app/README.md", "app/main.py", "entrypoint.sh"]
    assert files["entrypoint.sh"] == (b"#!/bin/sh\n", True)
    assert files["app/main.py"] == (b"print()\n", False)

    extra = collect(root, prefix="flows/")
    assert "flows/README.md" in extra, "docs in an extra folder are copied into the image"
    assert "flows/.git/HEAD" not in extra and "flows/app/main.pyc" not in extra


def test_collect_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert collect(tmp_path / "nowhere") == {}


def test_ca_bundle_goes_into_the_context_but_not_the_tag(
    tmp_path: Path, settings: BootstrapSettings, scratch: ImageSource
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    with_ca = settings.model_copy(update={"extra_ca_bundle": bundle})
    context = build_context(with_ca, scratch, None)
    assert context.ca_bundle == bundle.read_bytes()
    assert context.tag == image_tag(settings, scratch)


def test_unreadable_ca_bundle_names_the_setting(
    tmp_path: Path, settings: BootstrapSettings, scratch: ImageSource
) -> None:
    missing = settings.model_copy(update={"extra_ca_bundle": tmp_path / "gone.pem"})
    with pytest.raises(ImageBuildError, match=r"BOOTSTRAP_EXTRA_CA_BUNDLE.*gone\.pem") as caught:
        image_tag(missing, scratch)
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_no_dockerfile_is_a_build_error(tmp_path: Path, settings: BootstrapSettings) -> None:
    source = ImageSource(directory=tmp_path, extra={})
    with pytest.raises(ImageBuildError, match="no Dockerfile in"):
        image_tag(settings, source)


def test_written_context_is_what_was_hashed(
    tmp_path: Path, settings: BootstrapSettings, scratch: ImageSource
) -> None:
    flows = tmp_path / "deployments"
    flows.mkdir()
    (scratch.directory / "run.sh").write_text("#!/bin/sh\n")
    (scratch.directory / "run.sh").chmod(0o700)
    source = scratch.model_copy(update={"extra": {"deployments": flows}})
    context = build_context(settings, source, None)
    out = tmp_path / "out"
    out.mkdir()

    write_context(context, out)

    assert (out / "deployments").is_dir(), "an empty extra folder is still created"
    assert (out / "hello.txt").read_bytes() == (scratch.directory / "hello.txt").read_bytes()
    assert stat.S_IMODE(os.stat(out / "run.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(out / "hello.txt").st_mode) == 0o644
    assert (out / CA_FILE).read_bytes() == b"", "the Dockerfile copies it even when empty"

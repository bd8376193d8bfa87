"""Searching bytes, files, archives and streams for a secret, as is and in the encodings that
would hide it from a plain grep. Used by tests/integration/test_secret_leaks.py; tested on its
own by tests/support/tests/test_leak_search.py (a leak it cannot see is no proof).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import io
import itertools
import json
import os
import sqlite3
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


def encodings(value: str) -> dict[str, bytes]:
    """Byte patterns that give `value` away: as is, and base64 (standard and URL-safe) at each
    of the three alignments it can have inside a longer encoded text.

    Only the base64 digits made of `value`'s own bits are kept, so every base64 text that
    encodes something containing `value` contains one of the patterns.
    """
    raw = value.encode()
    found: dict[str, bytes] = {"as is": raw}
    for offset in range(3):
        first = -(-8 * offset // 6)  # the first digit with no bit of the padding before
        last = 8 * (offset + len(raw)) // 6  # past the last digit with no bit after
        for name, encode in (
            ("base64", base64.b64encode),
            ("base64url", base64.urlsafe_b64encode),
        ):
            digits = encode(b"\0" * offset + raw)[first:last]
            if digits not in found.values():
                found[f"{name}, offset {offset}"] = digits
    return found


@dataclass(frozen=True)
class Hit:
    place: str
    encoding: str

    def __str__(self) -> str:
        return f"{self.place} [{self.encoding}]"


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterable of byte chunks (a Docker `save` stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def reader(chunks: Iterable[bytes]) -> io.BufferedReader:
    return io.BufferedReader(_ChunkReader(chunks), buffer_size=CHUNK)


def _is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


class Scanner:
    """Looks for the patterns in bytes, files, directory trees, tar streams and SQLite files."""

    def __init__(self, patterns: Mapping[str, bytes]) -> None:
        self.patterns = dict(patterns)
        self.overlap = max(len(p) for p in self.patterns.values()) - 1
        self.unreadable: list[str] = []  # compressed data that did not decompress to the end
        self.files = 0

    def chunks(self, place: str, chunks: Iterable[bytes]) -> list[Hit]:
        found: dict[str, None] = {}
        tail = b""
        for chunk in chunks:
            window = tail + chunk
            for name, pattern in self.patterns.items():
                if name not in found and pattern in window:
                    found[name] = None
            tail = window[-self.overlap :] if self.overlap else b""
        return [Hit(place, name) for name in found]

    def data(self, place: str, data: bytes | str) -> list[Hit]:
        return self.chunks(place, [data.encode() if isinstance(data, str) else data])

    def json(self, place: str, value: Any) -> list[Hit]:
        return self.data(place, json.dumps(value, default=str))

    def stream(self, place: str, stream: IO[bytes]) -> list[Hit]:
        def read() -> Iterator[bytes]:
            try:
                yield from iter(lambda: stream.read(CHUNK), b"")
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                self.unreadable.append(f"{place}: {type(exc).__name__}: {exc}")

        return self.chunks(place, read())

    def file(self, path: Path) -> list[Hit]:
        """The file's bytes; and a zip's members (Terraform plan files: deflated) or a gzip's
        content (registry blobs) decompressed."""
        self.files += 1
        with path.open("rb") as raw:
            head = raw.read(4)
            raw.seek(0)
            hits = self.stream(str(path), raw)
        if head.startswith(ZIP_MAGIC):
            try:
                with zipfile.ZipFile(path) as archive:
                    for info in archive.infolist():
                        with archive.open(info) as member:
                            hits += self.stream(f"{path} (zip member {info.filename})", member)
            except zipfile.BadZipFile as exc:
                self.unreadable.append(f"{path}: {exc}")
        elif head.startswith(GZIP_MAGIC):
            with gzip.open(path) as unzipped:
                hits += self.stream(f"{path} (gunzipped)", unzipped)
        return hits

    def tree(self, root: Path, skip: Callable[[Path], bool] = lambda path: False) -> list[Hit]:
        """Every regular file under `root`; symbolic links are not followed (Terraform links
        its providers from the mirror)."""
        hits: list[Hit] = []
        for folder, _, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                if path.is_symlink() or not path.is_file() or skip(path):
                    continue
                with contextlib.suppress(FileNotFoundError):  # gone while we walked
                    hits += self.file(path)
        return hits

    def tar(self, place: str, stream: IO[bytes], depth: int = 0) -> list[Hit]:
        """Each file of a tar stream; a member that is itself a tar (an image layer, plain or
        gzipped) is searched file by file."""
        hits: list[Hit] = []
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for member in archive:
                content = archive.extractfile(member) if member.isfile() else None
                if content is None:
                    hits += self.data(f"{place}: {member.name} (entry)", member.name)
                    continue
                self.files += 1
                head = content.read(512)
                rest = reader(
                    itertools.chain([head], iter(functools.partial(content.read, CHUNK), b""))
                )
                where = f"{place}: {member.name}"
                # Layers are searched file by file; a compressed file inside one is not opened.
                if depth == 0 and (_is_tar(head) or head.startswith(GZIP_MAGIC)):
                    try:
                        hits += self.tar(where, rest, depth + 1)
                    except tarfile.ReadError as exc:
                        self.unreadable.append(f"{where}: {exc}")
                else:
                    hits += self.stream(where, rest)
        return hits

    def sqlite(self, place: str, path: Path) -> list[Hit]:
        """Every text and blob value of every table, named by table and column."""
        hits: set[Hit] = set()
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = [
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                cursor = db.execute(f'SELECT * FROM "{table}"')
                columns = [column[0] for column in cursor.description]
                for row in cursor:
                    for column, value in zip(columns, row, strict=True):
                        if isinstance(value, str | bytes):
                            hits.update(
                                self.data(f"{place}: table {table}, column {column}", value)
                            )
        return sorted(hits, key=str)


def no_hits(hits: Iterable[Hit], what: str) -> str:
    listed = "\n  ".join(sorted({str(hit) for hit in hits}))
    return f"the worker's Prefect credential leaked into {what}:\n  {listed}"


# --- the environment ---------------------------------------------------------------------------

"""BagIt directories (RFC 8493): how exports are packaged and how an import checks one.

A bag is a directory that says what it holds and proves it: ``bagit.txt``,
``bag-info.txt``, the payload under ``data/`` and a SHA-256 manifest of every
file, readable by archivists' tools without eprotocol. This module is the only
one that imports ``bagit`` (the Library of Congress's implementation).

Bags are written here, not with ``bagit.make_bag``: that changes the process's
working directory while it works, which is unsafe in a threaded server, and
hashes every file a second time. Every bag written is then validated with
``bagit`` before it is moved into place, and every bag read is validated with
``bagit`` before anything in it is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import bagit

from eprotocol.core.errors import Conflict, InvalidTransfer
from eprotocol.storage.local import fsync_directory

_ENCODING = "utf-8"


class BagWriter:
    """Builds a bag beside ``directory`` and moves it there only once it is whole and valid.

    Use as a context manager: a failure inside the block removes the partial bag,
    so a half-written export never looks like an export.
    """

    def __init__(self, directory: Path) -> None:
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise Conflict(f"{directory} already exists; an export needs a new directory")
        directory.parent.mkdir(parents=True, exist_ok=True)
        self._final = directory
        self._root = directory.with_name(f".{directory.name}.partial-{uuid.uuid4().hex[:8]}")
        (self._root / "data").mkdir(parents=True)
        self._manifest: dict[str, str] = {}
        self._octets = 0

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def add(self, path: str, chunks: Iterable[bytes]) -> str:
        """Write a payload file ``data/<path>`` from ``chunks``; return its SHA-256."""
        target = self._root / "data" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with target.open("xb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
                self._octets += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        self._manifest[f"data/{path}"] = digest.hexdigest()
        return digest.hexdigest()

    def add_json_lines(self, path: str, records: Iterable[Any]) -> int:
        """Write ``records`` as JSON Lines (UTF-8, one record a line); return how many."""
        count = 0

        def lines() -> Iterator[bytes]:
            nonlocal count
            for record in records:
                count += 1
                yield (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode()

        self.add(path, lines())
        return count

    def add_json(self, path: str, value: Any) -> None:
        """Write ``value`` as one indented JSON document."""
        self.add(path, [json.dumps(value, ensure_ascii=False, indent=2).encode()])

    def finish(self, info: Mapping[str, str]) -> None:
        """Write the tag files, validate the bag with bagit and move it into place."""
        tags = {
            "bagit.txt": "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
            "bag-info.txt": "".join(
                f"{name}: {value}\n"
                for name, value in {
                    **info,
                    "Bagging-Date": datetime.now(UTC).date().isoformat(),
                    "Payload-Oxum": f"{self._octets}.{len(self._manifest)}",
                }.items()
            ),
            "manifest-sha256.txt": "".join(
                f"{sha}  {path}\n" for path, sha in sorted(self._manifest.items())
            ),
        }
        for name, text in tags.items():
            (self._root / name).write_text(text, encoding=_ENCODING)
        (self._root / "tagmanifest-sha256.txt").write_text(
            "".join(
                f"{hashlib.sha256(text.encode(_ENCODING)).hexdigest()}  {name}\n"
                for name, text in sorted(tags.items())
            ),
            encoding=_ENCODING,
        )
        _check(self._root)
        if self._final.exists():
            self._final.rmdir()  # empty (checked when this writer was made)
        self._root.rename(self._final)
        fsync_directory(self._final.parent)


class BagReader:
    """A bag that has passed bagit's full validation (every file re-hashed)."""

    def __init__(self, directory: Path) -> None:
        self.info = _check(directory)
        self._data = directory / "data"

    def _path(self, path: str) -> Path:
        target = self._data / path
        if not target.is_file():
            raise InvalidTransfer(f"the export has no file data/{path}")
        return target

    def open(self, path: str) -> IO[bytes]:
        """The payload file ``data/<path>`` for reading."""
        return self._path(path).open("rb")

    def json(self, path: str) -> Any:
        """The JSON document ``data/<path>``."""
        try:
            return json.loads(self._path(path).read_text(encoding=_ENCODING))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidTransfer(f"data/{path} is not JSON: {exc}") from exc

    def json_lines(self, path: str) -> Iterator[Any]:
        """The records of the JSON Lines file ``data/<path>``."""
        with self._path(path).open("rb") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    record = json.loads(line.decode(_ENCODING))
                except ValueError as exc:  # UnicodeDecodeError too
                    raise InvalidTransfer(f"data/{path} line {number} is not JSON: {exc}") from exc
                yield record


def _check(directory: Path) -> dict[str, str]:
    """Validate a bag completely; return its bag-info fields."""
    if not (directory / "bagit.txt").is_file():
        raise InvalidTransfer(f"{directory} is not an export: it has no bagit.txt")
    try:
        bag = bagit.Bag(str(directory))
        bag.validate()
    except bagit.BagError as exc:
        details = "; ".join(str(d) for d in getattr(exc, "details", ())[:3])
        raise InvalidTransfer(
            f"{directory} is not a whole, unchanged export: {exc}{': ' if details else ''}{details}"
        ) from exc
    return {name: str(value) for name, value in bag.info.items()}

"""Writing files whole or not at all, and JSON as the program writes it everywhere.

Every write goes to a hidden temporary file in the target's folder (same file system, so
``os.replace`` is an atomic rename), is flushed to disk, and only then renamed onto the
target: a full disk, a crash or an interruption leaves the old file or the new one, never a
truncated one, and any failure removes the temporary file. Light to import.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

# A temporary file's name: the target's, hidden, a random part, and the target's last suffix
# (converters and Keras check the suffix of the path they are given).
TEMPORARY_NAME = re.compile(r"\.(?P<target>.+)\.[0-9a-f]{32}\.tmp(?P<suffix>\.[^.]*)?")


def temporary_path(target: Path) -> Path:
    """A new hidden name beside ``target`` for its temporary file, ending in its suffix."""
    return target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp{target.suffix}"


def temporary_target(name: str) -> str | None:
    """The target's file name if ``name`` is one of ``temporary_path``'s names, else None."""
    match = TEMPORARY_NAME.fullmatch(name)
    if match is None or (match["suffix"] or "") != Path(match["target"]).suffix:
        return None
    return match["target"]


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def discard(temporary: Iterable[Path]) -> None:
    """Removes the temporary files that exist; one that cannot be removed is left."""
    for path in temporary:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def rename_into_place(moves: Sequence[tuple[Path, Path]]) -> None:
    """Flushes each ``(temporary, target)`` file to disk and renames it onto its target, in
    the order given: a later file is in place only if every earlier one is. A failure
    removes the temporary files not yet renamed.
    """
    done = 0
    try:
        for path, _ in moves:
            _fsync(path)
        for path, target in moves:
            os.replace(path, target)
            done += 1
    except BaseException:
        discard(path for path, _ in moves[done:])
        raise
    for folder in {target.parent for _, target in moves}:
        # A rename reaches the disk with its folder; where a file system cannot flush a
        # folder, the files are whole all the same.
        with contextlib.suppress(OSError):
            _fsync(folder)


@contextlib.contextmanager
def atomic_paths(*targets: Path) -> Iterator[list[Path]]:
    """Temporary paths beside ``targets``, for writers that want a path (``model.save``, a
    converter); on a clean exit they replace their targets as ``rename_into_place`` does, on
    an exception they are removed and the targets are left as they were.
    """
    temporary = [temporary_path(Path(target)) for target in targets]
    try:
        yield temporary
    except BaseException:
        discard(temporary)
        raise
    rename_into_place(
        [(path, Path(target)) for path, target in zip(temporary, targets, strict=True)]
    )


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path that replaces ``target`` on a clean exit (see ``atomic_paths``)."""
    with atomic_paths(target) as (path,):
        yield path


def write_atomic(target: Path, data: bytes | str, encoding: str = "utf-8") -> None:
    """Replaces ``target`` with ``data`` (text is encoded), whole or not at all."""
    content = data.encode(encoding) if isinstance(data, str) else data
    with atomic_path(target) as path:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as f:
            f.write(content)


def json_text(data: Any) -> str:
    """``data`` as the program's JSON files hold it: indented by 2, keys in the order given
    (a record's fields read in the order it declares them), one final newline."""
    return json.dumps(data, indent=2) + "\n"


def write_json(data: Any, path: Path) -> None:
    """Writes ``data`` (a JSON value, or a report with ``to_dict()``) to ``path`` as
    ``json_text`` does, creating its folder, whole or not at all."""
    value = data.to_dict() if hasattr(data, "to_dict") else data
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json_text(value))

"""study.files: a file is replaced whole or not at all, and no temporary file is left."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import study.files
from study.files import (
    atomic_path,
    atomic_paths,
    json_text,
    temporary_path,
    temporary_target,
    write_atomic,
    write_json,
)


class _Full(OSError):
    def __init__(self) -> None:
        super().__init__(errno.ENOSPC, "No space left on device")


class _FailingOS:
    """``os`` as study.files sees it, failing its ``fail_at``-th step (open, write, flush to
    disk, close, rename) with a full disk; a failed write writes half its bytes first."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at, self.steps = fail_at, 0

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    def step(self) -> bool:
        self.steps += 1
        return self.steps == self.fail_at

    def open(self, *args: object, **kwargs: object) -> int:
        if self.step():
            raise _Full
        return os.open(*args, **kwargs)  # type: ignore[arg-type]

    def fsync(self, descriptor: int) -> None:
        if self.step():
            raise _Full
        os.fsync(descriptor)

    def close(self, descriptor: int) -> None:
        os.close(descriptor)
        if self.step():
            raise _Full

    def replace(self, source: Path, target: Path) -> None:
        if self.step():
            raise _Full
        os.replace(source, target)

    def fdopen(self, descriptor: int, mode: str) -> _FailingFile:
        return _FailingFile(os.fdopen(descriptor, mode), self)


class _FailingFile:
    def __init__(self, file: object, failing: _FailingOS) -> None:
        self.file, self.failing = file, failing

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()  # type: ignore[attr-defined]

    def write(self, data: bytes) -> int:
        if self.failing.step():
            self.file.write(data[: len(data) // 2])  # type: ignore[attr-defined]
            self.file.flush()  # type: ignore[attr-defined]
            raise _Full
        return self.file.write(data)  # type: ignore[attr-defined,no-any-return]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old=st.none() | st.binary(max_size=64),
    new=st.binary(max_size=64) | st.text(max_size=32),
    fail_at=st.integers(min_value=1, max_value=12),  # past the last step: no failure
)
def test_a_failure_at_any_step_leaves_the_old_or_the_new_file_and_no_temporary(
    tmp_path, monkeypatch, old, new, fail_at
):
    folder = tmp_path / f"case-{os.urandom(4).hex()}"
    folder.mkdir()
    target = folder / "record.json"
    if old is not None:
        target.write_bytes(old)
    new_bytes = new.encode() if isinstance(new, str) else new
    failing = _FailingOS(fail_at)
    monkeypatch.setattr(study.files, "os", failing)
    try:
        write_atomic(target, new)
        failed = False
    except _Full:
        failed = True
    finally:
        monkeypatch.undo()
    now = target.read_bytes() if target.exists() else None
    assert now in ({old, new_bytes} if failed else {new_bytes})
    assert [p.name for p in folder.iterdir()] == ([] if now is None else ["record.json"])
    if fail_at > failing.steps:
        assert not failed and now == new_bytes


def test_a_writer_that_fails_leaves_the_target_and_no_temporary(tmp_path):
    target = tmp_path / "best_model.keras"
    target.write_bytes(b"good model")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as path:
        path.write_bytes(b"half a mod")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"good model"
    assert [p.name for p in tmp_path.iterdir()] == ["best_model.keras"]


def test_a_writer_gets_a_hidden_path_beside_the_target_with_its_suffix(tmp_path):
    target = tmp_path / "model.onnx"
    with atomic_path(target) as path:
        assert path.parent == tmp_path and path.name.startswith(".") and path.suffix == ".onnx"
        path.write_bytes(b"onnx")
    assert target.read_bytes() == b"onnx" and not path.exists()


def test_a_writer_that_writes_nothing_fails_and_leaves_the_target(tmp_path):
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError), atomic_path(target):
        pass
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_a_group_renames_in_order_and_a_failed_rename_removes_the_rest(tmp_path, monkeypatch):
    first, second = tmp_path / "best_model.keras", tmp_path / "best_model.json"
    second.write_text("old record")
    renames = []
    real_replace = os.replace

    def replace(source: Path, target: Path) -> None:
        renames.append(Path(target).name)
        if Path(target) == second:
            raise _Full
        real_replace(source, target)

    monkeypatch.setattr(study.files.os, "replace", replace)
    with pytest.raises(_Full), atomic_paths(first, second) as (model, record):
        model.write_text("new model")
        record.write_text("new record")
    assert renames == ["best_model.keras", "best_model.json"]
    assert first.read_text() == "new model" and second.read_text() == "old record"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_model.json", "best_model.keras"]


def test_temporary_names_lead_back_to_their_target_and_nothing_else_does(tmp_path):
    for name in ("best_model.keras", "retrain.json", "report.es.html", "README"):
        assert temporary_target(temporary_path(tmp_path / name).name) == name
    for name in ("best_model.keras", ".best_model.keras.tmp.keras", ".a.json.abc.tmp.json"):
        assert temporary_target(name) is None
    assert temporary_target(f".a.json.{'0' * 32}.tmp.keras") is None  # suffix not the target's


def test_json_is_indented_in_the_given_key_order_with_a_final_newline():
    assert (
        json_text({"b": 1, "a": [1, "é"]})
        == '{\n  "b": 1,\n  "a": [\n    1,\n    "\\u00e9"\n  ]\n}\n'
    )


class _Report:
    def to_dict(self) -> dict[str, int]:
        return {"trials": 3}


@pytest.mark.parametrize("data", [{"trials": 3}, _Report()], ids=["value", "report"])
def test_write_json_writes_a_value_or_a_report_and_makes_its_folder(tmp_path, data):
    path = tmp_path / "bench" / "out.json"
    write_json(data, path)
    assert path.read_text() == '{\n  "trials": 3\n}\n'
    assert os.listdir(path.parent) == ["out.json"]

"""Choosing the backend and the GPUs of a run; GPU-only behaviour checked with stand-ins."""

from __future__ import annotations

import io
import json
import os
from dataclasses import replace

import optuna
import pytest

from study.cli import main
from study.devices import check_devices, parse_devices, select_backend, worker_environment
from study.errors import StudyError, UsageError
from study.settings import STORAGE_ENV, RunSettings

TINY = ["--quick", "--n-trials", "2", "--epochs", "1", "--workers", "1"]


def _where(tmp_path) -> list[str]:
    return ["--storage", f"sqlite:///{tmp_path / 'db.sqlite'}", "--results-dir", str(tmp_path)]


def test_workers_take_the_gpus_in_turn_and_share_their_memory(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    envs = [worker_environment("jax", (0, 1), 3, index) for index in range(3)]
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == ["0", "1", "0"]
    # GPU 0 has two workers, GPU 1 one: each may take its share of 90% of its GPU.
    assert [env["XLA_PYTHON_CLIENT_MEM_FRACTION"] for env in envs] == ["0.450", "0.900", "0.450"]
    assert all(env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" for env in envs)
    assert all(env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for env in envs)
    assert all(env["KERAS_BACKEND"] == "jax" for env in envs)


def test_gpu_indexes_map_through_the_supervisors_own_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    assert worker_environment("tensorflow", (1,), 2, 1)["CUDA_VISIBLE_DEVICES"] == "6"


def test_without_gpus_workers_get_only_the_backend():
    assert worker_environment("tensorflow", (), 2, 1) == {"KERAS_BACKEND": "tensorflow"}


@pytest.mark.parametrize(
    ("devices", "visible", "message"),
    [((0,), 0, "no GPU is visible"), ((0, 2), 2, "no GPU 2 here")],
    ids=["no-gpu", "missing-gpu"],
)
def test_devices_that_are_not_there_are_refused(devices, visible, message):
    with pytest.raises(UsageError, match=message):
        check_devices(devices, visible)


def test_devices_default_to_every_visible_gpu():
    assert check_devices(None, 2) == (0, 1)
    assert check_devices(None, 0) == ()
    assert parse_devices("0,1,1") == (0, 1, 1)
    with pytest.raises(ValueError, match="GPU indexes"):
        parse_devices("0,-1")


@pytest.mark.parametrize(
    ("argv", "env", "code", "message"),
    [
        (["--devices", "3"], {}, 2, "--devices 3: no GPU is visible on this machine"),
        (["--backend", "torch"], {}, 2, "'torch' is not supported; use --backend tensorflow or"),
        # The environment, not an argument: exit 1, as for a backend that is not installed.
        ([], {"KERAS_BACKEND": "torch"}, 1, "'torch' (KERAS_BACKEND) is not supported; set KERAS"),
    ],
    ids=["devices-here", "torch-option", "torch-environment"],
)
def test_a_device_or_backend_this_machine_cannot_use_exits_with_one_line(
    tmp_path, capsys, monkeypatch, argv, env, code, message
):
    import study.devices

    monkeypatch.setattr(study.devices, "_nvidia_device_files", lambda: False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["run", *TINY, *argv, *_where(tmp_path)]) == code
    err = capsys.readouterr().err.strip()
    assert err == f"lenet-study: error: {err.removeprefix('lenet-study: error: ')}"
    assert message in err and "\n" not in err
    assert not (tmp_path / "db.sqlite").exists()


def test_a_backend_that_is_not_installed_exits_1_naming_the_install(tmp_path, capsys, monkeypatch):
    import lenet.backends

    monkeypatch.setattr(lenet.backends, "installed", lambda name: False)
    assert main(["run", *TINY, "--backend", "jax", *_where(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "lenet-study: error: the jax backend is not installed: pip install 'lenet-study[jax]'"
    )


@pytest.mark.slow
def test_a_trial_out_of_gpu_memory_fails_with_its_reason_and_the_study_goes_on(
    tmp_path, capsys, monkeypatch
):
    import study.objective
    from lenet import OutOfDeviceMemory

    def out_of_memory(*args, **kwargs):
        raise OutOfDeviceMemory("out of GPU memory at batch size 128; run fewer workers")

    monkeypatch.setattr(study.objective, "train", out_of_memory)
    assert main(["run", *TINY, *_where(tmp_path)]) == 0
    assert capsys.readouterr().out.count("failed: out of GPU memory") == 2
    study = optuna.load_study(
        study_name="lenet5-fashion-mnist", storage=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    assert study.trials[1].user_attrs["end"].startswith("failed: out of GPU memory")


# keras.json files Keras stops on at import (or, not JSON, silently ignores): the message.
BAD_KERAS_JSON = {
    "not-json": ("{backend: jax", "is not valid JSON (Expecting property name"),
    "empty": ("", "is not valid JSON"),
    "nested-too-deep": ("[" * 100_000 + "]" * 100_000, "is not valid JSON"),
    "list": ("[1, 2]", "holds a JSON list, not an object"),
    "string": ('"jax"', "holds a JSON str, not an object"),
    "floatx": ('{"floatx": "float8"}', "\"floatx\" is 'float8', not one of float16"),
    "epsilon-int": ('{"epsilon": 1}', '"epsilon" is 1, not a decimal number'),
    "data-format": ('{"image_data_format": "nhwc"}', "\"image_data_format\" is 'nhwc'"),
    "backend-number": ('{"backend": 5}', '"backend" is 5, not a backend name'),
    "backend-empty": ('{"backend": ""}', "\"backend\" is '', not a backend name"),
    "backend-unknown": ('{"backend": "nope"}', "'nope' (\"backend\" in "),
}


@pytest.mark.parametrize(("text", "message"), BAD_KERAS_JSON.values(), ids=list(BAD_KERAS_JSON))
def test_a_keras_json_keras_cannot_use_is_one_line_naming_the_file(
    tmp_path, monkeypatch, text, message
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    (tmp_path / "keras.json").write_text(text)
    with pytest.raises(StudyError) as raised:
        select_backend()
    assert message in str(raised.value)
    assert str(tmp_path / "keras.json") in str(raised.value)
    assert "\n" not in str(raised.value)
    assert "KERAS_BACKEND" not in os.environ
    assert (tmp_path / "keras.json").read_text() == text


def test_a_keras_json_that_is_a_folder_cannot_be_read(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "keras.json").mkdir()
    with pytest.raises(StudyError, match=r"cannot read Keras' settings file .*: Is a directory"):
        select_backend()


@pytest.mark.parametrize(
    ("text", "env"),
    [
        (None, None),  # none yet: Keras writes its default
        (
            '{"floatx": "float32", "epsilon": 1e-07, "backend": "tensorflow", '
            '"image_data_format": "channels_last"}',
            None,
        ),  # the file Keras itself writes
        ('{"backend": "tensorflow", "nnx_enabled": false, "other": [1]}', None),
        ('{"backend": "nope"}', "tensorflow"),  # KERAS_BACKEND wins, as in Keras
        ('{"backend": 5}', "tensorflow"),
    ],
    ids=["missing", "keras-default", "extra-keys", "env-over-unknown", "env-over-number"],
)
def test_a_keras_json_keras_accepts_is_accepted(tmp_path, monkeypatch, text, env):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    if env is None:
        monkeypatch.delenv("KERAS_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KERAS_BACKEND", env)
    if text is not None:
        (tmp_path / "keras.json").write_text(text)
    assert select_backend() == "tensorflow"


def test_backend_given_overrides_a_keras_json_backend_keras_would_refuse(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    (tmp_path / "keras.json").write_text('{"backend": 5}')
    assert select_backend("tensorflow") == "tensorflow"  # sets KERAS_BACKEND, as Keras reads
    monkeypatch.delenv("KERAS_BACKEND")
    with pytest.raises(StudyError, match='"backend" is 5'):
        select_backend()


def test_a_configured_backend_that_is_not_installed_names_the_other(monkeypatch):
    import lenet.backends

    monkeypatch.setattr(lenet.backends, "installed", lambda name: name != "jax")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.raises(StudyError) as raised:
        select_backend()
    assert str(raised.value) == (
        "the jax backend is not installed: pip install 'lenet-study[jax]', "
        "or set KERAS_BACKEND=tensorflow"
    )


class _RecordedWorker:
    """A worker process stand-in that records its environment and ends at once."""

    envs: list[dict[str, str]] = []  # noqa: RUF012 (reset by each test)

    def __init__(self, argv: list[str], env: dict[str, str], **kwargs: object) -> None:
        from study.cli import build_parser

        args = build_parser().parse_args(argv[3:])  # after `python -m study.cli`
        optuna.create_study(
            study_name=args.study_name, storage=env[STORAGE_ENV], load_if_exists=True
        )  # for the supervisor's summary
        _RecordedWorker.envs.append(env)
        self.returncode = 0

    def poll(self) -> int:
        return 0

    def send_signal(self, signum: int) -> None:
        pass


def test_run_spreads_its_workers_over_the_gpus_it_finds(tmp_path, monkeypatch):
    import study.runner
    import study.workers

    monkeypatch.setattr(study.runner, "gpu_count", lambda backend: 2)
    monkeypatch.setattr(study.workers.subprocess, "Popen", _RecordedWorker)
    monkeypatch.setattr(_RecordedWorker, "envs", [])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    settings = RunSettings(
        storage=f"sqlite:///{tmp_path / 'db.sqlite'}",
        results_dir=tmp_path,
        n_trials=4,
        trials_per_process=None,  # one process per worker: the stand-ins add no trials
    )
    assert study.runner.run(replace(settings, workers=4, backend="jax"), out=io.StringIO()) == 0
    assert [env["CUDA_VISIBLE_DEVICES"] for env in _RecordedWorker.envs] == ["0", "1", "0", "1"]
    assert {env["KERAS_BACKEND"] for env in _RecordedWorker.envs} == {"jax"}
    _RecordedWorker.envs.clear()
    # Another study: the stand-ins store no manifest, and a study without one is refused.
    second = replace(settings, workers=2, devices=(1,), study_name="second")
    assert study.runner.run(second, out=io.StringIO()) == 0
    assert [env["CUDA_VISIBLE_DEVICES"] for env in _RecordedWorker.envs] == ["1", "1"]


@pytest.mark.slow
def test_a_jax_study_never_loads_tensorflow_and_records_its_backend(tmp_path, fresh_python):
    pytest.importorskip("jax")
    code = f"""
        import sys
        import optuna
        from study.cli import main
        code = main(["run", "--quick", "--n-trials", "1", "--epochs", "1", "--workers", "1",
                     "--backend", "jax", "--storage", "sqlite:///{tmp_path / "db.sqlite"}",
                     "--results-dir", "{tmp_path}"])
        study = optuna.load_study(study_name="lenet5-fashion-mnist",
                                  storage="sqlite:///{tmp_path / "db.sqlite"}")
        manifest = study.user_attrs["manifest"]
        print(code, "tensorflow" in sys.modules, study.trials[0].user_attrs["backend"],
              manifest["backend"], manifest["versions"]["backend"],
              "jax" in manifest["versions"], "tensorflow" in manifest["versions"])
    """
    last = fresh_python(code, "tensorflow").split()
    assert last == ["0", "False", "jax", "jax", "jax", "True", "False"]


# keras.json files, and whether Keras itself, imported, stops on each or ignores it.
KERAS_JSON_AT_START = {
    "not-json": ("{backend: jax", "is not valid JSON", "imports"),  # Keras ignores it silently
    "list": ("[]", "holds a JSON list, not an object", "AttributeError"),
    "backend-unknown": ('{"backend": "nope"}', "'nope' (\"backend\" in ", "ValueError"),
    "epsilon-int": ('{"epsilon": 1}', '"epsilon" is 1, not a decimal number', "ValueError"),
    "folder": (None, "keras.json: Is a directory", "IsADirectoryError"),
}
KERAS_STARTING_COMMANDS = {
    "run": ["run", "--quick", "--workers", "1", "--results-dir", "res"],
    "export": ["export", "--results-dir", "res"],
    "evaluate": ["evaluate", "--model", "model.keras"],
    "predict": ["predict", "--model", "model.keras", "photo.png"],
    "report": ["report", "--results-dir", "res", "--no-pdf"],
    "bench": ["bench", "--quick"],
}


def _start_with_keras_json(fresh_python, tmp_path, text, argv) -> list:
    """Runs the command line in a fresh process with ``KERAS_HOME`` holding ``text`` as
    keras.json (None: a folder); then imports Keras there. Returns the exit code, stderr,
    whether Keras was loaded before that import, and what the import did."""
    home, work = tmp_path / "keras_home", tmp_path / "work"
    work.mkdir()
    home.mkdir()
    if text is None:
        (home / "keras.json").mkdir()
    else:
        (home / "keras.json").write_text(text)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = f"""
        import contextlib, io, json, os, sys
        os.environ.pop("KERAS_BACKEND")
        os.environ["KERAS_HOME"] = {str(home)!r}
        os.chdir({str(work)!r})
        from study.cli import main
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main({argv!r})
        loaded = "keras" in sys.modules
        try:
            import keras
            keras_did = "imports"
        except Exception as exc:
            keras_did = type(exc).__name__
        print(json.dumps([code, err.getvalue(), loaded, keras_did]))
    """
    result = json.loads(fresh_python(code, "tensorflow", timeout=300))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
    if text is not None:
        assert (home / "keras.json").read_text() == text
    return result


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "message", "keras_did"), KERAS_JSON_AT_START.values(), ids=list(KERAS_JSON_AT_START)
)
def test_a_bad_keras_json_is_one_line_before_keras_starts(
    fresh_python, tmp_path, text, message, keras_did
):
    code, err, loaded, did = _start_with_keras_json(
        fresh_python, tmp_path, text, KERAS_STARTING_COMMANDS["evaluate"]
    )
    assert (code, loaded, did) == (1, False, keras_did)
    assert err.startswith("lenet-study: error: ") and err.count("\n") == 1
    assert message in err


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv", KERAS_STARTING_COMMANDS.values(), ids=list(KERAS_STARTING_COMMANDS)
)
def test_every_command_that_starts_keras_checks_keras_json_first(fresh_python, tmp_path, argv):
    code, err, loaded, _ = _start_with_keras_json(fresh_python, tmp_path, "[]", argv)
    assert (code, loaded) == (1, False)
    assert err == (
        f"lenet-study: error: Keras' settings file {tmp_path / 'keras_home' / 'keras.json'} "
        'holds a JSON list, not an object such as {"backend": "tensorflow"}; fix it, or '
        "delete it and Keras writes a default one\n"
    )

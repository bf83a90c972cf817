"""``lenet-study bench --section speed``: every path timed on the backend Keras runs on; the
figures follow from the recorded seconds. Times are never asserted."""

from __future__ import annotations

import json
import math
import statistics

import keras
import pytest

from lenet import TrainConfig
from study.cli import main

TINY = ["--train-limit", "512", "--rounds", "2"]  # 4 steps per epoch


def _paths_here() -> set[str]:
    """The reference, lenet.train's path, and on JAX its other path."""
    if keras.backend.backend() != "jax":
        return {"reference", "ours"}
    from lenet.backends.jax import uses_compiled_epochs

    return {
        "reference",
        "ours",
        "numpy_batches" if uses_compiled_epochs(TrainConfig()) else "compiled_epochs",
    }


@pytest.mark.slow
@pytest.mark.backends
def test_speed_times_every_path_and_derives_its_figures_from_the_seconds(tmp_path, capsys):
    path = tmp_path / "speed.json"
    assert main(["bench", "--section", "speed", *TINY, "--json", str(path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(path.read_text())
    backend = keras.backend.backend()
    machine = report["machine"]
    assert (report["section"], machine["backend"]) == ("speed", backend)
    assert machine[backend] and machine["keras"] == keras.__version__
    assert machine["device"] and machine["device"] in out

    t = report["throughput"]
    assert (t["images"], t["rounds"], t["batch_size"]) == (512, 2, 128)
    names = _paths_here()
    assert set(t["paths"]) == names
    for key in ("seconds", "first_epoch_seconds", "median_seconds", "speedups"):
        assert set(t[key]) == names, key
    assert (t["ceiling_images_per_second"], t["ceiling_speedup"]) == (None, None)
    reference = t["seconds"]["reference"]
    for name in names:
        seconds = t["seconds"][name]
        assert len(seconds) == 2 and all(math.isfinite(s) and s > 0 for s in seconds), name
        assert t["first_epoch_seconds"][name] > 0
        assert t["median_seconds"][name] == pytest.approx(statistics.median(seconds))
        ratios = [r / s for r, s in zip(reference, seconds, strict=True)]
        assert t["speedups"][name] == pytest.approx(statistics.median(ratios))
        assert any(line.startswith(name) for line in out.splitlines()), name
    assert t["speedup"] == t["speedups"]["ours"]
    assert t["ours_images_per_second"] == pytest.approx(512 / t["median_seconds"]["ours"])


@pytest.mark.slow
def test_speed_on_jax_never_imports_tensorflow(tmp_path, fresh_python):
    pytest.importorskip("jax")
    path = tmp_path / "speed.json"
    code = f"""
        import json, sys
        from study.cli import main
        code = main(["bench", "--section", "speed", "--train-limit", "256", "--rounds", "1",
                     "--json", "{path}"])
        print(code, "tensorflow" in sys.modules, json.load(open("{path}"))["machine"]["backend"])
    """
    assert fresh_python(code, "jax").split() == ["0", "False", "jax"]


_LIMIT_SECTIONS = "bench peers or bench front or bench speed"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rounds", "2"], "--rounds: only with bench speed or bench predict"),
        (["--train-limit", "100"], f"--train-limit: only with {_LIMIT_SECTIONS}"),
        (["speed", "--budget", "10"], "--budget: only with bench peers"),
        (["--section", "peers", "--rounds", "2"], "--rounds: only with bench speed"),
        (["predict", "--train-limit=5"], f"--train-limit: only with {_LIMIT_SECTIONS}"),
    ],
)
def test_options_of_another_section_exit_2_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["bench", *argv])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def test_the_cost_section_on_another_backend_points_to_the_speed_section(monkeypatch, capsys):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # as in a process started on JAX
    assert main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "KERAS_BACKEND=tensorflow" in err and "bench speed" in err

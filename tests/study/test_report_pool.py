"""Retraining in worker processes: the same runs, in the same order, as in this process."""

from __future__ import annotations

import pytest

import study.devices
from lenet import ModelConfig, TrainConfig
from study.report.pool import default_workers
from study.report.retrain import RetrainSettings, retrain

SETTINGS = RetrainSettings(
    baseline_model=ModelConfig.classic(),
    baseline_train=TrainConfig(),
    best_model=ModelConfig(c1_filters=8, c3_filters=12),
    best_train=TrainConfig(batch_size=64),
    seeds=(0, 1),
    epochs=1,
    train_limit=1000,
    test_limit=500,
)


@pytest.mark.slow
def test_processes_return_every_run_in_seed_order_like_this_process(fashion, capfd):
    lines: list[str] = []
    here = retrain(SETTINGS, fashion, workers=1)
    capfd.readouterr()
    spread = retrain(SETTINGS, fashion, progress=lines.append, workers=2)

    # The processes write to this one's descriptors: TensorFlow's start-up says nothing there.
    assert capfd.readouterr().err == ""

    assert len(lines) == 4 and all(line.startswith("retrained ") for line in lines)
    for arm_here, arm_spread in ((here.baseline, spread.baseline), (here.best, spread.best)):
        assert [run.seed for run in arm_spread] == [0, 1]
        assert [run.n_params for run in arm_spread] == [run.n_params for run in arm_here]
        assert [len(run.predictions) for run in arm_spread] == [500, 500]
        # One thread against two may reorder float sums; the runs stay the same runs.
        for a, b in zip(arm_here, arm_spread, strict=True):
            assert abs(a.accuracy - b.accuracy) < 0.03
    assert spread.baseline[0].n_params != spread.best[0].n_params
    assert spread.test_indices == here.test_indices


@pytest.mark.parametrize(("gpus", "expected"), [(0, 2), (1, 1)])
def test_retraining_uses_one_process_where_a_gpu_trains(monkeypatch, gpus, expected):
    monkeypatch.setattr(study.devices, "gpu_count", lambda backend: gpus)
    assert default_workers(2, "tensorflow") == expected

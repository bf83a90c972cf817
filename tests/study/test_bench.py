"""``lenet-study bench --quick`` end to end: every figure is there; times are never asserted."""

from __future__ import annotations

import json
import math

import pytest

from study.cli import main

pytestmark = pytest.mark.slow  # every test here runs real studies


def _finite_positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_quick_bench_prints_and_writes_every_figure(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    labels = ("speed-up", "ceiling", "first trial", "2 workers", "epochs saved", "over budget")
    for label in (*labels, "peak RSS"):
        assert label in out
    report = json.loads(path.read_text())
    assert set(report) == {"machine", "throughput", "trial_costs", "pruning", "parallel", "budget"}

    throughput = report["throughput"]
    for key in (
        "ours_images_per_second",
        "reference_images_per_second",
        "speedup",
        "ceiling_images_per_second",
        "ceiling_speedup",
    ):
        assert _finite_positive(throughput[key]), key
    rounds = throughput["rounds"]
    assert {name: len(s) for name, s in throughput["seconds"].items()} == {
        "reference": rounds,
        "ours": rounds,
        "ceiling": rounds,
    }

    costs = report["trial_costs"]
    assert len(costs["rss_after_trial_mib"]) == costs["trials"]
    for key in ("first_overhead_seconds", "later_overhead_seconds", "peak_rss_mib"):
        assert _finite_positive(costs[key]), key
    assert math.isfinite(costs["rss_growth_mib_per_trial"])

    pruning = report["pruning"]
    assert pruning["with_pruner"]["pruner"] == "hyperband"
    assert pruning["without"]["pruner"] == "none"
    for run in (pruning["with_pruner"], pruning["without"]):
        assert run["trials"] > 0
        assert _finite_positive(run["epochs_trained"]) and _finite_positive(run["seconds"])
        assert 0 < run["best_val_accuracy"] <= 1
    # Without a pruner every trial runs every epoch, so pruning can only save epochs.
    assert pruning["without"]["epochs_trained"] >= pruning["with_pruner"]["epochs_trained"]
    assert 0 <= pruning["epochs_saved_fraction"] < 1

    parallel = report["parallel"]
    for key in ("one_worker_trials_per_hour", "two_workers_trials_per_hour"):
        assert _finite_positive(parallel[key]), key
    assert parallel["faster"] in ("one", "two")
    assert report["machine"]["cores"] >= 1

    budget = report["budget"]
    assert budget["max_params"] == 100_000
    for arm, told in (("untold", False), ("told", True)):
        assert budget[arm]["told"] is told
        assert len(budget[arm]["over_budget"]) == len(budget["seeds"])
        assert all(0 <= n <= budget["trials"] for n in budget[arm]["over_budget"])

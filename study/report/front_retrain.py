"""Retraining the chosen front trials of a study with a size objective, beside the baseline.

Each front trial is trained as the best one is (``study.report.retrain``: the same seeds,
epochs and data) and cached in the same file under its own key, so a second report, in any
language, trains none of them again, and a single-objective study's cache is left as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from lenet import FashionMNIST
from study.report.retrain import (
    Candidate,
    FrontRuns,
    RetrainResult,
    RetrainRun,
    save,
    train_arms,
)


def cached_front(cache: Path, result: RetrainResult) -> dict[str, list[RetrainRun]]:
    """The front runs ``cache`` holds for ``result``'s settings, by candidate key; nothing
    from a missing, unreadable or stale file."""
    try:
        record = json.loads(cache.read_text())
        if not isinstance(record, dict) or record.get("key") != result.settings.key():
            return {}
        return {
            key: [RetrainRun(**run) for run in entry["runs"]]
            for key, entry in (record.get("front") or {}).items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def retrain_front_or_load(
    result: RetrainResult,
    candidates: Sequence[Candidate],
    data: FashionMNIST,
    cache: Path,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    storage: str | None = None,
) -> RetrainResult:
    """``result`` with the front trials' runs: each from ``cache`` where it holds them for
    these settings, the others retrained (in one pool) and added to the cache.

    Args:
        result: the baseline's and best trial's runs, as ``retrain_or_load`` returned them.
        candidates: the front trials to retrain, each once.
        data: the verified data set.
        cache: the JSON file ``retrain_or_load`` keeps.
        force: retrain every candidate even if cached.
        progress: gets one line per finished retraining run.
        workers: processes sharing the runs and the cores; 1: this process.
        storage: the study's ``storage_identity``, recorded in the cache.
    """
    stored = {} if force else cached_front(cache, result)
    keys = {c.number: c.key(result.settings) for c in candidates}
    missing = {f"trial #{c.number}": c for c in candidates if keys[c.number] not in stored}
    arms = {name: (c.model, c.train) for name, c in missing.items()}
    trained = train_arms(result.settings, arms, data, progress, workers) if arms else {}
    front = tuple(
        FrontRuns(c, trained.get(f"trial #{c.number}") or stored[keys[c.number]])
        for c in candidates
    )
    result = replace(result, front=front, front_from_cache=not missing)
    if missing:
        save(cache, result, storage)
    return result

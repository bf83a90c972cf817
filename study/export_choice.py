"""Which trial ``lenet-study export`` writes: the best, a trial by number, or the smallest on
the accuracy-size front at or above an accuracy. Light to import: no Keras."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from study.errors import StudyError, UsageError
from study.objectives import pareto_front, smallest_above, trial_points

TRIALS_COMMAND = "lenet-study trials"
_STATES = {  # why a trial that did not complete has no model, in a few words
    TrialState.PRUNED: "was pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "is still running",
    TrialState.WAITING: "is waiting to run",
}


@dataclass(frozen=True)
class Choice:
    """How the exported trial is chosen; ``best_model.json`` records it as ``chosen``."""

    by: str = "best"  # "best", "trial" or "smallest_above"
    trial: int | None = None  # by "trial": its number
    accuracy: float | None = None  # by "smallest_above": the validation accuracy to reach

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.by == "trial":
            extra["trial"] = self.trial
        elif self.by == "smallest_above":
            extra["accuracy"] = self.accuracy
        return {"by": self.by, **extra}


def parse_choice(trial: int | None, smallest_above: str | None) -> Choice:
    """``--trial N`` and ``--smallest-above ACCURACY`` as a ``Choice``; neither: the best.

    Raises:
        UsageError: both given, or an accuracy that is not a fraction strictly between 0 and 1.
    """
    if trial is not None and smallest_above is not None:
        raise UsageError(
            "--trial and --smallest-above both choose the trial to export; give only one"
        )
    if trial is not None:
        return Choice("trial", trial=trial)
    if smallest_above is None:
        return Choice()
    try:
        accuracy = float(smallest_above)
    except ValueError:
        accuracy = math.nan
    if not 0 < accuracy < 1:  # nan fails this too
        raise UsageError(
            f"--smallest-above {smallest_above}: give the validation accuracy to reach as a "
            "fraction between 0 and 1, e.g. 0.9 for 90 %"
        )
    return Choice("smallest_above", accuracy=accuracy)


def choose_trial(
    study: optuna.Study,
    choice: Choice,
    objectives: Sequence[str],
    trials_command: str = TRIALS_COMMAND,
) -> FrozenTrial:
    """The trial ``choice`` names in ``study``, which has ``objectives``.

    Args:
        trials_command: the command that lists the study's trials, for the messages.

    Raises:
        UsageError: no such trial, one that did not complete, a plain choice in a study with
            a size objective (no single best), or an accuracy no front trial reaches.
        StudyError: the study has no completed trial (or, for a front, none with a size), or
            its directions do not match its manifest's objectives.
    """
    if len(objectives) != len(study.directions):  # a manifest written by hand
        raise StudyError(
            f"study {study.study_name!r} has {len(study.directions)} objectives, its manifest "
            f"{len(objectives)}; export a study that `lenet-study run` made"
        )
    if choice.by == "trial":
        return _numbered(study, choice.trial if choice.trial is not None else -1, trials_command)
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completed:
        raise StudyError(
            f"study {study.study_name!r} has no completed trial yet; run `lenet-study run` first"
        )
    if choice.by == "best":
        if len(objectives) > 1:
            raise UsageError(
                f"study {study.study_name!r} weighs accuracy against {objectives[1]}, so it has "
                "no single best trial: choose one with --trial N or --smallest-above ACCURACY; "
                f"`{trials_command} --front` lists the front"
            )
        return study.best_trial
    front = pareto_front(trial_points(study, objectives))
    if not front:  # a single-objective study whose trials did not record their parameters
        raise StudyError(
            f"the completed trials of study {study.study_name!r} record no parameter count, "
            "so it has no front; choose a trial with --trial N"
        )
    accuracy = choice.accuracy if choice.accuracy is not None else 0.0
    point = smallest_above(front, accuracy)
    if point is None:
        raise UsageError(
            f"no trial on the front reaches val_accuracy {accuracy:g}: its most accurate is "
            f"trial {front[-1].number} at {front[-1].accuracy:.4f}; give a lower "
            f"--smallest-above (`{trials_command} --front` lists the front)"
        )
    return _numbered(study, point.number, trials_command)


def _numbered(study: optuna.Study, number: int, trials_command: str) -> FrozenTrial:
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    trial = trials.get(number)
    if trial is None:
        numbers = f"0 to {max(trials)}" if trials else "none yet"
        raise UsageError(
            f"study {study.study_name!r} has no trial {number} (its trials: {numbers}); "
            f"`{trials_command}` lists them"
        )
    if trial.state != TrialState.COMPLETE:
        raise UsageError(
            f"trial {number} {_STATES.get(trial.state, trial.state.name.lower())}: only a "
            f"completed trial keeps a model to export; `{trials_command}` lists their states"
        )
    return trial

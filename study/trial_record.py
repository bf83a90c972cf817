"""What a trial stores besides its parameters and values: one typed record of its user attributes.

The objective writes a trial's record piece by piece as the trial goes (``TrialRecord(...)
.write(trial)``), the fault handlers write its end; everything else reads it back with
``TrialRecord.of(trial)``. The field names are the stored keys, so databases written by
earlier versions of this program read unchanged, and a key a trial lacks reads as None.

A trial's end is stored as the text people read in the dashboard ("pruned at epoch 2") and
read back as a typed value (``Pruned(epoch=2)``); both directions live here, side by side.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

import optuna
from optuna.storages import BaseStorage


@dataclass(frozen=True)
class Completed:
    """The trial trained all its epochs and kept its best one."""

    def __str__(self) -> str:
        return "completed"


@dataclass(frozen=True)
class Pruned:
    """The pruner stopped the trial after ``epoch`` trained epochs."""

    epoch: int

    def __str__(self) -> str:
        return f"pruned at epoch {self.epoch}"


@dataclass(frozen=True)
class OverBudget:
    """The model was over the parameter budget, so the trial was pruned before training."""

    n_params: int  # the sampled model's parameters
    max_params: int  # the search space's budget

    @property
    def note(self) -> str:
        """``before training: N parameters > M``, what a progress line adds."""
        return f"before training: {self.n_params} parameters > {self.max_params}"

    def __str__(self) -> str:
        return f"pruned {self.note}"


@dataclass(frozen=True)
class Failed:
    """The trial failed: its training diverged, ran out of memory, or the disk or the
    database failed under it (``reason`` says which, for people)."""

    reason: str

    def __str__(self) -> str:
        return f"failed: {self.reason}"


@dataclass(frozen=True)
class OtherEnd:
    """An end text this program does not write (a hand-edited database), kept as it is."""

    text: str

    def __str__(self) -> str:
        return self.text


TrialEnd = Completed | Pruned | OverBudget | Failed | OtherEnd

_NUMBER = "(0|[1-9][0-9]*)"  # as str(int) writes a count, so that parsing inverts it
_PRUNED = re.compile(f"pruned at epoch {_NUMBER}")
_OVER_BUDGET = re.compile(f"pruned before training: {_NUMBER} parameters > {_NUMBER}")
_FAILED = "failed: "


def parse_end(text: str) -> TrialEnd:
    """The typed end of a stored end text; ``str`` of the result is ``text`` again."""
    if text == str(Completed()):
        return Completed()
    if match := _PRUNED.fullmatch(text):
        return Pruned(int(match[1]))
    if match := _OVER_BUDGET.fullmatch(text):
        return OverBudget(int(match[1]), int(match[2]))
    if text.startswith(_FAILED):
        return Failed(text.removeprefix(_FAILED))
    return OtherEnd(text)


class _HasUserAttrs(Protocol):
    @property
    def user_attrs(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TrialRecord:
    """A trial's user attributes; None where the trial has not (or never) recorded one.

    The field order is the order the objective first writes them in.
    """

    n_params: int | None = None  # the model's parameters, recorded before training
    n_macs: int | None = None  # its multiply-accumulates per image, recorded with n_params
    seed: int | None = None  # the trial's training seed: the study's seed + trial number
    worker: str | None = None  # host:pid of the process that ran the trial
    backend: str | None = None  # the Keras backend it trained on: tensorflow or jax
    warmup_epochs: int | None = None  # learning-rate warm-up epochs, if any (the pruner waits)
    history: dict[str, list[float]] | None = None  # loss, accuracy, val_... per epoch
    epochs_run: int | None = None  # epochs trained, fewer than asked when pruned or failed
    seconds_per_epoch: float | None = None  # mean training seconds of its epochs
    worker_rss_mib: float | None = None  # the worker's resident memory after training, MiB
    best_epoch: int | None = None  # 1-based epoch of the best val_accuracy, the one kept
    val_confusion: list[list[int]] | None = None  # best epoch's counts[true][predicted]
    end: TrialEnd | None = None  # how the trial ended, stored as its text
    model_artifact_id: str | None = None  # the artifact holding the best-epoch model

    @classmethod
    def of(cls, trial: _HasUserAttrs) -> TrialRecord:
        """The record of a trial (frozen or running); keys it lacks read as None, keys this
        program does not know are ignored. Values are as stored, unchecked."""
        attrs = trial.user_attrs
        values = {f.name: attrs.get(f.name) for f in fields(cls)}
        end = values.pop("end")
        return cls(**values, end=None if end is None else parse_end(str(end)))

    def write(self, trial: optuna.Trial) -> None:
        """Stores this record's fields that are not None on ``trial``, in field order."""
        self._write(trial.set_user_attr)

    def write_stored(self, storage: BaseStorage, trial_id: int) -> None:
        """``write`` for a trial known only by its storage id (one a fault interrupted)."""
        self._write(functools.partial(storage.set_trial_user_attr, trial_id))

    def _write(self, set_attr: Callable[[str, Any], None]) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                # An end is stored as its text: the dashboard shows it to people.
                set_attr(f.name, str(value) if f.name == "end" else value)

"""The note and figures each finished trial leaves in its study, for optuna-dashboard.

``record_trial`` is a study callback that every worker runs, so every finished trial
(completed, pruned or failed) explains itself in the dashboard without opening the code.
"""

from __future__ import annotations

from typing import Any

import optuna
import plotly.graph_objects as go
from optuna.trial import FrozenTrial, TrialState
from optuna_dashboard import save_note, save_plotly_graph_object

from study.curves import Curve, epoch_curves
from study.results import best_trial_or_none, format_value, live_trial
from study.trial_record import TrialRecord

CONFUSION_ID = "best-trial-val-confusion"  # overwritten whenever a new best trial completes
# Plotly's default template adds ~8 kB of styling to every stored figure; the dashboard's
# plotly.js draws the same figure without it.
_LAYOUT: dict[str, Any] = {"template": "none", "margin": {"t": 60, "l": 60, "r": 20, "b": 50}}


def curves_id(trial_number: int) -> str:
    """The dashboard's graph object id of a trial's learning curves (a valid HTML id)."""
    return f"trial-{trial_number}-learning-curves"


def trial_note(trial: FrozenTrial) -> str:
    """The Markdown note of a finished trial: how it ended, its result and configuration."""
    record = TrialRecord.of(trial)
    end = str(record.end or "") or trial.state.name.lower()
    lines = [f"### Trial {trial.number}: {end}", ""]
    accuracies = (record.history or {}).get("val_accuracy", [])
    facts = []
    if accuracies:
        best_epoch = record.best_epoch or 1 + accuracies.index(max(accuracies))
        facts.append(
            f"best val_accuracy **{max(accuracies):.4f}** at epoch {best_epoch} "
            f"of {len(accuracies)} run"
        )
    if record.n_params is not None:
        facts.append(f"{record.n_params:,} parameters")
    if record.n_macs is not None:
        facts.append(f"{record.n_macs:,} MACs per image")
    if record.seconds_per_epoch is not None:
        facts.append(f"{record.seconds_per_epoch:.1f} s per epoch")
    if facts:
        lines += [", ".join(facts), ""]
    lines += ["| parameter | value |", "| --- | --- |"]
    lines += [f"| {name} | {format_value(value)} |" for name, value in trial.params.items()]
    if record.seed is not None:
        lines.append(f"| seed (training) | {record.seed} |")
    if record.model_artifact_id:
        lines += [
            "",
            f"Best-epoch model: `trial-{trial.number}.keras`, in this trial's artifacts.",
        ]
    return "\n".join(lines) + "\n"


def curves_figure(trial: FrozenTrial) -> go.Figure:
    """Loss and accuracy per epoch, training and validation, of one trial."""
    history = TrialRecord.of(trial).history or {}
    curves = [
        Curve(panel=metric, name=key, values=history.get(key, []), line={"dash": dash})
        for metric in ("accuracy", "loss")
        for key, dash in ((metric, "dot"), (f"val_{metric}", "solid"))
    ]
    figure = epoch_curves(curves, panels=("accuracy", "loss"))
    figure.update_layout(title=f"Trial {trial.number}: learning curves", **_LAYOUT)
    return figure


def confusion_figure(trial: FrozenTrial) -> go.Figure:
    """The trial's validation confusion matrix as a heatmap (rows: true class)."""
    # Imported here: lenet loads TensorFlow, which the dashboard command does not need.
    from lenet.data import CLASS_NAMES

    counts = TrialRecord.of(trial).val_confusion  # counts[true][predicted]
    if counts is None:
        raise ValueError(f"trial {trial.number} recorded no validation confusion matrix")
    figure = go.Figure(
        go.Heatmap(
            z=counts,
            x=list(CLASS_NAMES),
            y=list(CLASS_NAMES),
            text=counts,
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="true %{y}<br>predicted %{x}<br>%{z} images<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Best trial ({trial.number}): validation confusion matrix",
        xaxis_title="predicted class",
        yaxis={"title": "true class", "autorange": "reversed"},
        **_LAYOUT,
    )
    return figure


def record_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """Study callback: writes the trial's note, curves, and the best trial's confusion matrix.

    Optuna calls it after every finished trial, failed ones included (the runner catches
    diverged training), so no trial is left without an explanation.
    """
    save_note(live_trial(study, trial), trial_note(trial))
    if trial.state != TrialState.COMPLETE:
        return
    save_plotly_graph_object(study, curves_figure(trial), graph_object_id=curves_id(trial.number))
    has_confusion = TrialRecord.of(trial).val_confusion is not None
    best = best_trial_or_none(study)
    if has_confusion and best is not None and best.number == trial.number:
        save_plotly_graph_object(study, confusion_figure(trial), graph_object_id=CONFUSION_ID)

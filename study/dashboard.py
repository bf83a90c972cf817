"""What optuna-dashboard shows: a note and learning curves per trial, and serving the study.

The notes and figures are written by a study callback, so every finished trial (completed,
pruned or failed) explains itself in the dashboard without opening the code. Serving needs no
TensorFlow, so this module imports ``lenet`` (which loads it) only to draw a confusion matrix.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

import optuna
import plotly.graph_objects as go
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial, TrialState
from optuna_dashboard import run_server, save_note, save_plotly_graph_object
from plotly.subplots import make_subplots

from study.settings import artifact_dir
from study.storage import StudyError, load_study, open_storage, parse_storage_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080  # optuna-dashboard's own default
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CONFUSION_ID = "best-trial-val-confusion"  # overwritten whenever a new best trial completes
# Plotly's default template adds ~8 kB of styling to every stored figure; the dashboard's
# plotly.js draws the same figure without it.
_LAYOUT: dict[str, Any] = {"template": "none", "margin": {"t": 60, "l": 60, "r": 20, "b": 50}}


def curves_id(trial_number: int) -> str:
    """The dashboard's graph object id of a trial's learning curves (a valid HTML id)."""
    return f"trial-{trial_number}-learning-curves"


def trial_note(trial: FrozenTrial) -> str:
    """The Markdown note of a finished trial: how it ended, its result and configuration."""
    attrs = trial.user_attrs
    end = attrs.get("end") or trial.state.name.lower()
    lines = [f"### Trial {trial.number}: {end}", ""]
    accuracies = attrs.get("history", {}).get("val_accuracy", [])
    facts = []
    if accuracies:
        best_epoch = attrs.get("best_epoch") or 1 + accuracies.index(max(accuracies))
        facts.append(
            f"best val_accuracy **{max(accuracies):.4f}** at epoch {best_epoch} "
            f"of {len(accuracies)} run"
        )
    if attrs.get("n_params") is not None:
        facts.append(f"{attrs['n_params']:,} parameters")
    if attrs.get("seconds_per_epoch") is not None:
        facts.append(f"{attrs['seconds_per_epoch']:.1f} s per epoch")
    if facts:
        lines += [", ".join(facts), ""]
    lines += ["| parameter | value |", "| --- | --- |"]
    lines += [f"| {name} | {_format(value)} |" for name, value in trial.params.items()]
    if "seed" in attrs:
        lines.append(f"| seed (training) | {attrs['seed']} |")
    if attrs.get("model_artifact_id"):
        lines += [
            "",
            f"Best-epoch model: `trial-{trial.number}.keras`, in this trial's artifacts.",
        ]
    return "\n".join(lines) + "\n"


def curves_figure(trial: FrozenTrial) -> go.Figure:
    """Loss and accuracy per epoch, training and validation, of one trial."""
    history = trial.user_attrs.get("history", {})
    figure = make_subplots(rows=1, cols=2, subplot_titles=("accuracy", "loss"))
    for column, metric in enumerate(("accuracy", "loss"), start=1):
        for key, dash in ((metric, "dot"), (f"val_{metric}", "solid")):
            values = history.get(key, [])
            figure.add_trace(
                go.Scatter(
                    x=list(range(1, len(values) + 1)),
                    y=values,
                    name=key,
                    mode="lines+markers",
                    line={"dash": dash},
                ),
                row=1,
                col=column,
            )
        figure.update_xaxes(title_text="epoch", dtick=1, row=1, col=column)
    figure.update_layout(title=f"Trial {trial.number}: learning curves", **_LAYOUT)
    return figure


def confusion_figure(trial: FrozenTrial) -> go.Figure:
    """The trial's validation confusion matrix as a heatmap (rows: true class)."""
    # Imported here: lenet loads TensorFlow, which the dashboard command does not need.
    from lenet.data import CLASS_NAMES

    counts = trial.user_attrs["val_confusion"]  # counts[true][predicted]
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
    # save_note needs a live Trial; one rebuilt from the id only reads the trial back.
    save_note(optuna.Trial(study, trial._trial_id), trial_note(trial))
    if trial.state != TrialState.COMPLETE:
        return
    save_plotly_graph_object(study, curves_figure(trial), graph_object_id=curves_id(trial.number))
    if "val_confusion" in trial.user_attrs and study.best_trial.number == trial.number:
        save_plotly_graph_object(study, confusion_figure(trial), graph_object_id=CONFUSION_ID)


def host_warning(host: str) -> str | None:
    """The warning for a non-local ``host``, or None: the dashboard has no login."""
    if host in LOCAL_HOSTS:
        return None
    return (
        f"lenet-study: warning: the dashboard has no login; anyone who can reach {host} "
        "can read, edit and delete this storage's studies"
    )


def dashboard_url(host: str, port: int, study_id: int | None = None) -> str:
    """The URL to open: the study's page, or the list of studies."""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    path = f"/dashboard/studies/{study_id}" if study_id is not None else "/dashboard"
    return f"http://{netloc}{path}"


def serve(
    storage_url: str,
    study_name: str,
    results_dir: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    out: TextIO | None = None,
) -> None:
    """Serves optuna-dashboard on the storage, with the trials' model files, until Ctrl-C.

    Prints the study's URL (or the study list's, if the study is not created yet) and, for
    a non-local ``host``, a warning on stderr.

    Raises:
        ValueError: the storage URL cannot be parsed.
        StudyError: the SQLite file does not exist, the storage is unusable, or the port is
            taken.
    """
    out = out or sys.stdout
    parsed = parse_storage_url(storage_url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if database and database != ":memory:" and not Path(database).is_file():
        # Opening a mistyped path would create an empty database and show nothing.
        raise StudyError(f"no such file {database}; run `lenet-study run` first")
    # Same engine settings as the study's workers: a lock timeout, so reading while a study
    # writes waits instead of failing either side.
    storage = open_storage(storage_url)
    try:
        study_id: int | None = load_study(storage_url, study_name)._study_id
    except StudyError as exc:  # not created yet: the study list shows it once it is
        study_id = None
        print(f"lenet-study: {exc}", file=out)
    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    print(f"optuna-dashboard: {dashboard_url(host, port, study_id)}  (Ctrl-C stops)", file=out)
    out.flush()
    store = FileSystemArtifactStore(str(artifact_dir(results_dir)))
    with warnings.catch_warnings():  # the artifact store is experimental, and stable enough
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            run_server(storage, host=host, port=port, artifact_store=store)
        except OSError as exc:
            raise StudyError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose another --port"
            ) from None


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

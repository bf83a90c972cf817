"""The report's plotly figures: Optuna's own plots of the search, and the comparison's.

Each function draws from a record computed in ``study.report``; none computes a result.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import optuna
import optuna.visualization as vis
import plotly.express as px
import plotly.graph_objects as go

from lenet import CLASS_NAMES
from study.curves import Curve, epoch_curves
from study.report.origin import BestOrigin
from study.report.summary import Arm, Comparison

WIDTH = 900  # pixels; the static (PDF) export uses the same size as the HTML
COLORS = {"classic LeNet-5": "#636efa", "best trial": "#ef553b"}
# The best-so-far figure's completed trials: how each was chosen, as a marker and a colour.
ORIGIN_MARKERS = {
    False: ("sampled", "circle", "#636efa"),
    True: ("enqueued", "diamond", "#00cc96"),
}

SEARCH_PLOTS: dict[str, tuple[str, Callable[[optuna.Study], go.Figure]]] = {
    "history": ("Optimization history", vis.plot_optimization_history),
    "importances": ("Hyperparameter importances (fANOVA)", vis.plot_param_importances),
    "parallel": ("Parallel coordinates", vis.plot_parallel_coordinate),
    "slice": ("Slice plots", vis.plot_slice),
}


def search_plot(study: optuna.Study, name: str) -> go.Figure:
    """One of Optuna's plotly visualizations, sized for the page.

    Raises:
        ValueError: Optuna cannot draw it for this study (its message says why).
    """
    with warnings.catch_warnings():  # Optuna warns, rather than fails, on degenerate inputs
        warnings.simplefilter("ignore")
        figure = SEARCH_PLOTS[name][1](study)
    height = 420 if name != "slice" else 380
    # Trial numbers are whole: ticks every 1, 2, 3, ... trials (plotly's own fall on 0.5).
    step = max(1, math.ceil(len(study.trials) / 10))
    if name == "history":
        figure.update_xaxes(tick0=0, dtick=step)
    if name == "slice":  # the colour bar of trial numbers
        figure.update_traces(marker_colorbar_tick0=0, marker_colorbar_dtick=step)
    return figure.update_layout(width=WIDTH, height=height, title=None, margin={"t": 30})


def best_so_far(origin: BestOrigin) -> go.Figure:
    """The best validation accuracy so far against minutes since the first trial started, a
    step at each completion up to the study's last finished trial; each completed trial is a
    point, enqueued ones drawn apart from sampled ones."""
    points = origin.completed
    end = origin.whole_study.seconds if origin.whole_study else points[-1].seconds
    figure = go.Figure(
        go.Scatter(
            x=[p.seconds / 60 for p in points] + [end / 60],
            y=[p.best_so_far for p in points] + [points[-1].best_so_far],
            mode="lines",
            line={"shape": "hv", "color": COLORS["best trial"]},
            name="best so far",
            hoverinfo="skip",
        )
    )
    for enqueued, (label, symbol, color) in ORIGIN_MARKERS.items():
        chosen = [p for p in points if p.enqueued == enqueued]
        if not chosen:
            continue
        figure.add_trace(
            go.Scatter(
                x=[p.seconds / 60 for p in chosen],
                y=[p.value for p in chosen],
                mode="markers",
                marker={"symbol": symbol, "color": color, "size": 8},
                name=f"{label} trial",
                customdata=[p.number for p in chosen],
                hovertemplate="trial %{customdata}: %{y:.4f} at %{x:.1f} min<extra></extra>",
            )
        )
    best = [p for p in points if p.number == origin.best_number]
    figure.add_trace(
        go.Scatter(
            x=[p.seconds / 60 for p in best],
            y=[p.value for p in best],
            mode="markers",
            marker={"symbol": "circle-open", "color": "#222", "size": 16, "line": {"width": 2}},
            name=f"best trial #{origin.best_number}",
            hoverinfo="skip",
        )
    )
    figure.update_xaxes(title_text="minutes since the first trial started", rangemode="tozero")
    figure.update_yaxes(title_text="validation accuracy")
    return figure.update_layout(width=WIDTH, height=360, margin={"t": 20})


def learning_curves(comparison: Comparison) -> go.Figure:
    """Training loss and accuracy per epoch, every seed as a thin line, each arm one colour."""
    panels = {"loss": "training loss", "accuracy": "training accuracy"}
    curves = [
        Curve(
            panel=title,
            name=arm.label,
            values=run.history.get(key, []),
            line={"color": COLORS[arm.label], "width": 1.5},
            legendgroup=arm.label,
            showlegend=i == 0 and key == "loss",
            hovertemplate=f"seed {run.seed}, epoch %{{x}}: %{{y:.4f}}",
        )
        for arm in (comparison.baseline, comparison.best)
        for i, run in enumerate(arm.runs)
        for key, title in panels.items()
    ]
    figure = epoch_curves(curves, panels=tuple(panels.values()))
    return figure.update_layout(width=WIDTH, height=360, margin={"t": 40})


def f1_bars(comparison: Comparison) -> go.Figure:
    """Per-class F1 of both arms, mean over seeds, with the seeds' standard deviation."""
    figure = go.Figure()
    for arm in (comparison.baseline, comparison.best):
        f1 = np.array([[row["f1"] for row in run.per_class] for run in arm.runs])
        figure.add_trace(
            go.Bar(
                x=list(CLASS_NAMES),
                y=f1.mean(axis=0),
                error_y={"type": "data", "array": f1.std(axis=0, ddof=1) if len(f1) > 1 else None},
                name=arm.label,
                marker_color=COLORS[arm.label],
            )
        )
    figure.update_yaxes(title_text="F1 on the test set", range=[0, 1])
    return figure.update_layout(width=WIDTH, height=380, barmode="group", margin={"t": 20})


def confusion(arm: Arm) -> go.Figure:
    """The arm's test confusion matrix, summed over seeds."""
    counts = np.sum([run.confusion for run in arm.runs], axis=0)
    figure = px.imshow(
        counts,
        x=list(CLASS_NAMES),
        y=list(CLASS_NAMES),
        text_auto=True,
        color_continuous_scale="Blues",
        labels={"x": "predicted", "y": "true", "color": "images"},
        aspect="equal",
    )
    title = f"{arm.label} ({len(arm.runs)} seed{'s' * (len(arm.runs) > 1)} summed)"
    return figure.update_layout(
        title=title, width=WIDTH // 2 + 40, height=480, coloraxis_showscale=False
    )

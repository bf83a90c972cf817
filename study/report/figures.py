"""The report's plotly figures: Optuna's own plots of the search, and the comparison's.

Each function draws from a record computed in ``study.report`` in a ``Language``; none
computes a result. Optuna's plots come with English titles and axes; they are replaced here.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import optuna
import optuna.visualization as vis
import plotly.express as px
import plotly.graph_objects as go

from study.curves import Curve, epoch_curves
from study.report.language import N_, Language
from study.report.origin import BestOrigin
from study.report.summary import Arm, Comparison

if TYPE_CHECKING:
    from study.report.front import FrontSection
from study.results import accuracy_of

WIDTH = 900  # pixels; the static (PDF) export uses the same size as the HTML
COLORS = {"baseline": "#636efa", "best": "#ef553b"}
ARM_NAMES = {"baseline": N_("classic LeNet-5"), "best": N_("best trial")}
# The best-so-far figure's completed trials: how each was chosen, as a marker and a colour.
ORIGIN_MARKERS = {
    False: (N_("sampled trial"), "circle", "#636efa"),
    True: (N_("enqueued trial"), "diamond", "#00cc96"),
}

SEARCH_PLOTS: dict[str, tuple[str, Callable[..., go.Figure]]] = {
    "history": (N_("Optimization history"), vis.plot_optimization_history),
    "importances": (N_("Hyperparameter importances (PED-ANOVA)"), vis.plot_param_importances),
    "parallel": (N_("Parallel coordinates"), vis.plot_parallel_coordinate),
    "slice": (N_("Slice plots"), vis.plot_slice),
}
# Optuna's label for a parameter a trial did not have (parallel coordinates).
OPTUNA_MISSING = "None"


def arm_name(t: Language, arm: Arm) -> str:
    """ "classic LeNet-5" or "best trial", in the report's language."""
    return t.gettext(ARM_NAMES[arm.role])


def search_plot(study: optuna.Study, name: str, t: Language | None = None) -> go.Figure:
    """One of Optuna's plotly visualizations, sized for the page, in the report's language.

    Raises:
        ValueError: Optuna cannot draw it for this study (its message says why).
    """
    t = t or Language()
    target = t.gettext("validation accuracy")
    with warnings.catch_warnings():  # Optuna warns, rather than fails, on degenerate inputs
        warnings.simplefilter("ignore")
        # Optuna's plots take one objective: a study with a size too is shown by accuracy.
        by_accuracy = {"target": accuracy_of} if len(study.directions) > 1 else {}
        figure = SEARCH_PLOTS[name][1](study, target_name=target, **by_accuracy)
    height = 420 if name != "slice" else 380
    # Trial numbers are whole: ticks every 1, 2, 3, ... trials (plotly's own fall on 0.5).
    step = max(1, math.ceil(len(study.trials) / 10))
    if name == "history":
        figure.update_xaxes(title_text=t.gettext("Trial"), tick0=0, dtick=step)
        figure.update_traces(name=t.gettext("best so far"), selector={"name": "Best Value"})
        figure.update_traces(
            name=t.gettext("infeasible trial"), selector={"name": "Infeasible Trial"}
        )
    if name == "importances":
        figure.update_xaxes(title_text=t.gettext("importance"))
        figure.update_yaxes(title_text=t.gettext("hyperparameter"))
        for trace in figure.data:  # Optuna's bar labels: two decimals, "<0.01" below
            trace.text = [
                t.number(v, ".2f") if v >= 0.01 else "<" + t.number(0.01, ".2f") for v in trace.x
            ]
            trace.hovertemplate = "%{y}: %{x:.3f}<extra></extra>"
    if name == "parallel":
        # Optuna draws the axes' tick labels as annotations, formatted by itself.
        figure.for_each_annotation(lambda note: note.update(text=_tick(t, note.text)))
    if name == "slice":  # the colour bar of trial numbers
        figure.update_traces(
            marker_colorbar_tick0=0,
            marker_colorbar_dtick=step,
            marker_colorbar_title_text=t.gettext("Trial"),
            name=t.gettext("Trial"),
        )
        _name_slice_choices(figure, t)
    return _sized(figure, t, width=WIDTH, height=height, title=None, margin={"t": 30})


def _name_slice_choices(figure: go.Figure, t: Language) -> None:
    """Optuna places a categorical parameter's points at its choices' ``repr`` ('relu', True):
    the labels as ``_tick`` writes them."""

    def label(choice: object) -> object:
        return _tick(t, choice) if isinstance(choice, str) else choice  # else a number

    for trace in figure.data:
        if trace.x is not None:
            trace.x = [label(x) for x in trace.x]
    for axis in figure.select_xaxes():
        if axis.categoryarray is not None:
            axis.categoryarray = [label(c) for c in axis.categoryarray]


def _tick(t: Language, text: str) -> str:
    """A tick label Optuna formatted itself: its numbers in the report's marks, booleans as
    words, a string choice without the quotes of its ``repr``, "-" for a parameter the trial
    did not have."""
    if text == OPTUNA_MISSING:
        return "-"
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    if text in ("True", "False"):  # a true/false parameter's choices
        return t.pgettext("boolean", text)
    if re.fullmatch(r"-?\d+(\.\d+)?(e[-+]?\d+)?", text):
        return text.replace(".", t.style.decimal)
    return text


def _sized(figure: go.Figure, t: Language, **layout: object) -> go.Figure:
    """The figure with the page's layout and the language's decimal and thousands marks."""
    return figure.update_layout(separators=t.plotly_separators(), **layout)


def best_so_far(origin: BestOrigin, t: Language | None = None) -> go.Figure:
    """The best validation accuracy so far against minutes since the first trial started, a
    step at each completion up to the study's last finished trial; each completed trial is a
    point, enqueued ones drawn apart from sampled ones."""
    t = t or Language()
    points = origin.completed
    end = origin.whole_study.seconds if origin.whole_study else points[-1].seconds
    figure = go.Figure(
        go.Scatter(
            x=[p.seconds / 60 for p in points] + [end / 60],
            y=[p.best_so_far for p in points] + [points[-1].best_so_far],
            mode="lines",
            line={"shape": "hv", "color": COLORS["best"]},
            name=t.gettext("best so far"),
            hoverinfo="skip",
        )
    )
    hover = t.gettext("trial {number}: {value} at {minutes} min").format(
        number="%{customdata}", value="%{y:.4f}", minutes="%{x:.1f}"
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
                name=t.gettext(label),
                customdata=[p.number for p in chosen],
                hovertemplate=hover + "<extra></extra>",
            )
        )
    best = [p for p in points if p.number == origin.best_number]
    figure.add_trace(
        go.Scatter(
            x=[p.seconds / 60 for p in best],
            y=[p.value for p in best],
            mode="markers",
            marker={"symbol": "circle-open", "color": "#222", "size": 16, "line": {"width": 2}},
            name=t.gettext("best trial #{number}").format(number=origin.best_number),
            hoverinfo="skip",
        )
    )
    figure.update_xaxes(
        title_text=t.gettext("minutes since the first trial started"), rangemode="tozero"
    )
    figure.update_yaxes(title_text=t.gettext("validation accuracy"))
    return _sized(figure, t, width=WIDTH, height=360, margin={"t": 20})


def learning_curves(comparison: Comparison, t: Language | None = None) -> go.Figure:
    """Training loss and accuracy per epoch, every seed as a thin line, each arm one colour."""
    t = t or Language()
    panels = {"loss": t.gettext("training loss"), "accuracy": t.gettext("training accuracy")}
    hover = t.gettext("seed {seed}, epoch {epoch}: {value}")
    curves = [
        Curve(
            panel=title,
            name=arm_name(t, arm),
            values=run.history.get(key, []),
            line={"color": COLORS[arm.role], "width": 1.5},
            legendgroup=arm.role,
            showlegend=i == 0 and key == "loss",
            hovertemplate=hover.format(seed=run.seed, epoch="%{x}", value="%{y:.4f}"),
        )
        for arm in (comparison.baseline, comparison.best)
        for i, run in enumerate(arm.runs)
        for key, title in panels.items()
    ]
    figure = epoch_curves(curves, panels=tuple(panels.values()))
    figure.update_xaxes(title_text=t.gettext("epoch"))
    return _sized(figure, t, width=WIDTH, height=360, margin={"t": 40})


def f1_bars(comparison: Comparison, t: Language | None = None) -> go.Figure:
    """Per-class F1 of both arms, mean over seeds, with the seeds' standard deviation."""
    t = t or Language()
    figure = go.Figure()
    for arm in (comparison.baseline, comparison.best):
        f1 = np.array([[row["f1"] for row in run.per_class] for run in arm.runs])
        figure.add_trace(
            go.Bar(
                x=list(t.class_names()),
                y=f1.mean(axis=0),
                error_y={"type": "data", "array": f1.std(axis=0, ddof=1) if len(f1) > 1 else None},
                name=arm_name(t, arm),
                marker_color=COLORS[arm.role],
            )
        )
    figure.update_yaxes(title_text=t.gettext("F1 on the test set"), range=[0, 1])
    return _sized(figure, t, width=WIDTH, height=380, barmode="group", margin={"t": 20})


def confusion(arm: Arm, t: Language | None = None) -> go.Figure:
    """The arm's test confusion matrix, summed over seeds."""
    t = t or Language()
    counts = np.sum([run.confusion for run in arm.runs], axis=0)
    names = list(t.class_names())
    figure = px.imshow(
        counts,
        x=names,
        y=names,
        text_auto=True,
        color_continuous_scale="Blues",
        labels={
            "x": t.gettext("predicted"),
            "y": t.gettext("true"),
            "color": t.gettext("images"),
        },
        aspect="equal",
    )
    n = len(arm.runs)
    title = t.ngettext("{name} ({n} seed)", "{name} ({n} seeds summed)", n)
    return _sized(
        figure,
        t,
        title=title.format(name=arm_name(t, arm), n=n),
        width=WIDTH // 2 + 40,
        height=480,
        coloraxis_showscale=False,
    )


SIZE_TITLES = {
    "params": N_("parameters (log scale)"),
    "macs": N_("multiply-accumulates per image (log scale)"),
}


def front_figure(section: FrontSection, t: Language | None = None) -> go.Figure:
    """Validation accuracy against size on a log axis: every completed trial in grey, the
    front as a step line, the retrained front trials circled, the classic LeNet-5 as a point
    where a trial measured it, else as a line at its size."""
    t = t or Language()
    hover = t.gettext("trial {number}: {value}, size {size}").format(
        number="%{customdata}", value="%{y:.4f}", size="%{x:,.0f}"
    )
    figure = go.Figure()
    for name, points, style in (
        (N_("completed trial"), section.points, {"mode": "markers", "marker_color": "#b0b0b0"}),
        (
            N_("front"),
            section.front,
            {"mode": "lines+markers", "line": {"shape": "hv", "color": COLORS["best"]}},
        ),
    ):
        figure.add_trace(
            go.Scatter(
                x=[p.size for p in points],
                y=[p.accuracy for p in points],
                customdata=[p.number for p in points],
                hovertemplate=hover + "<extra></extra>",
                name=t.gettext(name),
                **style,
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[p.n_params if section.objective == "params" else p.macs for p in section.picks],
            y=[p.accuracy for p in section.picks],
            mode="markers",
            marker={"symbol": "circle-open", "color": "#222", "size": 16, "line": {"width": 2}},
            name=t.gettext("retrained front trial"),
            hoverinfo="skip",
        )
    )
    classic = t.gettext("classic LeNet-5")
    if section.classic_accuracy is not None:
        figure.add_trace(
            go.Scatter(
                x=[section.classic_size],
                y=[section.classic_accuracy],
                mode="markers",
                marker={"symbol": "star", "color": COLORS["baseline"], "size": 14},
                name=classic,
            )
        )
    else:  # no accuracy measured as the trials' were: its size only
        accuracies = [p.accuracy for p in section.points] or [0.0, 1.0]
        figure.add_trace(
            go.Scatter(
                x=[section.classic_size] * 2,
                y=[min(accuracies), max(accuracies)],
                mode="lines+text",
                line={"color": COLORS["baseline"], "dash": "dash"},
                text=["", classic],
                textposition="top right",
                name=t.gettext("classic LeNet-5 (size only)"),
                hoverinfo="skip",
            )
        )
    figure.update_xaxes(type="log", title_text=t.gettext(SIZE_TITLES[section.objective]))
    figure.update_yaxes(title_text=t.gettext("validation accuracy"))
    return _sized(figure, t, width=WIDTH, height=420, margin={"t": 20})

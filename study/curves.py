"""Learning curves: per-epoch values as plotly lines, one subplot per metric.

The dashboard's per-trial figure and the report's retraining figure both draw with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots


@dataclass(frozen=True)
class Curve:
    """One line: a metric's value after each epoch."""

    panel: str  # the subplot it is drawn in
    name: str  # the legend entry
    values: Sequence[float]
    line: dict[str, Any] = field(default_factory=dict)  # plotly line style
    legendgroup: str | None = None
    showlegend: bool = True
    hovertemplate: str | None = None


def epoch_curves(curves: Sequence[Curve], panels: Sequence[str]) -> go.Figure:
    """The curves side by side, one subplot per panel, epochs counted from 1."""
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=tuple(panels))
    for curve in curves:
        figure.add_trace(
            go.Scatter(
                x=list(range(1, len(curve.values) + 1)),
                y=list(curve.values),
                name=curve.name,
                mode="lines+markers",
                line=curve.line,
                legendgroup=curve.legendgroup,
                showlegend=curve.showlegend,
                hovertemplate=curve.hovertemplate,
            ),
            row=1,
            col=1 + list(panels).index(curve.panel),
        )
    figure.update_xaxes(title_text="epoch", dtick=1)
    return figure

"""The report page's building blocks: escaped text, tables of formatted cells, notes, figures,
parameter lists, each in the report's ``Language``."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from study.report.language import Language

FigureHTML = Callable[[go.Figure], str]


def escape(text: Any) -> str:
    return html.escape(str(text))


def heading(text: str, anchor: str | None = None) -> str:
    """An ``<h3>`` of already translated text."""
    at = f' id="{anchor}"' if anchor else ""
    return f"<h3{at}>{escape(text)}</h3>"


def paragraph(text: str) -> str:
    return f"<p>{escape(text)}</p>"


def missing(t: Language, reason: str) -> str:
    """A note in place of what cannot be shown; ``reason`` is already translated."""
    text = t.gettext("Not shown: {reason}.").format(reason=reason)
    return f'<p class="missing">{escape(text)}</p>'


def figure(figure_html: FigureHTML, drawn: go.Figure) -> str:
    return f'<div class="figure">{figure_html(drawn)}</div>'


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def value_text(t: Language, value: Any, spec: str = ".4g") -> str:
    """A value for people: "-" for one that is not there (never "None"), numbers in the
    language's marks, whole floats bare, booleans as words."""
    if is_missing(value):
        return "-"
    if isinstance(value, bool | np.bool_):
        return t.pgettext("boolean", "True") if value else t.pgettext("boolean", "False")
    if isinstance(value, int | np.integer):
        return t.integer(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() and abs(number) < 1e6:  # a count in a column with gaps
            return t.integer(int(number))
        return t.number(number, spec)
    return str(value)


def params(t: Language, values: dict[str, Any]) -> str:
    """``c1_filters=6, learning_rate=0.001``: names as the search space spells them."""
    return t.listing([f"{name}={value_text(t, v)}" for name, v in values.items()])


def table(
    t: Language,
    frame: pd.DataFrame,
    cell: Callable[[Any], str] | None = None,
    classes: str | None = None,
) -> str:
    """A pandas table with every cell formatted by ``cell`` (default: ``value_text``), so the
    numbers follow the language, not pandas."""
    cell = cell or (lambda value: value_text(t, value))
    if not frame.empty:
        frame = frame.apply(
            lambda column: column.map(lambda v: v if isinstance(v, str) else cell(v))
        )
    return frame.to_html(index=False, border=0, na_rep="-", escape=True, classes=classes)


def pairs(t: Language, rows: dict[str, Any]) -> str:
    """A two-column table: what, and its value."""
    frame = pd.DataFrame(
        {"": list(rows), t.gettext("value"): [value_text(t, v) for v in rows.values()]}
    )
    return table(t, frame)

"""Laying the report out as one HTML page: tables from pandas, figures from plotly.

The same layout serves both outputs: ``report.html`` embeds plotly.js once and draws
interactive figures; the PDF's page gets each figure as a static SVG (kaleido) instead. This
module decides nothing about the numbers; ``study.report`` computes them.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from lenet import CLASS_NAMES
from study.report.figures import (
    SEARCH_PLOTS,
    best_so_far,
    confusion,
    f1_bars,
    learning_curves,
    search_plot,
)
from study.report.summary import Report

FigureHTML = Callable[[go.Figure], str]

SECTIONS = {
    "study": "1. The study",
    "search": "2. How the search went",
    "comparison": "3. Best versus baseline, retrained and tested",
    "failures": "4. Where the best model fails",
    "provenance": "5. What produced this report",
}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 960px; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.missing { color: #a33; font-style: italic; }
.figure { break-inside: avoid; page-break-inside: avoid; margin: 0.5em 0; }
.side { display: flex; flex-wrap: wrap; gap: 8px; }
table.top { width: 100%; font-size: 0.8em; }
table.top td:last-child, table.top th:last-child { text-align: left; width: 45%;
                                                  overflow-wrap: anywhere; }
.grid td { text-align: center; font-size: 0.75em; padding: 2px; }
pre { background: #f6f6f6; padding: 0.5em; white-space: pre-wrap; word-break: break-all; }
img { max-width: 100%; height: auto; }
@page { size: A4; margin: 12mm; }
@media print { body { margin: 0; max-width: none; } table { font-size: 0.7em; }
               h2, h3 { break-after: avoid; } }
"""


def interactive_figure(figure: go.Figure) -> str:
    """A figure as a ``<div>``; plotly.js itself is embedded once in the page's head."""
    config = {"displaylogo": False, "responsive": False}
    return figure.to_html(full_html=False, include_plotlyjs=False, config=config)


def static_figure(figure: go.Figure) -> str:
    """A figure as an inline SVG image (kaleido; needs Chromium)."""
    svg = figure.to_image(format="svg")
    return f'<img alt="figure" src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}">'


def page(report: Report, study: optuna.Study, figure_html: FigureHTML, head: str = "") -> str:
    """The whole report as one self-contained HTML document.

    Args:
        report: the computed report.
        study: the study, for Optuna's plots.
        figure_html: turns a plotly figure into HTML (interactive or static).
        head: extra ``<head>`` content, e.g. the embedded plotly.js.
    """
    title = f"LeNet-5 study {report.facts.name!r}: report"
    body = [
        f"<h1>{_e(title)}</h1>",
        "<nav>" + " · ".join(f'<a href="#{k}">{_e(v)}</a>' for k, v in SECTIONS.items()),
        "</nav>",
        _section("study", _study(report)),
        _section("search", _search(report, study, figure_html)),
        _section("comparison", _comparison(report, figure_html)),
        _section("failures", _failures(report)),
        _section("provenance", _provenance(report)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{CSS}</style>{head}</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _e(text: Any) -> str:
    return html.escape(str(text))


def _section(key: str, content: str) -> str:
    return f'<section id="{key}">\n<h2>{_e(SECTIONS[key])}</h2>\n{content}\n</section>'


def _table(
    frame: pd.DataFrame,
    float_format: str | Callable[[float], str] = "{:.4f}",
    classes: str | None = None,
) -> str:
    formatter = float_format.format if isinstance(float_format, str) else float_format
    # na_rep covers NaN in number columns; a column of objects (all None, say the values of
    # trials that never completed) would print "None".
    if not frame.empty:
        frame = frame.apply(lambda c: c.map(_text) if c.dtype == object else c)
    return frame.to_html(
        index=False, border=0, na_rep="-", float_format=formatter, escape=True, classes=classes
    )


def _short(value: float) -> str:
    """Whole numbers (parameter counts in a column with gaps) as such, others to 4 digits."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}"


def _text(value: Any) -> str:
    """A table cell: "-" for a value that is not there, never "None"."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "-" if missing else str(value)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _mean_std(mean: float, std: float, n: int) -> str:
    """``0.9012 ± 0.0021`` over several seeds; the bare mean for one, which has no spread."""
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f} (one seed)"


def _pairs(rows: dict[str, Any]) -> str:
    return _table(pd.DataFrame({"": list(rows), "value": [_text(v) for v in rows.values()]}))


def _params(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={_text(v)}" for k, v in params.items()
    )


def _missing(reason: str) -> str:
    return f'<p class="missing">Not shown: {_e(reason)}.</p>'


def _figure(figure_html: FigureHTML, figure: go.Figure) -> str:
    return f'<div class="figure">{figure_html(figure)}</div>'


def _study(report: Report) -> str:
    f = report.facts
    saved = f.epochs_without_pruning - f.epochs_run
    share = f" ({saved / f.epochs_without_pruning:.0%})" if f.epochs_without_pruning else ""
    rows = {
        "trials": f.n_trials,
        "completed": f.n_complete,
        "pruned": f.n_pruned,
        "failed": f.n_failed,
        "running or waiting": f.n_unfinished,
        "total compute (finished trials)": f"{f.compute_seconds / 60:.1f} min",
        "epochs run": f.epochs_run,
        "epochs without pruning": f.epochs_without_pruning,
        "epochs saved by pruning": f"{saved}{share}",
        "sampler": f.sampler,
        "pruner": f.pruner,
        "seed": f.seed,
        "protocol": ", ".join(f"{k} {_text(v)}" for k, v in f.protocol.items()),
    }
    if f.best_number is not None:
        rows["best trial"] = f"#{f.best_number}, validation accuracy {f.best_value:.4f}"
        rows["best parameters"] = _params(f.best_params)
    return _pairs(rows)


def _origin(report: Report, figure_html: FigureHTML) -> str:
    o = report.origin
    title = '<h3 id="origin">Where the best trial came from</h3>'
    if o.until_best is None or o.whole_study is None:
        return title + _missing(o.missing or "no best trial")
    if not o.enqueued:
        how = f"sampled by the sampler ({report.facts.sampler})"
    elif o.sampler_chose:
        how = (
            f"enqueued by hand with {_params(o.enqueued_params)}; the sampler chose "
            + ", ".join(o.sampler_chose)
        )
    else:
        how = f"enqueued by hand ({_params(o.enqueued_params)})"
    if o.retry_of is not None:
        how += f", a retry of trial #{o.retry_of}"
    until, whole = o.until_best, o.whole_study
    spent = pd.DataFrame(
        [
            _spent_row("trials started", until.trials_started, whole.trials_started),
            _spent_row("epochs trained (finished trials)", until.epochs_run, whole.epochs_run),
            _spent_row(
                "minutes since the first trial started",
                until.seconds / 60,
                whole.seconds / 60,
                "{:.1f}".format,
            ),
        ]
    )
    return "\n".join(
        [
            title,
            f"<p>Trial #{o.best_number} (validation accuracy {o.best_value:.4f}) was "
            f"{_e(how)}.</p>",
            _table(spent),
            _figure(figure_html, best_so_far(o)),
        ]
    )


def _spent_row(
    name: str, part: float, total: float, text: Callable[[float], str] = "{:.0f}".format
) -> dict[str, str]:
    return {
        "": name,
        "until the best trial completed": text(part),
        "whole study": text(total),
        "share": f"{part / total:.0%}" if total else "-",
    }


def _search(report: Report, study: optuna.Study, figure_html: FigureHTML) -> str:
    parts = [_origin(report, figure_html)]
    for name, (title, _) in SEARCH_PLOTS.items():
        parts.append(f"<h3>{_e(title)}</h3>")
        if name in report.plot_missing:
            parts.append(_missing(report.plot_missing[name]))
            continue
        if name in report.plot_notes:
            parts.append(f"<p>{_e(report.plot_notes[name])}</p>")
        try:
            parts.append(_figure(figure_html, search_plot(study, name)))
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            parts.append(_missing(f"Optuna could not draw it ({exc})"))
    parts.append(f"<h3>Top {len(report.top_trials)} trials by validation accuracy</h3>")
    parts.append(
        _top_trials(report.top_trials) if len(report.top_trials) else _missing("no trials")
    )
    return "\n".join(parts)


# The top-trials columns that are not parameters, in the order shown; the end note and the
# per-epoch seconds are left out.
_TRIAL_COLUMNS = ("number", "state", "val_accuracy", "duration", "best_epoch", "epochs_run")
_LEFT_OUT = ("end", "seconds_per_epoch")


def _top_trials(top: pd.DataFrame) -> str:
    """The table with the parameters in one wrapping column: a column each would run past an
    A4 page's right edge (13 columns for the default space, 19 for the accurate one)."""
    params = [c for c in top.columns if c not in (*_TRIAL_COLUMNS, "n_params", *_LEFT_OUT)]
    shown = top[[c for c in (*_TRIAL_COLUMNS, "n_params") if c in top.columns]].copy()
    shown["parameters"] = [
        _params({name: row[name] for name in params if pd.notna(row[name])})
        for _, row in top.iterrows()
    ]
    shown = shown.rename(columns=lambda name: name.replace("_", " "))  # headers may wrap
    return _table(shown, _short, classes="top")


def _comparison(report: Report, figure_html: FigureHTML) -> str:
    c = report.comparison
    if c is None:
        return _missing(report.comparison_missing or "nothing to compare")
    seeds = [run.seed for run in c.best.runs]
    summary = pd.DataFrame(
        [
            {
                "model": arm.label,
                "test accuracy": _mean_std(arm.mean_accuracy, arm.std_accuracy, len(arm.runs)),
                "per seed": ", ".join(f"{a:.4f}" for a in arm.accuracies),
                "parameters": f"{arm.n_params:,}",
                "training s / run": f"{arm.mean_train_seconds:.1f}",
                "configuration": _params(arm.config),
            }
            for arm in (c.baseline, c.best)
        ]
    )
    tests = pd.DataFrame(
        [
            {
                "seed": m.seed,
                "only baseline right (b)": m.only_baseline_right,
                "only best right (c)": m.only_best_right,
                "p-value (exact McNemar)": f"{m.p_value:.3g}",
            }
            for m in c.mcnemar
        ]
    )
    f1 = pd.DataFrame(
        {
            f"F1 {arm.label}": np.mean(
                [[row["f1"] for row in run.per_class] for run in arm.runs], axis=0
            )
            for arm in (c.baseline, c.best)
        },
        index=pd.Index(CLASS_NAMES, name="class"),
    )
    f1["best - baseline"] = f1.iloc[:, 1] - f1.iloc[:, 0]
    f1 = f1.reset_index()
    note = "reused from the cache" if c.from_cache else "trained for this report"
    return "\n".join(
        [
            f"<p>Both configurations were retrained from scratch on {c.train_images:,} training "
            f"images for {_plural(c.epochs, 'epoch')} each (no early stopping, no validation "
            f"split), with seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}, and "
            f"scored once on {c.test_images:,} test "
            f"images; nothing was selected on the test set. Results {note}.</p>",
            _table(summary),
            "<h3>Paired test on the test predictions</h3>",
            "<p>McNemar's exact test per seed: of the images exactly one model gets right, "
            "does each win half? A small p-value says the difference is not chance.</p>",
            _table(tests),
            "<h3>Per-class F1 (mean over seeds)</h3>",
            _table(f1),
            _figure(figure_html, f1_bars(c)),
            "<h3>Confusion matrices (rows: true class)</h3>",
            '<div class="side">'
            + _figure(figure_html, confusion(c.baseline))
            + _figure(figure_html, confusion(c.best))
            + "</div>",
            "<h3>Learning curves</h3>",
            _figure(figure_html, learning_curves(c)),
        ]
    )


def _png(pixels: np.ndarray, scale: int = 3) -> str:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels, mode="L")
    image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _failures(report: Report, columns: int = 8) -> str:
    c = report.comparison
    if c is None:
        return _missing(report.comparison_missing or "no retrained model")
    cells = [
        f'<td><img alt="test image {m.index}" src="{_png(m.pixels)}"><br>'
        f"#{m.index}<br>true: {_e(CLASS_NAMES[m.true])}<br>"
        f"predicted: {_e(CLASS_NAMES[m.predicted])} ({m.confidence:.0%})</td>"
        for m in c.mistakes
    ]
    rows = [
        "<tr>" + "".join(cells[i : i + columns]) + "</tr>" for i in range(0, len(cells), columns)
    ]
    return "\n".join(
        [
            "<h3>Most confused class pairs (best configuration, all seeds)</h3>",
            _table(c.confused_pairs, "{:.1%}") if len(c.confused_pairs) else _missing("no errors"),
            f"<h3>The {len(c.mistakes)} most confident mistakes (seed {c.best.runs[0].seed})</h3>",
            f'<table class="grid">{"".join(rows)}</table>' if rows else _missing("no mistakes"),
        ]
    )


def _provenance(report: Report) -> str:
    p = report.provenance
    versions = pd.DataFrame(
        [
            {"library": k, "report": v, "study": p["study_versions"].get(k, "-")}
            for k, v in p["versions"].items()
        ]
    )
    checksums = pd.DataFrame(
        {"file": list(p["checksums"]), "SHA-256 of the payload": list(p["checksums"].values())}
    )
    return "\n".join(
        [
            f"<h3>Command</h3><pre>{_e(p['command'])}</pre>",
            _pairs(
                {
                    "CPU": p["cpu"],
                    "data folder": p["data_source"] or "-",
                    "data identical to the study's": "yes" if p["checksums_match_study"] else "no",
                    "study seed (sampler, trial seeds)": p["study_seed"],
                    "split seed": p["split_seed"],
                    "retraining seeds": ", ".join(map(str, p["retrain_seeds"])) or "-",
                }
            ),
            "<h3>Library versions</h3>",
            _table(versions),
            "<h3>Data checksums</h3>",
            _table(checksums),
        ]
    )

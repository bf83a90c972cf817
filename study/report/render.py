"""Laying the report out as one HTML page: tables from pandas, figures from plotly.

The same layout serves both outputs: ``report.html`` embeds plotly.js once and draws
interactive figures; the PDF's page gets each figure as a static SVG (kaleido) instead. This
module decides nothing about the numbers; ``study.report`` computes them. Every word comes
from the ``Language``'s catalogue: the code holds English msgids.
"""

from __future__ import annotations

import base64
from typing import Any

import optuna
import pandas as pd
import plotly.graph_objects as go

from study.report import comparison_page, front_page
from study.report.blocks import (
    FigureHTML,
    escape,
    figure,
    heading,
    missing,
    pairs,
    paragraph,
    params,
    table,
)
from study.report.exports import exports_html
from study.report.figures import SEARCH_PLOTS, best_so_far, search_plot
from study.report.language import N_, Language
from study.report.summary import IMPORTANCES_RELIABLE_FROM, NO_COMPARISON, Report

# What study.provenance records for a report library that is missing.
NOT_INSTALLED = N_("not installed")
SECTIONS = {
    "study": N_("The study"),
    "search": N_("How the search went"),
    "comparison": N_("Best versus baseline, retrained and tested"),
    "failures": N_("Where the best model fails"),
    "provenance": N_("What produced this report"),
}
# A study with a size objective gets one more section, after the search's.
FRONT_SECTION = ("front", N_("Accuracy against size"))

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
                                                  overflow-wrap: break-word; }
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


def static_figure(figure: go.Figure, alt: str = "figure") -> str:
    """A figure as an inline SVG image (kaleido; needs Chromium)."""
    svg = figure.to_image(format="svg")
    source = f"data:image/svg+xml;base64,{base64.b64encode(svg).decode()}"
    return f'<img alt="{escape(alt)}" src="{source}">'


def page(
    report: Report,
    study: optuna.Study,
    figure_html: FigureHTML,
    head: str = "",
    t: Language | None = None,
) -> str:
    """The whole report as one self-contained HTML document.

    Args:
        report: the computed report.
        study: the study, for Optuna's plots.
        figure_html: turns a plotly figure into HTML (interactive or static).
        head: extra ``<head>`` content, e.g. the embedded plotly.js.
        t: the report's language; English by default.
    """
    t = t or Language()
    title = t.gettext("LeNet-5 study '{name}': report").format(name=report.facts.name)
    written = t.gettext("Written on {date}.").format(date=t.date(report.written))
    sections = [
        ("study", _study(report, t) + exports_html(report.exports, t)),
        ("search", _search(report, study, figure_html, t)),
        ("comparison", comparison_page.comparison(report, figure_html, t)),
        ("failures", comparison_page.failures(report, t)),
        ("provenance", _provenance(report, t)),
    ]
    titles = dict(SECTIONS)
    if len(report.objectives) > 1:
        front = (
            front_page.front(report.front, figure_html, t)
            if report.front is not None
            else missing(t, t.gettext(report.comparison_missing or NO_COMPARISON))
        )
        sections.insert(2, (FRONT_SECTION[0], front))
        titles[FRONT_SECTION[0]] = FRONT_SECTION[1]
    numbered = {
        key: f"{number}. {t.gettext(titles[key])}"
        for number, (key, _) in enumerate(sections, start=1)
    }
    links = " · ".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in numbered.items())
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(written)}</p>",
        f"<nav>{links}</nav>",
        *(_section(numbered[key], key, content) for key, content in sections),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{t.code}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style>{head}</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _section(title: str, key: str, content: str) -> str:
    return f'<section id="{key}">\n<h2>{escape(title)}</h2>\n{content}\n</section>'


def _method(t: Language, name: str) -> str:
    """A sampler's or pruner's name as the command line spells it; the common words in the
    report's language."""
    words = {
        "random": t.pgettext("sampler", "random"),
        "median": t.pgettext("pruner", "median"),
        "none": t.pgettext("pruner", "none"),
    }
    return words.get(name, name)


def _study(report: Report, t: Language) -> str:
    _ = t.gettext
    f = report.facts
    saved = f.epochs_without_pruning - f.epochs_run
    share = (
        f" ({t.number(saved / f.epochs_without_pruning, '.0%')})"
        if f.epochs_without_pruning
        else ""
    )
    pruner = _method(t, f.pruner)
    if f.screened_at is not None:
        pruner = _("{pruner}, start-up screened at epoch {epoch}").format(
            pruner=pruner, epoch=f.screened_at
        )
    rows: dict[str, Any] = {
        _("trials"): f.n_trials,
        _("completed"): f.n_complete,
        _("pruned"): f.n_pruned,
        _("failed"): f.n_failed,
        _("running or waiting"): f.n_unfinished,
        _("first trial started"): t.date(f.started) if f.started else None,
        _("total compute (finished trials)"): f"{t.number(f.compute_seconds / 60, '.1f')} min",
        _("epochs run"): f.epochs_run,
        _("epochs without pruning"): f.epochs_without_pruning,
        _("epochs saved by pruning"): f"{saved}{share}",
        _("sampler"): _method(t, f.sampler),
        _("pruner"): pruner,
        _("seed"): f.seed,
        _("protocol"): params(t, f.protocol),
    }
    if f.best_number is not None and f.best_value is not None:
        rows[_("best trial")] = _("#{number}, validation accuracy {value}").format(
            number=f.best_number, value=t.number(f.best_value, ".4f")
        )
        rows[_("best parameters")] = params(t, f.best_params)
    return pairs(t, rows)


def _origin(report: Report, figure_html: FigureHTML, t: Language) -> str:
    _ = t.gettext
    o = report.origin
    title = heading(_("Where the best trial came from"), anchor="origin")
    if o.until_best is None or o.whole_study is None or o.best_value is None:
        return title + missing(t, _(o.missing or N_("no trial has completed")))
    if not o.enqueued:
        how = _("sampled by the sampler ({sampler})").format(
            sampler=_method(t, report.facts.sampler)
        )
    elif o.sampler_chose:
        how = _("enqueued by hand with {params}; the sampler chose {chosen}").format(
            params=params(t, o.enqueued_params), chosen=", ".join(o.sampler_chose)
        )
    else:
        how = _("enqueued by hand ({params})").format(params=params(t, o.enqueued_params))
    if o.retry_of is not None:
        how = _("{how}, a retry of trial #{number}").format(how=how, number=o.retry_of)
    until, whole = o.until_best, o.whole_study
    spent = pd.DataFrame(
        [
            _spent_row(t, _("trials started"), until.trials_started, whole.trials_started),
            _spent_row(
                t, _("epochs trained (finished trials)"), until.epochs_run, whole.epochs_run
            ),
            _spent_row(
                t,
                _("minutes since the first trial started"),
                until.seconds / 60,
                whole.seconds / 60,
                ".1f",
            ),
        ]
    )
    sentence = _("Trial #{number} (validation accuracy {value}) was {how}.").format(
        number=o.best_number, value=t.number(o.best_value, ".4f"), how=how
    )
    return "\n".join(
        [
            title,
            paragraph(sentence),
            table(t, spent),
            figure(figure_html, best_so_far(o, t)),
        ]
    )


def _spent_row(
    t: Language, name: str, part: float, total: float, spec: str = ".0f"
) -> dict[str, str]:
    _ = t.gettext
    return {
        "": name,
        _("until the best trial completed"): t.number(part, spec),
        _("whole study"): t.number(total, spec),
        _("share"): t.number(part / total, ".0%") if total else "-",
    }


def _importances_note(t: Language, n_complete: int) -> str:
    if n_complete >= IMPORTANCES_RELIABLE_FROM:
        note = t.ngettext("From {n} completed trial.", "From {n} completed trials.", n_complete)
    else:
        note = t.ngettext(
            "From {n} completed trial; PED-ANOVA importances from fewer than ~{limit} trials "
            "are unreliable.",
            "From {n} completed trials; PED-ANOVA importances from fewer than ~{limit} trials "
            "are unreliable.",
            n_complete,
        )
    return note.format(n=n_complete, limit=IMPORTANCES_RELIABLE_FROM)


def _search(report: Report, study: optuna.Study, figure_html: FigureHTML, t: Language) -> str:
    _ = t.gettext
    parts = [_origin(report, figure_html, t)]
    n_complete = report.facts.n_complete
    for name, (title, _draw) in SEARCH_PLOTS.items():
        parts.append(heading(_(title)))
        if name in report.plot_missing:
            need = report.plot_missing[name]
            reason = t.ngettext(
                "needs at least {need} completed trial, the study has {n}",
                "needs at least {need} completed trials, the study has {n}",
                need,
            )
            parts.append(missing(t, reason.format(need=need, n=n_complete)))
            continue
        if name == "importances":
            parts.append(paragraph(_importances_note(t, n_complete)))
        try:
            parts.append(figure(figure_html, search_plot(study, name, t)))
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            reason = _("Optuna could not draw it ({error})").format(error=exc)
            parts.append(missing(t, reason))
    n_top = len(report.top_trials)
    top = t.ngettext(
        "The top trial by validation accuracy", "Top {n} trials by validation accuracy", n_top
    )
    parts.append(heading(top.format(n=n_top)))
    parts.append(_top_trials(report.top_trials, t) if n_top else missing(t, _("no trials")))
    return "\n".join(parts)


# The top-trials columns that are not parameters, in the order shown, with their headers; the
# end note and the per-epoch seconds are left out, and a size objective's columns, which the
# accuracy-size section shows (params repeats n params).
_TRIAL_COLUMNS = {
    "number": N_("number"),
    "state": N_("state"),
    "val_accuracy": N_("val accuracy"),
    "duration": N_("duration (s)"),
    "best_epoch": N_("best epoch"),
    "epochs_run": N_("epochs run"),
    "n_params": N_("n params"),
}
_LEFT_OUT = ("end", "seconds_per_epoch", "params", "macs", "front")


def _states(t: Language) -> dict[str, str]:
    """Optuna's trial states, as ``trials_dataframe`` writes them."""
    return {
        "COMPLETE": t.pgettext("trial state", "COMPLETE"),
        "PRUNED": t.pgettext("trial state", "PRUNED"),
        "FAIL": t.pgettext("trial state", "FAIL"),
        "RUNNING": t.pgettext("trial state", "RUNNING"),
        "WAITING": t.pgettext("trial state", "WAITING"),
    }


def _top_trials(top: pd.DataFrame, t: Language) -> str:
    """The table with the parameters in one wrapping column: a column each would run past an
    A4 page's right edge (13 columns for the default space, 19 for the accurate one)."""
    param_names = [c for c in top.columns if c not in (*_TRIAL_COLUMNS, *_LEFT_OUT)]
    shown = top[[c for c in _TRIAL_COLUMNS if c in top.columns]].copy()
    if "state" in shown:
        shown["state"] = shown["state"].map(lambda s: _states(t).get(s, s))
    if "val_accuracy" in shown:
        shown["val_accuracy"] = shown["val_accuracy"].map(
            lambda v: "-" if pd.isna(v) else t.number(v, ".4f")
        )
    shown[t.pgettext("top trials", "parameters")] = [
        params(t, {name: row[name] for name in param_names if pd.notna(row[name])})
        for _, row in top.iterrows()
    ]
    shown = shown.rename(
        columns=lambda c: t.gettext(_TRIAL_COLUMNS[c]) if c in _TRIAL_COLUMNS else c
    )
    return table(t, shown, classes="top")


def _provenance(report: Report, t: Language) -> str:
    _ = t.gettext
    p = report.provenance
    keys = {
        "backend": t.pgettext("version", "backend"),
        "platform": t.pgettext("version", "platform"),
        "cpu": t.pgettext("version", "cpu"),
    }
    versions = pd.DataFrame(
        [
            {
                _("library"): keys.get(k, k),
                _("report"): _(v) if v == NOT_INSTALLED else v,
                _("study"): p["study_versions"].get(k, "-"),
            }
            for k, v in p["versions"].items()
        ]
    )
    checksums = pd.DataFrame(
        {
            _("file"): list(p["checksums"]),
            _("SHA-256 of the payload"): list(p["checksums"].values()),
        }
    )
    same = p["checksums_match_study"]
    cores = p["logical_cores"] or 0
    return "\n".join(
        [
            heading(_("Command")) + f"<pre>{escape(p['command'])}</pre>",
            pairs(
                t,
                {
                    _("CPU"): t.ngettext(
                        "{cpu}, {n} logical core", "{cpu}, {n} logical cores", cores
                    ).format(cpu=p["cpu_model"], n=cores),
                    _("data folder"): p["data_source"] or "-",
                    _("data identical to the study's"): _("yes") if same else _("no"),
                    _("study seed (sampler, trial seeds)"): p["study_seed"],
                    _("split seed"): p["split_seed"],
                    _("retraining seeds"): ", ".join(map(str, p["retrain_seeds"])) or "-",
                },
            ),
            heading(_("Library versions")),
            table(t, versions),
            heading(_("Data checksums")),
            table(t, checksums),
        ]
    )

"""The accuracy-against-size section of the report page (a study with a size objective): the
front's figure and trials, the hyperparameters that move along it, and the chosen front
trials retrained against the classic LeNet-5, laid out in the report's ``Language``."""

from __future__ import annotations

import pandas as pd

from study.report.blocks import (
    FigureHTML,
    figure,
    heading,
    missing,
    paragraph,
    params,
    table,
    value_text,
)
from study.report.comparison_page import mean_std
from study.report.figures import front_figure
from study.report.front import BAR_TRIAL, ROLES, FrontSection
from study.report.language import N_, Language

# The model's widths, a column each in the front's table; every other parameter in one.
WIDTHS = ("c1_filters", "c3_filters", "c5_units", "f6_units")
SIZE_NAMES = {"params": N_("parameters"), "macs": N_("multiply-accumulates per image")}


def front(section: FrontSection, figure_html: FigureHTML, t: Language) -> str:
    """The whole section."""
    _ = t.gettext
    size = _(SIZE_NAMES[section.objective])
    intro = _(
        "Each completed trial's validation accuracy against its {size}; the step line joins the "
        "front, the trials no other trial beats on both accuracy and size. The classic LeNet-5 "
        "has {classic} {size}."
    ).format(size=size, classic=t.integer(section.classic_size))
    if section.classic_trial is not None and section.classic_accuracy is not None:
        classic = _(
            "Trial #{number} trained the classic LeNet-5 as the baseline is trained: "
            "validation accuracy {value}."
        ).format(number=section.classic_trial, value=t.number(section.classic_accuracy, ".4f"))
    else:
        classic = _(
            "No trial trained the classic LeNet-5, so its validation accuracy was not measured "
            "as the trials' was: the figure marks its size only."
        )
    return "\n".join(
        [
            paragraph(f"{intro} {classic}"),
            figure(figure_html, front_figure(section, t)),
            heading(_("The front's trials, smallest first")),
            _front_table(section, size, t),
            heading(_("Which hyperparameters move along the front")),
            paragraph(
                _(
                    "Each hyperparameter's values from the smallest front trial to the largest, "
                    "and for a numeric or true/false one its Spearman rank correlation with size "
                    "over the front's trials (+1: it grows with size, -1: it shrinks; - for text "
                    "values, a constant or fewer than three trials)."
                )
            ),
            _movement_table(section, t),
            heading(_("Front trials retrained against the classic LeNet-5")),
            _retrained(section, size, t),
        ]
    )


def _front_table(section: FrontSection, size: str, t: Language) -> str:
    _ = t.gettext
    rows = []
    for point in section.front:
        row = {
            _("trial"): point.number,
            size: t.integer(int(point.size)),
            _("val accuracy"): t.number(point.accuracy, ".4f"),
        }
        row.update({name: point.params.get(name) for name in WIDTHS})
        others = {k: v for k, v in point.params.items() if k not in WIDTHS}
        row[_("other parameters")] = params(t, others)
        rows.append(row)
    return table(t, pd.DataFrame(rows), classes="top")


def _movement_table(section: FrontSection, t: Language) -> str:
    _ = t.gettext
    frame = pd.DataFrame(
        [
            {
                _("hyperparameter"): m.name,
                _("rank correlation with size"): "-" if m.rho is None else t.number(m.rho, "+.2f"),
                _("smallest to largest"): " → ".join(value_text(t, v) for v in m.values),
            }
            for m in section.movement
        ]
    )
    return table(t, frame, classes="top")


def _rule(section: FrontSection, t: Language) -> str:
    """How the three front trials were chosen, in words."""
    _ = t.gettext
    bar = t.number(section.bar or 0.0, ".4f")
    if section.bar_source == BAR_TRIAL:
        beats = _(
            "“Beats the classic LeNet-5” means a validation accuracy above {value}, the "
            "classic configuration's in trial #{number}."
        ).format(value=bar, number=section.classic_trial)
    else:
        beats = _(
            "The classic LeNet-5 has no validation accuracy measured as the trials' is (the "
            "retraining uses no validation split), so “beats the classic LeNet-5” means a "
            "validation accuracy above the retrained classic model's mean test accuracy, {value}. "
            "A study that trains on fewer images or epochs than the retraining measures lower "
            "validation accuracies, so this rule errs towards a larger trial."
        ).format(value=bar)
    knee = _(
        "The knee is the front trial farthest above the line joining the front's ends, with "
        "accuracy and log size each scaled to [0, 1]: where more size stops buying much "
        "accuracy; a front with no trial above that line has none. A trial that is several "
        "of these is retrained once."
    )
    return f"{beats} {knee}"


def _retrained(section: FrontSection, size: str, t: Language) -> str:
    _ = t.gettext
    parts = [paragraph(_rule(section, t))]
    if not any("smallest" in pick.roles for pick in section.picks):
        reason = _("no front trial's validation accuracy exceeds {value}").format(
            value=t.number(section.bar or 0.0, ".4f")
        )
        smallest = _("the smallest trial beating the classic LeNet-5: {reason}")
        parts.append(missing(t, smallest.format(reason=reason)))
    if not section.picks:
        return "\n".join(parts)
    summary = pd.DataFrame(
        [
            {
                _("trial"): pick.number,
                _("chosen as"): t.listing([_(ROLES[role]) for role in pick.roles]),
                _("val accuracy"): t.number(pick.accuracy, ".4f"),
                _("parameters"): t.integer(pick.n_params),
                _("MACs"): t.integer(pick.macs),
                _("test accuracy"): mean_std(t, pick.arm),
                _("per seed"): t.listing([t.number(a, ".4f") for a in pick.arm.accuracies]),
                _("configuration"): params(t, pick.arm.config),
            }
            for pick in section.picks
        ]
    )
    tests = pd.DataFrame(
        [
            {
                _("trial"): pick.number,
                _("seed"): m.seed,
                _("only classic right (b)"): m.only_baseline_right,
                _("only the trial right (c)"): m.only_best_right,
                _("p-value (exact McNemar)"): t.number(m.p_value, ".3g"),
            }
            for pick in section.picks
            for m in pick.mcnemar
        ]
    )
    cache = (
        _("Results reused from the cache.")
        if section.from_cache
        else _("Results trained for this report.")
    )
    parts += [
        paragraph(
            _(
                "Each trial retrained as the best one is in the comparison (the same images, "
                "epochs and seeds), with McNemar's exact test against the classic LeNet-5 per "
                "seed. MACs: multiply-accumulates per image."
            )
            + " "
            + cache
        ),
        table(t, summary),
        table(t, tests),
    ]
    return "\n".join(parts)

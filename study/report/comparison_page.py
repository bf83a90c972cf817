"""Sections 3 and 4 of the report page: the retrained comparison, its paired test and the best
model's mistakes, laid out in the report's ``Language``."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from PIL import Image

from study.report.blocks import (
    FigureHTML,
    escape,
    figure,
    heading,
    missing,
    paragraph,
    params,
    table,
)
from study.report.figures import arm_name, confusion, f1_bars, learning_curves
from study.report.language import Language
from study.report.summary import NO_COMPARISON, Arm, Mistake, Report


def mean_std(t: Language, arm: Arm) -> str:
    """``0.9012 ± 0.0021`` over several seeds; the bare mean for one, which has no spread."""
    mean = t.number(arm.mean_accuracy, ".4f")
    if len(arm.runs) > 1:
        return f"{mean} ± {t.number(arm.std_accuracy, '.4f')}"
    return t.gettext("{mean} (one seed)").format(mean=mean)


def comparison(report: Report, figure_html: FigureHTML, t: Language) -> str:
    """Section 3: both configurations retrained, side by side."""
    _ = t.gettext
    c = report.comparison
    if c is None:
        return missing(t, _(report.comparison_missing or NO_COMPARISON))
    seeds = [run.seed for run in c.best.runs]
    summary = pd.DataFrame(
        [
            {
                _("model"): arm_name(t, arm),
                _("test accuracy"): mean_std(t, arm),
                _("per seed"): t.listing([t.number(a, ".4f") for a in arm.accuracies]),
                _("parameters"): t.integer(arm.n_params),
                _("training s / run"): t.number(arm.mean_train_seconds, ".1f"),
                _("configuration"): params(t, arm.config),
            }
            for arm in (c.baseline, c.best)
        ]
    )
    tests = pd.DataFrame(
        [
            {
                _("seed"): m.seed,
                _("only baseline right (b)"): m.only_baseline_right,
                _("only best right (c)"): m.only_best_right,
                _("p-value (exact McNemar)"): t.number(m.p_value, ".3g"),
            }
            for m in c.mcnemar
        ]
    )
    f1 = pd.DataFrame(
        {
            _("F1 {model}").format(model=arm_name(t, arm)): np.mean(
                [[row["f1"] for row in run.per_class] for run in arm.runs], axis=0
            )
            for arm in (c.baseline, c.best)
        },
        index=pd.Index(t.class_names(), name=_("class")),
    )
    f1[_("best - baseline")] = f1.iloc[:, 1] - f1.iloc[:, 0]
    f1 = f1.reset_index()
    method = " ".join(
        [
            t.ngettext(
                "Both configurations were retrained from scratch on {images} training images "
                "for {n} epoch each (no early stopping, no validation split).",
                "Both configurations were retrained from scratch on {images} training images "
                "for {n} epochs each (no early stopping, no validation split).",
                c.epochs,
            ).format(images=t.integer(c.train_images), n=c.epochs),
            t.ngettext("Seed: {seeds}.", "Seeds: {seeds}.", len(seeds)).format(
                seeds=", ".join(map(str, seeds))
            ),
            _(
                "Each model was scored once on {images} test images; nothing was selected on "
                "the test set."
            ).format(images=t.integer(c.test_images)),
            _("Results reused from the cache.")
            if c.from_cache
            else _("Results trained for this report."),
        ]
    )
    paired = _(
        "McNemar's exact test per seed: of the images exactly one model gets right, does each "
        "win half? A small p-value says the difference is not chance."
    )
    return "\n".join(
        [
            paragraph(method),
            table(t, summary),
            heading(_("Paired test on the test predictions")),
            paragraph(paired),
            table(t, tests),
            heading(_("Per-class F1 (mean over seeds)")),
            table(t, f1, lambda v: t.number(v, ".4f")),
            figure(figure_html, f1_bars(c, t)),
            heading(_("Confusion matrices (rows: true class)")),
            '<div class="side">'
            + figure(figure_html, confusion(c.baseline, t))
            + figure(figure_html, confusion(c.best, t))
            + "</div>",
            heading(_("Learning curves")),
            figure(figure_html, learning_curves(c, t)),
        ]
    )


def _png(pixels: np.ndarray, scale: int = 3) -> str:
    buffer = io.BytesIO()
    image = Image.fromarray(pixels, mode="L")
    image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _mistake(t: Language, m: Mistake) -> str:
    """One grid cell: the image, its index, true and predicted class."""
    _ = t.gettext
    names = t.class_names()
    lines = [
        _("#{index}").format(index=m.index),
        _("true: {name}").format(name=names[m.true]),
        _("predicted: {name} ({confidence})").format(
            name=names[m.predicted], confidence=t.number(m.confidence, ".0%")
        ),
    ]
    alt = escape(_("test image {index}").format(index=m.index))
    text = "<br>".join(escape(line) for line in lines)
    return f'<td><img alt="{alt}" src="{_png(m.pixels)}"><br>{text}</td>'


def failures(report: Report, t: Language, columns: int = 8) -> str:
    """Section 4: the classes the best model confuses, and its most confident mistakes."""
    _ = t.gettext
    c = report.comparison
    if c is None:
        return missing(t, _(report.comparison_missing or NO_COMPARISON))
    names = t.class_names()
    cells = [_mistake(t, m) for m in c.mistakes]
    rows = [
        "<tr>" + "".join(cells[i : i + columns]) + "</tr>" for i in range(0, len(cells), columns)
    ]
    pairs = c.confused_pairs
    shown = pd.DataFrame(
        {
            _("true class"): [names[i] for i in pairs["true"]],
            _("predicted class"): [names[i] for i in pairs["predicted"]],
            _("images"): [t.integer(n) for n in pairs["count"]],
            _("share of true class"): [t.number(s, ".1%") for s in pairs["share of true class"]],
        }
    )
    n = len(c.mistakes)
    worst = t.ngettext(
        "The most confident mistake (seed {seed})",
        "The {n} most confident mistakes (seed {seed})",
        n,
    ).format(n=n, seed=c.best.runs[0].seed)
    return "\n".join(
        [
            heading(_("Most confused class pairs (best configuration, all seeds)")),
            table(t, shown) if len(pairs) else missing(t, _("no mistakes")),
            heading(worst),
            f'<table class="grid">{"".join(rows)}</table>'
            if rows
            else missing(t, _("no mistakes")),
        ]
    )

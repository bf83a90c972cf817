"""The report's table of the best model's checked exports (``export --format``), read from the
``best_model.json`` beside the report. Its words are in ``TEXT``, English msgids that the
report's ``Language`` translates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from study.report.blocks import escape, heading, paragraph
from study.report.language import N_, Language

TEXT = {
    "heading": N_("The best model, exported"),
    "none": N_(
        "No export of other formats beside this report: "
        "lenet-study export --format keras,onnx,litert writes them."
    ),
    "other_trial": N_(
        "The export beside this report is of trial {exported}, not of the best trial {best}: "
        "export again."
    ),
    "note": N_(
        "Each file scored on the {images} test images. Agreement: share of them on which its "
        "top-1 class is the Keras model's. Latency: median, on {cpu}."
    ),
    "format": N_("format"),
    "file": N_("file"),
    "size": N_("size (KB)"),
    "accuracy": N_("test accuracy"),
    "agreement": N_("agreement with Keras"),
    "one": N_("1 image (ms)"),
    "batch": N_("256 images (ms)"),
}
# Names, the same in every language.
FORMAT_NAMES = {
    "keras": "Keras",
    "onnx": "ONNX",
    "litert": "LiteRT float32",
    "litert_int8": "LiteRT int8",
}


def read_exports(folder: Path, best_trial: int | None) -> dict[str, Any] | None:
    """The checked formats of the export record in ``folder``; None when there is none.

    Returns:
        ``{"trial", "best_trial", "formats", "checked_on"}``, as ``best_model.json`` has them.
    """
    try:
        record = json.loads((folder / "best_model.json").read_text())
        checked_on, formats = record["formats_checked_on"], record["formats"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {
        "trial": record.get("trial_number"),
        "best_trial": best_trial,
        "formats": formats,
        "checked_on": checked_on,
    }


def exports_html(exports: dict[str, Any] | None, t: Language) -> str:
    """A heading, the table (one row per format) and a note; or a line saying why not."""
    _ = t.gettext
    title = heading(_(TEXT["heading"]))
    if exports is None:
        return title + paragraph(_(TEXT["none"]))
    if exports["trial"] != exports["best_trial"]:
        line = _(TEXT["other_trial"]).format(exported=exports["trial"], best=exports["best_trial"])
        return title + paragraph(line)
    columns = ("format", "file", "size", "accuracy", "agreement", "one", "batch")
    head = "".join(f"<th>{escape(_(TEXT[c]))}</th>" for c in columns)
    rows = []
    for name, entry in exports["formats"].items():
        agreement = entry.get("agreement")
        cells = (
            FORMAT_NAMES.get(name, name),
            entry["file"],
            t.number(entry["size_bytes"] / 1000, ",.0f"),
            t.number(entry["accuracy"], ".4f"),
            "-" if agreement is None else t.number(agreement, ".2%"),
            t.number(entry["latency_ms_1"], ".2f"),
            t.number(entry["latency_ms_256"], ".1f"),
        )
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    on = exports["checked_on"]
    note = _(TEXT["note"]).format(
        images=t.integer(on.get("test_images", 0)), cpu=on.get("cpu", "-")
    )
    return (
        f"{title}<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + paragraph(note)
    )

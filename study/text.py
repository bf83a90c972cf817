"""Text for people: counted nouns and aligned plain-text tables. Light to import."""

from __future__ import annotations

from collections.abc import Sequence


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``: "1 trial", "0 trials", "3 trials".

    Args:
        count: how many.
        noun: the singular.
        many: the plural where it is not ``noun`` + "s" ("1 study", "2 studies").
    """
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def table(rows: Sequence[Sequence[str]], align: str = "", gap: str = "  ") -> str:
    """Rows of cells as aligned plain text, each column as wide as its widest cell.

    Args:
        rows: the header first, if any; every row has the same number of cells.
        align: one letter per column, "l" (left) or "r" (right); columns without one are "l".
        gap: what separates the columns.

    Returns:
        The lines, joined by newlines, without trailing spaces.

    Raises:
        ValueError: the rows differ in length, or ``align`` has another letter.
    """
    if not rows:
        return ""
    columns = len(rows[0])
    if any(len(row) != columns for row in rows):
        raise ValueError("every row of a table needs the same number of cells")
    if set(align) - {"l", "r"}:
        raise ValueError(f"align takes 'l' and 'r' only, got {align!r}")
    sides = align.ljust(columns, "l")
    widths = [max(len(row[i]) for row in rows) for i in range(columns)]
    return "\n".join(
        gap.join(
            cell.rjust(width) if side == "r" else cell.ljust(width)
            for cell, width, side in zip(row, widths, sides, strict=False)
        ).rstrip()
        for row in rows
    )

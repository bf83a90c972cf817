"""study.text: counted nouns and aligned tables."""

from __future__ import annotations

import pytest

from study.text import plural, table


@pytest.mark.parametrize(
    ("count", "noun", "many", "expected"),
    [
        (1, "trial", None, "1 trial"),
        (0, "trial", None, "0 trials"),
        (3, "earlier trial", None, "3 earlier trials"),
        (1, "study", "studies", "1 study"),
        (2, "study", "studies", "2 studies"),
        (-1, "epoch", None, "-1 epochs"),
    ],
)
def test_plural_counts_a_noun(count, noun, many, expected):
    assert plural(count, noun, many) == expected


def test_a_table_aligns_each_column_to_its_widest_cell_without_trailing_spaces():
    rows = [("name", "trials", "note"), ("a", "10", ""), ("longer", "2", "kept")]
    assert table(rows, align="lr").splitlines() == [
        "name    trials  note",
        "a           10",
        "longer       2  kept",
    ]


def test_a_table_takes_another_gap_and_an_empty_one_is_empty():
    assert table([("a", "bb"), ("ccc", "d")], gap=" | ") == "a   | bb\nccc | d"
    assert table([]) == ""


@pytest.mark.parametrize(
    ("rows", "align"), [([("a", "b"), ("c",)], ""), ([("a", "b")], "lc")], ids=["ragged", "align"]
)
def test_a_table_refuses_ragged_rows_and_unknown_alignments(rows, align):
    with pytest.raises(ValueError):
        table(rows, align=align)

"""``lenet-study bench``'s sections as sub-commands, and the older ``--section`` spelling."""

from __future__ import annotations

import argparse

import pytest

from study.cli import build_parser
from study.commands.bench import SECTIONS, section_argv


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        (["bench"], ["bench", "cost"]),
        (["bench", "--quick"], ["bench", "cost", "--quick"]),
        (["bench", "--section", "peers", "--quick"], ["bench", "peers", "--quick"]),
        (["bench", "--quick", "--section=speed"], ["bench", "speed", "--quick"]),
        (["bench", "predict", "--rounds", "2"], ["bench", "predict", "--rounds", "2"]),
        (["bench", "--help"], ["bench", "--help"]),
        (["run", "--section", "peers"], ["run", "--section", "peers"]),
    ],
)
def test_the_section_option_and_a_bare_bench_read_as_sub_commands(typed, read):
    assert section_argv(typed) == read


def _sections() -> dict[str, argparse.ArgumentParser]:
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    (sections,) = [
        a for a in commands.choices["bench"]._actions if isinstance(a, argparse._SubParsersAction)
    ]
    return dict(sections.choices)


def test_every_section_is_a_sub_command_whose_options_have_help():
    assert set(_sections()) == set(SECTIONS)
    for name, parser in _sections().items():
        for action in parser._actions:
            assert action.help, f"bench {name} {action.option_strings} has no help"


@pytest.mark.parametrize(
    ("section", "flag", "owners"),
    [
        ("cost", "--rounds", "bench speed or bench predict"),
        ("peers", "--export", "bench predict"),
        ("predict", "--budget", "bench peers or bench front"),
        ("front", "--preset", "bench peers"),
        ("peers", "--seeds", "bench front"),
    ],
)
def test_an_option_of_another_section_names_its_section(section, flag, owners, capsys):
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["bench", section, flag, "1"])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert f"lenet-study bench {section}: error: {flag}: only with {owners}" in err


def test_an_unknown_option_is_still_unknown(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "speed", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err

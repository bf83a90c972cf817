"""``run``'s options, declared once on ``RunSettings``: every field round-trips through argv."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from study import options
from study.cli import build_parser
from study.commands.run import settings_of
from study.options import Option, Switches, option_of, options_argv
from study.settings import SINGLE_OBJECTIVE_PRUNERS, STORAGE_ENV, RunSettings
from study.workers import to_argv, worker_env

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda text: text.strip()
)
_PATHS = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\0")),
    min_size=1,
    max_size=3,
).map(lambda parts: Path(*parts))
# A strategy per parser: a field whose parser is not here has no way to be tested, and fails.
_BY_PARSER: dict[Any, st.SearchStrategy[Any]] = {
    options.positive_int: st.integers(1, 10**9),
    options.non_negative_int: st.integers(0, 10**9),
    options.positive_float: st.floats(min_value=0, exclude_min=True, allow_infinity=False),
    options.seed: st.integers(0, options.MAX_SEED),
    options.devices: st.lists(st.integers(0, 64), min_size=1, max_size=4).map(tuple),
    options.objectives: st.sampled_from(
        [("accuracy",), ("accuracy", "params"), ("accuracy", "macs")]
    ),
    Path: _PATHS,
    None: _TEXT,
}


def _values(field: dataclasses.Field[Any]) -> st.SearchStrategy[Any]:
    """What a user can give field ``field`` on the command line; None (left out) where that
    keeps the field's default of None."""
    declared = option_of(RunSettings, field.name)
    if declared is None:  # not an option: always its default
        return st.just(field.default)
    if isinstance(declared, Switches):
        return st.sampled_from([field.default, *(value for _, value, _ in declared.flags)])
    if declared.choices is not None:
        chosen = st.sampled_from(list(declared.choices))
    else:
        assert declared.type in _BY_PARSER, f"no strategy for {field.name}'s {declared.type}"
        chosen = _BY_PARSER[declared.type]
    return chosen | st.none() if field.default is None else chosen


@st.composite
def _run_settings(draw: st.DrawFn) -> RunSettings:
    values = {f.name: draw(_values(f)) for f in dataclasses.fields(RunSettings)}
    if values["max_trials"] is not None:  # --max-trials alone: the only trial limit
        values["n_trials"] = draw(st.none() | _values(_field("n_trials")))
    if values["space_file"] is not None and values["objectives"] is None:
        values["objectives"] = ("accuracy",)  # else the (drawn, missing) file is read for them
    several = len(values["objectives"] or ()) > 1
    if values["pruner"] in (SINGLE_OBJECTIVE_PRUNERS if several else ("front",)):
        values["pruner"] = None  # refused with these objectives; None resolves to what fits
    return RunSettings(**values)


def _field(name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(RunSettings) if f.name == name)


def _parsed(argv: list[str], environ: dict[str, str] | None = None) -> RunSettings:
    return settings_of(build_parser().parse_args(argv), environ or {})


def test_every_settings_field_declares_its_option_or_why_it_has_none():
    for field in dataclasses.fields(RunSettings):
        declared = option_of(RunSettings, field.name)  # raises for a bare field
        assert declared is not None or field.metadata["why"], field.name


def test_a_field_without_an_option_declaration_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Bare:
        count: int = 1

    with pytest.raises(TypeError, match=r"Bare\.count declares no option"):
        options_argv(Bare())


@settings(max_examples=300, deadline=None)
@given(_run_settings())
def test_every_field_round_trips_through_the_command_line(original):
    assert _parsed(["run", *options_argv(original)]) == original


@settings(max_examples=100, deadline=None)
@given(_run_settings())
def test_a_worker_command_line_and_environment_give_the_workers_settings(original):
    env = worker_env(original)
    expected = replace(
        original,
        storage=original.storage_url,
        workers=1,
        devices=None,  # a worker sees its GPU as CUDA_VISIBLE_DEVICES
        verbosity=max(original.verbosity, 1),
    )
    assert _parsed(to_argv(original), env) == expected


def test_no_worker_command_line_holds_the_storage_url_or_its_password():
    url = "postgresql://lenet:s3cret-pass@db.example:5432/studies"
    argv = to_argv(RunSettings.quick(storage=url, n_trials=3, threads=1))
    assert not any("s3cret-pass" in word or "postgresql" in word for word in argv)
    assert worker_env(RunSettings(storage=url)) == {STORAGE_ENV: url}
    # The URL is read from the environment by worker processes only.
    assert _parsed(["run"], {STORAGE_ENV: url}).storage is None


def test_a_study_name_that_starts_with_a_dash_reaches_the_workers():
    argv = to_argv(RunSettings(study_name="-odd", storage="sqlite:///x.db"))
    assert _parsed(argv).study_name == "-odd"


def test_the_worker_index_option_is_gone(capsys):
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["run", "--worker-index", "1"])
    assert raised.value.code == 2
    assert "unrecognized arguments: --worker-index" in capsys.readouterr().err


def test_options_are_spelled_as_one_word_each():
    assert Option("--seed", "").argv(3) == ["--seed=3"]
    assert Option("--seed", "").argv(None) == []

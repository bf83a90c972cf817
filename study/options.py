"""Command-line options declared once, as dataclass field metadata.

A settings field made with ``option(...)`` carries its flag, parser, help and argv spelling;
``add_options`` builds argparse arguments from those fields and ``options_argv`` spells a
settings object back as the same flags, so a parser and a command line never drift apart.
Light to import: no Keras, no Optuna.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Every seed a run derives (the study seed plus a trial number) must stay within NumPy's
# 0 .. 2**32 - 1, which Optuna's samplers and Keras' set_random_seed pass it to.
MAX_SEED = 2**31 - 1


def _int_at_least(text: str, low: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "0 or a positive integer")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def seed(text: str) -> int:
    value = _int_at_least(text, 0, f"a seed from 0 to {MAX_SEED}")
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to {MAX_SEED}, got {value}")
    return value


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number up to 65535, got {value}")
    return value


def names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def devices(text: str) -> tuple[int, ...]:
    from study.devices import parse_devices

    try:
        return parse_devices(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def objectives(text: str) -> tuple[str, ...]:
    from study.objectives import parse_objectives

    try:
        return parse_objectives(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--objectives: ")) from None


def comma_joined(values: Iterable[object]) -> str:
    """``(0, 1)`` -> ``"0,1"``: how ``devices`` reads it back."""
    return ",".join(str(value) for value in values)


@dataclass(frozen=True)
class Option:
    """One flag with a value. ``help`` is a ``str.format`` template (see ``add_options``)."""

    flag: str
    help: str
    type: Callable[[str], Any] | None = None  # parses and checks the text; None: a string
    choices: Sequence[str] | None = None
    metavar: str | None = None
    spell: Callable[[Any], str] = str  # the value as the text ``type`` reads back

    def add_to(self, parser: Any, dest: str, help: str, default: Any) -> None:
        parser.add_argument(
            self.flag,
            dest=dest,
            type=self.type,
            choices=self.choices,
            metavar=self.metavar,
            default=default,
            help=help,
        )

    def argv(self, value: Any) -> list[str]:
        # One word, so that a value starting with "-" (a study named "-x") is not a flag.
        return [] if value is None else [f"{self.flag}={self.spell(value)}"]


@dataclass(frozen=True)
class Switches:
    """Exclusive flags that each set one constant (``-v``: 2, ``-q``: 0); none: the default."""

    flags: tuple[tuple[tuple[str, ...], Any, str], ...]  # (spellings, value, help) each

    def add_to(self, parser: Any, dest: str, help: str, default: Any) -> None:
        group = parser.add_mutually_exclusive_group()
        for spellings, value, text in self.flags:
            group.add_argument(*spellings, dest=dest, action="store_const", const=value, help=text)

    def argv(self, value: Any) -> list[str]:
        return [spellings[-1] for spellings, const, _ in self.flags if const == value][:1]


def option(default: Any, flag: str, help: str, **details: Any) -> Any:
    """A dataclass field that is also the command-line option ``flag``; ``details`` are
    ``Option``'s ``type``, ``choices``, ``metavar`` and ``spell``."""
    return field(default=default, metadata={"option": Option(flag, help, **details)})


def switches(default: Any, *flags: tuple[tuple[str, ...], Any, str]) -> Any:
    """A dataclass field set by exclusive constant flags (see ``Switches``)."""
    return field(default=default, metadata={"option": Switches(tuple(flags))})


def no_option(default: Any, why: str) -> Any:
    """A dataclass field with no command-line option, and why (said once, next to it)."""
    return field(default=default, metadata={"option": None, "why": why})


def option_of(settings_class: type, name: str) -> Option | Switches | None:
    """The option declared on field ``name``.

    Raises:
        TypeError: the field was declared with neither ``option``, ``switches`` nor
            ``no_option``.
    """
    for f in dataclasses.fields(settings_class):
        if f.name == name:
            if "option" not in f.metadata:
                raise TypeError(
                    f"{settings_class.__name__}.{name} declares no option: make it with "
                    "option(...), switches(...) or no_option(...)"
                )
            declared: Option | Switches | None = f.metadata["option"]
            return declared
    raise AttributeError(f"{settings_class.__name__} has no field {name!r}")


def declared_options(settings_class: type) -> dict[str, Option | Switches]:
    """The fields of ``settings_class`` that are command-line options, in declared order."""
    found = {f.name: option_of(settings_class, f.name) for f in dataclasses.fields(settings_class)}
    return {name: declared for name, declared in found.items() if declared is not None}


def option_names(settings_class: type) -> list[str]:
    return list(declared_options(settings_class))


def add_options(
    parser: Any,
    settings_class: type,
    names: Iterable[str] | None = None,
    context: Mapping[str, Any] | None = None,
    helps: Mapping[str, str] | None = None,
    with_defaults: bool = False,
) -> None:
    """Adds the options of ``settings_class``'s fields ``names`` (default: all) to ``parser``.

    Each help template is formatted with ``default`` (an instance with every default) and
    ``context``; ``helps`` replaces a field's template where another command words it its
    own way. Without ``with_defaults`` an option left out parses as None, so that the caller
    can tell "not given" from the default; with it, as the field's default.
    """
    values = {"default": settings_class(), **(context or {})}
    for name in option_names(settings_class) if names is None else names:
        declared = option_of(settings_class, name)
        if declared is None:
            raise ValueError(f"{settings_class.__name__}.{name} is not a command-line option")
        template = (helps or {}).get(name, getattr(declared, "help", ""))
        default = getattr(values["default"], name) if with_defaults else None
        declared.add_to(parser, name, template.format(**values), default)


def given_options(settings_class: type, args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``settings_class`` that ``args`` holds a value for."""
    values = {name: getattr(args, name, None) for name in option_names(settings_class)}
    return {name: value for name, value in values.items() if value is not None}


def options_argv(settings: Any, leave_out: Iterable[str] = ()) -> list[str]:
    """The flags that give ``settings`` each of its option fields' values (None: no flag)."""
    skip = set(leave_out)
    argv: list[str] = []
    for name, declared in declared_options(type(settings)).items():
        if name not in skip:
            argv += declared.argv(getattr(settings, name))
    return argv

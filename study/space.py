"""The search space: read from a TOML file, validated, and turned into plain configs.

The default space is ``study/spaces/default.toml``; users copy and edit it and pass it with
``lenet-study run --space FILE``. Parameter names equal the ``ModelConfig`` / ``TrainConfig``
field names, so a trial's ``params`` rebuild its model with ``ModelConfig.from_params``.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)

from study.errors import UsageError
from study.objectives import parse_objectives

if TYPE_CHECKING:  # lenet imports TensorFlow; the CLI's --help should not wait for it
    from lenet import ModelConfig, TrainConfig

SPACES_DIR = Path(__file__).parent / "spaces"
# Training settings that define the protocol or the machine's speed, never the model.
_NOT_SEARCHABLE = {"epochs", "seed", "steps_per_execution", "jit_compile", "eval_batch_size"}


@dataclass(frozen=True)
class SearchSpace:
    """What a study searches, what it holds fixed, and the model-size limit."""

    params: Mapping[str, BaseDistribution]  # Optuna distributions by config field name
    fixed: Mapping[str, Any] = field(default_factory=dict)  # config values for every trial
    max_params: int | None = None  # larger models are pruned before training
    # Points to try first (Optuna's enqueue_trial), e.g. a known-good configuration; a point
    # may give some parameters only, the sampler picks the rest. Not part of the space's
    # identity: adding a point to a running study's file does not make its trials incomparable.
    enqueue: tuple[Mapping[str, Any], ...] = ()
    # What the study optimizes (study.objectives), when the file says; `run --objectives`
    # overrides it. Recorded in the manifest on its own, not as part of the space.
    objectives: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """A stable JSON description, stored in the study manifest to detect a changed space."""
        return {
            "params": {
                name: json.loads(distribution_to_json(dist))
                for name, dist in sorted(self.params.items())
            },
            "fixed": dict(sorted(self.fixed.items())),
            "max_params": self.max_params,
        }


def searchable_fields() -> set[str]:
    from lenet import ModelConfig, TrainConfig

    names = {f.name for f in dataclasses.fields(ModelConfig)}
    names |= {f.name for f in dataclasses.fields(TrainConfig)}
    return names - _NOT_SEARCHABLE


def _distribution(where: str, spec: Any) -> BaseDistribution:
    if not isinstance(spec, dict):
        raise UsageError(f"{where}: expected a table like {{ low = 1, high = 8 }}, got {spec!r}")
    keys = set(spec)
    if "choices" in keys:
        if keys != {"choices"}:
            raise UsageError(
                f"{where}: 'choices' cannot be combined with {sorted(keys - {'choices'})}"
            )
        if not isinstance(spec["choices"], list) or not spec["choices"]:
            raise UsageError(f"{where}: 'choices' must be a non-empty list")
        return CategoricalDistribution(spec["choices"])
    if not keys >= {"low", "high"} or not keys <= {"low", "high", "step", "log"}:
        raise UsageError(
            f"{where}: give 'choices', or 'low' and 'high' (with optional 'step' or 'log'); "
            f"got {sorted(keys)}"
        )
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise UsageError(f"{where}: 'low' and 'high' must be numbers")
    if low > high:
        raise UsageError(f"{where}: empty range, low {low} is above high {high}")
    if log and low <= 0:
        raise UsageError(f"{where}: a log range must stay above zero, got low {low}")
    try:
        if isinstance(low, int) and isinstance(high, int) and isinstance(spec.get("step", 1), int):
            return IntDistribution(low, high, log=log, step=spec.get("step", 1))
        return FloatDistribution(low, high, log=log, step=spec.get("step"))
    except ValueError as exc:  # Optuna's own checks, e.g. step with log
        raise UsageError(f"{where}: {exc}") from None


def parse_space(text: str, source: str = "space") -> SearchSpace:
    """Parses and validates a search-space TOML document.

    Raises:
        UsageError: one line naming the file and the problem: bad TOML, an unknown section
            or parameter, an empty range, a log range that reaches zero or below, a value
            the model or training refuses.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(document) - {"params", "fixed", "limits", "enqueue", "objectives"}
    if unknown:
        raise UsageError(
            f"{source}: unknown section(s) {sorted(unknown)}; use objectives, params, fixed, "
            "limits, enqueue"
        )
    objectives = _objectives(document.get("objectives"), source)
    known = searchable_fields()
    params = document.get("params", {})
    fixed = document.get("fixed", {})
    for name in [*params, *fixed]:
        if name not in known:
            raise UsageError(
                f"{source}: unknown parameter {name!r}; known: {', '.join(sorted(known))}"
            )
    if not params:
        raise UsageError(f"{source}: [params] is empty; a study needs something to search")
    both = set(params) & set(fixed)
    if both:
        raise UsageError(f"{source}: {sorted(both)} are both searched and fixed")
    limits = document.get("limits", {})
    if set(limits) - {"max_params"}:
        raise UsageError(f"{source}: [limits] takes only max_params")
    max_params = limits.get("max_params")
    if max_params is not None and (not isinstance(max_params, int) or max_params < 1):
        raise UsageError(f"{source}: max_params must be a positive integer, got {max_params!r}")
    distributions = {
        name: _distribution(f"{source}: {name}", spec) for name, spec in params.items()
    }
    space = SearchSpace(
        params=MappingProxyType(distributions),
        fixed=MappingProxyType(dict(fixed)),
        max_params=max_params,
        enqueue=_enqueued_points(document.get("enqueue", []), distributions, source),
        objectives=objectives,
    )
    _check_values(space, source)
    return space


def _enqueued_points(
    points: Any, params: Mapping[str, BaseDistribution], source: str
) -> tuple[Mapping[str, Any], ...]:
    """Checks each [[enqueue]] point: searched parameters only, values inside their ranges."""
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise UsageError(f"{source}: write enqueued points as [[enqueue]] tables")
    for number, point in enumerate(points, 1):
        where = f"{source}: [[enqueue]] point {number}"
        for name, value in point.items():
            if name not in params:
                raise UsageError(f"{where}: {name!r} is not a parameter in [params]")
            if not _contains(params[name], value):
                raise UsageError(f"{where}: {name} = {value!r} is outside its range or choices")
    return tuple(MappingProxyType(dict(point)) for point in points)


def _contains(dist: BaseDistribution, value: Any) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return any(type(value) is type(c) and value == c for c in dist.choices)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(dist, IntDistribution):
        return isinstance(value, int) and value in range(dist.low, dist.high + 1, dist.step)
    if isinstance(dist, FloatDistribution):
        # A stepped float range holds low + k * step; allow for binary rounding of the step.
        on_grid = (
            dist.step is None
            or abs((value - dist.low) / dist.step - round((value - dist.low) / dist.step)) < 1e-8
        )
        return bool(dist.low <= value <= dist.high and on_grid)
    return False


def _check_values(space: SearchSpace, source: str) -> None:
    """Builds configs from the fixed values, every choice and range end, and every enqueued
    point, so that a value the model or training would refuse is refused before any study."""
    from lenet import ModelConfig, TrainConfig

    def check(where: str, params: Mapping[str, Any]) -> None:
        try:
            to_configs({**space.fixed, **params}, ModelConfig(), TrainConfig())
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{source}: {where}: {exc}") from None

    check("[fixed]", {})
    for name, dist in space.params.items():
        if isinstance(dist, CategoricalDistribution):
            values = list(dist.choices)
        elif isinstance(dist, IntDistribution | FloatDistribution):
            values = [dist.low, dist.high]
        for value in values:
            check(f"[params] {name} = {value!r}", {name: value})
    for number, point in enumerate(space.enqueue, 1):
        check(f"[[enqueue]] point {number}", point)


def space_objectives(path: str | Path) -> tuple[str, ...] | None:
    """The objectives a space file names, if any, read without checking the rest of the file
    (which imports Keras): the settings need them before anything loads, even ``--help``.

    Raises:
        UsageError: the file cannot be read, is not TOML, or names bad objectives.
    """
    try:
        document = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"cannot read search space {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    return _objectives(document.get("objectives"), str(path))


def _objectives(objectives: Any, source: str) -> tuple[str, ...] | None:
    if objectives is None:
        return None
    if not isinstance(objectives, list) or not all(isinstance(o, str) for o in objectives):
        raise UsageError(f'{source}: write objectives as a list, e.g. ["accuracy", "params"]')
    return parse_objectives(objectives, f"{source}: objectives")


def load_space(path: str | Path) -> SearchSpace:
    """Reads a search-space file; see ``study/spaces/default.toml`` for the format."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read search space {path}: {exc.strerror}") from None
    return parse_space(text, str(path))


@cache
def default_space() -> SearchSpace:
    """The default space: activation, learning rate, batch size, dropout and filter counts."""
    return load_space(SPACES_DIR / "default.toml")


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Samples every parameter of ``space`` through the trial's public ``suggest_*`` API."""
    params: dict[str, Any] = {}
    for name, dist in space.params.items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        elif isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        else:
            raise ValueError(f"unsupported distribution for {name!r}: {dist!r}")
    return params


def to_configs(
    params: Mapping[str, Any], base_model: ModelConfig, base_train: TrainConfig
) -> tuple[ModelConfig, TrainConfig]:
    """Overlays parameters on base configs; names not in either config are an error."""
    model_fields = base_model.to_dict()
    train_fields = base_train.to_dict()
    unknown = set(params) - set(model_fields) - set(train_fields)
    if unknown:
        raise ValueError(f"parameters {sorted(unknown)} are not ModelConfig or TrainConfig fields")
    return (
        type(base_model).from_params({**model_fields, **params}),
        type(base_train).from_params({**train_fields, **params}),
    )

"""The report of a study with a size objective: its front, the front trials it retrains and
caches, the section's place in the page, its Spanish words; the single-objective page as was."""

from __future__ import annotations

import dataclasses
import json
import re
import sys

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution

import study.report.front_retrain
import study.report.retrain
from lenet import ModelConfig, TrainConfig, count_params
from study.cli import main
from study.objectives import Point
from study.report.figures import SEARCH_PLOTS, front_figure, search_plot
from study.report.front import (
    BAR_TEST,
    BAR_TRIAL,
    FrontPoint,
    choose,
    chosen_trials,
    front_section,
    movement,
)
from study.report.front_page import front
from study.report.front_retrain import retrain_front_or_load
from study.report.language import Language
from study.report.render import SECTIONS, _top_trials, interactive_figure, page
from study.report.retrain import (
    BASELINE_TRAIN,
    Candidate,
    RetrainResult,
    RetrainRun,
    RetrainSettings,
    load_cached,
    save,
)
from study.report.summary import summarize
from study.results import best_trial_or_none, trials_table

N_TEST = 20  # test images the hand-made runs predict
DISTRIBUTIONS = {
    "c1_filters": IntDistribution(2, 32),
    "c3_filters": IntDistribution(4, 64),
    "activation": CategoricalDistribution(["tanh", "relu"]),
}


def _run(seed: int, right: int, fashion) -> RetrainRun:
    """A run that gets the first ``right`` of the ``N_TEST`` test images right."""
    y = fashion.y_test[:N_TEST]
    predictions = [int(c) if i < right else int(c + 1) % 10 for i, c in enumerate(y)]
    per_class = [{"class": c, "f1": 0.5, "precision": 0.5, "recall": 0.5} for c in range(10)]
    return RetrainRun(
        seed, right / N_TEST, 0.5, per_class, np.eye(10, dtype=int).tolist(),
        {"loss": [1.0], "accuracy": [0.5]}, 1.0, 0, predictions, [0.9] * N_TEST,
    )  # fmt: skip


def _mo_study(points: list[tuple[float, float, int, int, str]]) -> optuna.Study:
    """A two-objective study of completed trials ``(accuracy, params, c1, c3, activation)``."""
    mo = optuna.create_study(directions=["maximize", "minimize"])
    mo.set_metric_names(["val_accuracy", "params"])
    mo.set_user_attr("manifest", {"objectives": ["accuracy", "params"], "protocol": {}})
    for accuracy, size, c1, c3, activation in points:
        mo.add_trial(
            optuna.trial.create_trial(
                values=[accuracy, size],
                params={"c1_filters": c1, "c3_filters": c3, "activation": activation},
                distributions=DISTRIBUTIONS,
                user_attrs={"epochs_run": 1, "n_params": int(size)},
            )
        )
    return mo


# Trials 0..5: the front is 0, 2, 3, 5 (1 and 4 are beaten by a smaller, more accurate one).
POINTS = [
    (0.80, 10_000, 4, 8, "relu"),
    (0.79, 20_000, 6, 8, "relu"),
    (0.86, 30_000, 8, 16, "tanh"),
    (0.88, 80_000, 12, 24, "relu"),
    (0.85, 90_000, 12, 32, "tanh"),
    (0.885, 400_000, 30, 64, "relu"),
]


def _settings() -> RetrainSettings:
    return RetrainSettings(
        baseline_model=ModelConfig.classic(),
        baseline_train=BASELINE_TRAIN,
        best_model=ModelConfig(c1_filters=30, c3_filters=64, activation="relu"),
        best_train=TrainConfig(),
        seeds=(0, 1),
        epochs=1,
    )


def _retrained(fashion, front_numbers=(2, 3)) -> RetrainResult:
    """The classic right on 17 of 20 images (0.85), the best (trial 5) on 19; each front
    trial ``n`` on ``14 + n``."""
    settings = _settings()
    candidates = [
        Candidate(n, ModelConfig(c1_filters=POINTS[n][2], c3_filters=POINTS[n][3]), TrainConfig())
        for n in front_numbers
    ]
    return RetrainResult(
        settings,
        baseline=[_run(s, 17, fashion) for s in settings.seeds],
        best=[_run(s, 19, fashion) for s in settings.seeds],
        test_indices=list(range(N_TEST)),
        front=tuple(
            study.report.retrain.FrontRuns(c, [_run(s, 14 + c.number, fashion) for s in (0, 1)])
            for c in candidates
        ),
    )


def test_choose_names_the_smallest_beating_the_bar_the_knee_and_the_most_accurate():
    front = [Point(n, a, s) for n, (a, s, *_) in enumerate(POINTS) if n in (0, 2, 3, 5)]
    # Above 0.85: trial 2 (0.86); the knee of 10k..400k is trial 2 too, retrained once.
    assert choose(front, 0.85) == [(2, ("smallest", "knee")), (5, ("accurate",))]
    assert choose(front, 0.87) == [(2, ("knee",)), (3, ("smallest",)), (5, ("accurate",))]
    assert choose(front, 0.9) == [(2, ("knee",)), (5, ("accurate",))]  # none beats it
    assert choose(front, 0.885) == [(2, ("knee",)), (5, ("accurate",))]  # beats: strictly
    assert choose(front[:1], 0.5) == [(0, ("smallest", "accurate"))]  # one point: no knee
    assert choose([], 0.5) == []


def test_movement_ranks_numbers_by_their_correlation_with_size_and_lists_text_last():
    points = [
        FrontPoint(0, 0.8, 10, {"c1": 4, "c3": 32, "act": "relu", "bn": False}),
        FrontPoint(1, 0.85, 20, {"c1": 8, "c3": 16, "act": "tanh", "bn": True}),
        FrontPoint(2, 0.9, 30, {"c1": 6, "c3": 8, "act": "relu", "bn": True}),
    ]
    moves = {m.name: m for m in movement(points)}
    assert moves["c3"].rho == pytest.approx(-1.0)
    assert moves["c1"].rho == pytest.approx(0.5)
    assert moves["bn"].rho == pytest.approx(np.sqrt(3) / 2)
    assert moves["act"].rho is None and moves["act"].values == ["relu", "tanh", "relu"]
    assert [m.name for m in movement(points)] == ["c3", "bn", "c1", "act"]
    assert all(m.rho is None for m in movement(points[:2]))  # two points: no correlation


def test_front_section_holds_the_front_the_picks_and_their_paired_tests(fashion):
    mo = _mo_study(POINTS)
    section = front_section(mo, ("accuracy", "params"), _retrained(fashion), fashion, 5)
    assert [p.number for p in section.front] == [0, 2, 3, 5]
    assert [p.number for p in section.points] == list(range(6))
    assert section.front[1].params == {"c1_filters": 8, "c3_filters": 16, "activation": "tanh"}
    assert section.classic_size == count_params(ModelConfig.classic()) == 61_706
    assert (section.bar, section.bar_source, section.classic_trial) == (0.85, BAR_TEST, None)
    # Above the classic's 0.85 test accuracy: trial 2, also the knee; 5 is the best trial's arm.
    assert [(p.number, p.roles) for p in section.picks] == [
        (2, ("smallest", "knee")),
        (5, ("accurate",)),
    ]
    two, five = section.picks
    assert two.arm.accuracies == [0.8, 0.8] and five.arm.accuracies == [0.95, 0.95]
    assert two.n_params == count_params(ModelConfig(c1_filters=8, c3_filters=16))
    # The classic right on 17 images, trial 2 on 16 of them: b = 1, c = 0.
    assert [(m.only_baseline_right, m.only_best_right) for m in two.mcnemar] == [(1, 0)] * 2
    assert [(m.only_baseline_right, m.only_best_right) for m in five.mcnemar] == [(0, 2)] * 2
    assert section.objective == "params"
    # Reused only when both the classic's and best's runs and the front's came from the cache.
    assert not section.from_cache
    cached = dataclasses.replace(_retrained(fashion), from_cache=True)
    assert front_section(mo, ("accuracy", "params"), cached, fashion, 5).from_cache
    trained = dataclasses.replace(cached, front_from_cache=False)
    assert not front_section(mo, ("accuracy", "params"), trained, fashion, 5).from_cache


def test_a_trial_of_the_classic_configuration_sets_the_bar_with_its_validation_accuracy(fashion):
    mo = _mo_study(POINTS)
    classic = ModelConfig.classic()
    mo.add_trial(  # trial 6: the classic shape, as the baseline is trained
        optuna.trial.create_trial(
            values=[0.87, 61_706],
            params={"c1_filters": classic.c1_filters, "c3_filters": classic.c3_filters,
                    "activation": classic.activation},
            distributions=DISTRIBUTIONS,
        )
    )  # fmt: skip
    section = front_section(mo, ("accuracy", "params"), _retrained(fashion), fashion, 5)
    assert (section.bar, section.bar_source) == (0.87, BAR_TRIAL)
    assert (section.classic_trial, section.classic_accuracy) == (6, 0.87)
    assert [p.number for p in section.front] == [0, 2, 6, 3, 5]
    smallest = [p.number for p in section.picks if "smallest" in p.roles]
    assert smallest == [3]  # 0.88 > 0.87; the classic itself does not beat itself
    figure = front_figure(section)
    (star,) = [trace for trace in figure.data if trace.marker.symbol == "star"]
    assert (star.x, star.y) == ((61_706,), (0.87,))


def test_the_figure_draws_the_front_as_steps_on_a_log_axis_and_the_classic_as_a_line(fashion):
    section = front_section(_mo_study(POINTS), ("accuracy", "params"), _retrained(fashion),
                            fashion, 5)  # fmt: skip
    figure = front_figure(section)
    assert figure.layout.xaxis.type == "log"
    grey, steps, circled, line = figure.data
    assert len(grey.x) == 6 and list(steps.customdata) == [0, 2, 3, 5]
    assert steps.line.shape == "hv"
    assert list(circled.x) == [p.n_params for p in section.picks]
    assert set(line.x) == {61_706} and "classic LeNet-5" in line.text


def _cache_result(fashion) -> RetrainResult:
    result = _retrained(fashion, front_numbers=())
    return RetrainResult(result.settings, result.baseline, result.best, result.test_indices)


def test_front_runs_are_cached_by_configuration_and_reused_without_training(
    tmp_path, fashion, monkeypatch
):
    cache = tmp_path / "retrain.json"
    base = _cache_result(fashion)
    save(cache, base)
    single = json.loads(cache.read_text())
    assert "front" not in single  # a single-objective study's file has no front entry
    trained: list[list[str]] = []

    def fake_train(settings, arms, data, progress=None, workers=1):
        trained.append(sorted(arms))
        return {name: [_run(s, 15, fashion) for s in settings.seeds] for name in arms}

    monkeypatch.setattr(study.report.front_retrain, "train_arms", fake_train)
    small = Candidate(2, ModelConfig(c1_filters=8), TrainConfig())
    knee = Candidate(3, ModelConfig(c1_filters=12), TrainConfig())
    first = retrain_front_or_load(base, [small, knee], fashion, cache)
    assert trained == [["trial #2", "trial #3"]] and not first.front_from_cache
    stored = cache.read_bytes()
    assert load_cached(cache, base.settings) is not None  # the base entry is still valid
    again = retrain_front_or_load(base, [small, knee], fashion, cache)
    assert len(trained) == 1 and again.front_from_cache and cache.read_bytes() == stored
    assert [f.runs for f in again.front] == [f.runs for f in first.front]
    # Another choice: only the new configuration trains; a forced run trains both.
    other = Candidate(3, ModelConfig(c1_filters=14), TrainConfig())
    retrain_front_or_load(base, [small, other], fashion, cache)
    assert trained[-1] == ["trial #3"]
    retrain_front_or_load(base, [small, other], fashion, cache, force=True)
    assert trained[-1] == ["trial #2", "trial #3"]


@pytest.mark.parametrize("content", ["{", "[]", '{"key": 1}'])
def test_an_unreadable_cache_retrains_the_front(tmp_path, fashion, monkeypatch, content):
    cache = tmp_path / "retrain.json"
    cache.write_text(content)
    calls = []
    monkeypatch.setattr(
        study.report.front_retrain,
        "train_arms",
        lambda settings, arms, *a, **k: (
            calls.append(arms) or {n: [_run(s, 15, fashion) for s in settings.seeds] for n in arms}
        ),
    )
    candidate = Candidate(2, ModelConfig(c1_filters=8), TrainConfig())
    retrain_front_or_load(_cache_result(fashion), [candidate], fashion, cache)
    assert len(calls) == 1


def test_the_single_objective_cache_key_is_unchanged():
    """A file written before front trials were retrained still matches its settings."""
    settings = RetrainSettings(
        baseline_model=ModelConfig.classic(),
        baseline_train=BASELINE_TRAIN,
        best_model=ModelConfig(c1_filters=8),
        best_train=TrainConfig(learning_rate=0.002),
        seeds=(0, 1, 2),
        epochs=10,
    )
    assert set(settings.to_dict()) == {
        "baseline_model", "baseline_train", "best_model", "best_train", "seeds", "epochs",
        "train_limit", "test_limit", "data",
    }  # fmt: skip


def test_the_section_comes_after_the_search_numbered_and_in_spanish(fashion):
    mo = _mo_study(POINTS)
    report = summarize(mo, _retrained(fashion), fashion, "cmd")
    assert report.front is not None and report.comparison is not None
    for code in ("en", "es"):
        text = page(report, mo, interactive_figure, t=Language(code))
        ids = re.findall(r'<section id="(\w+)">', text)
        assert ids == ["study", "search", "front", "comparison", "failures", "provenance"]
        titles = re.findall(r"<h2>(\d)\. ", text)
        assert titles == ["1", "2", "3", "4", "5", "6"]
    assert "<h2>3. Exactitud frente a tamaño</h2>" in text
    section = re.search(r'<section id="front">(.*?)</section>', text, re.S).group(1)
    words = {
        "ensayo", "frente", "codo", "el más exacto", "LeNet-5 clásica", "correlación de rangos",
        "solo acierta la clásica (b)", "61\u202f706", "0,8000",
    }  # fmt: skip
    assert {w for w in words if w not in section} == set()
    for english in ("trial", "knee", "most accurate", "size only", "smallest"):
        assert english not in section


def test_the_spanish_figure_says_no_english_words(fashion):
    section = front_section(_mo_study(POINTS), ("accuracy", "params"), _retrained(fashion),
                            fashion, 5)  # fmt: skip
    figure = front_figure(section, Language("es"))
    names = " ".join(trace.name for trace in figure.data)
    assert "ensayo completado" in names and "frente" in names
    assert figure.layout.xaxis.title.text == "parámetros (escala logarítmica)"
    html = front(section, interactive_figure, Language("es"))
    assert "validation" not in html and "0,8500" in html  # the bar, in Spanish marks


def test_a_single_objective_page_has_no_front_section(storage_url):
    single = optuna.create_study(storage=storage_url, direction="maximize")
    single.set_user_attr("manifest", {"protocol": {"epochs": 1}})
    single.add_trial(optuna.trial.create_trial(value=0.8, params={}, distributions={}))
    report = summarize(single, None, None, "cmd")
    assert report.front is None
    text = page(report, single, interactive_figure)
    assert re.findall(r'<section id="(\w+)">', text) == list(SECTIONS)
    assert "<h2>5. What produced this report</h2>" in text
    assert "Accuracy against size" not in text


def test_a_two_objective_study_without_completed_trials_says_why_it_has_no_front():
    mo = _mo_study([])
    mo.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.PRUNED,
            params={"c1_filters": 4, "c3_filters": 8, "activation": "relu"},
            distributions=DISTRIBUTIONS,
        )
    )
    report = summarize(mo, None, None, "cmd")
    assert report.front is None and len(trials_table(mo)) == 1
    text = page(report, mo, interactive_figure)
    section = re.search(r'<section id="front">(.*?)</section>', text, re.S).group(1)
    assert "<h2>3. Accuracy against size</h2>" in section
    assert "Not shown: the study has no completed trial" in section


def test_optunas_plots_and_the_trials_table_take_the_accuracy_of_a_two_objective_study():
    mo = _mo_study(POINTS)
    for name in SEARCH_PLOTS:
        assert search_plot(mo, name).data  # Optuna raises without a target
    table = trials_table(mo)
    assert list(table.columns).count("val_accuracy") == 1
    assert table["val_accuracy"].tolist() == [p[0] for p in POINTS]
    top = _top_trials(table, Language("en"))
    assert "front" not in top and "params=" not in top  # the size columns are not parameters


NAME = "lenet5-fashion-mnist"
SHRINK = ["--seeds", "1", "--epochs", "1", "--train-limit", "2000", "--test-limit", "500"]


def _no_training(*args, **kwargs):
    raise RuntimeError("retrained")


@pytest.mark.slow
def test_a_two_objective_study_reports_its_front_and_a_second_language_retrains_nothing(
    tmp_path, monkeypatch
):
    where = ["--storage", f"sqlite:///{tmp_path / 'db.sqlite'}", "--results-dir", str(tmp_path)]
    run = ["run", "--quick", "--n-trials", "3", "--epochs", "1", "--workers", "1"]
    assert main([*run, "--objectives", "accuracy,params", *where]) == 0
    report = ["report", *where, *SHRINK, "--workers", "1", "--no-pdf"]
    monkeypatch.setattr(sys, "argv", ["lenet-study", *report])
    assert main(report) == 0
    folder = tmp_path / NAME
    cache = json.loads((folder / "retrain.json").read_text())
    stored = optuna.load_study(study_name=NAME, storage=where[1])
    baseline = [RetrainRun(**run) for run in cache["baseline"]]
    chosen = {t.number for t in chosen_trials(stored, ("accuracy", "params"), baseline)}
    best = best_trial_or_none(stored).number
    # Each chosen front trial but the best (the best arm) is cached under its own key.
    assert {e["trial"] for e in cache.get("front", {}).values()} == chosen - {best}
    assert all(len(e["runs"]) == 1 for e in cache.get("front", {}).values())
    english = (folder / "report.html").read_text(encoding="utf-8")
    assert '<section id="front">' in english and "Optuna could not draw" not in english
    assert "Not shown" not in english.split('<section id="comparison">')[0]
    before = (folder / "retrain.json").read_bytes()
    monkeypatch.setattr(study.report.retrain, "train", _no_training)
    assert main([*report, "--lang", "es"]) == 0
    assert (folder / "retrain.json").read_bytes() == before
    spanish = (folder / "report.es.html").read_text(encoding="utf-8")
    assert "Exactitud frente a tamaño" in spanish and "Resultados reutilizados" in spanish


def test_the_parallel_coordinates_name_true_false_choices_in_spanish():
    flags = optuna.create_study(direction="maximize")
    for value, flag in ((0.5, True), (0.6, False), (0.7, True)):
        flags.add_trial(
            optuna.trial.create_trial(
                value=value,
                params={"batch_norm": flag},
                distributions={"batch_norm": CategoricalDistribution([True, False])},
            )
        )
    notes = {a.text for a in search_plot(flags, "parallel", Language("es")).layout.annotations}
    assert {"sí", "no"} <= notes and not {"True", "False"} & notes


def test_the_slice_plots_label_choices_plainly_and_true_false_in_spanish():
    choices = optuna.create_study(direction="maximize")
    distributions = {
        "batch_norm": CategoricalDistribution([True, False]),
        "activation": CategoricalDistribution(["relu", "tanh"]),
    }
    for value, flag, activation in (
        (0.5, True, "relu"),
        (0.6, False, "tanh"),
        (0.7, True, "relu"),
    ):
        choices.add_trial(
            optuna.trial.create_trial(
                value=value,
                params={"batch_norm": flag, "activation": activation},
                distributions=distributions,
            )
        )
    figure = search_plot(choices, "slice", Language("es"))
    placed = {x for trace in figure.data for x in trace.x}
    assert placed == {"sí", "no", "relu", "tanh"}
    axes = [figure.layout[a] for a in figure.layout if a.startswith("xaxis")]
    assert sorted(tuple(a.categoryarray) for a in axes) == [("relu", "tanh"), ("sí", "no")]

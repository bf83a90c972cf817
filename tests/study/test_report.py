"""The report end to end, from a tiny real study: HTML, PDF, numbers, cache, edge cases."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from PIL import Image
from scipy.stats import binomtest

import study.report.retrain
from study.cli import main
from study.report.origin import best_origin
from study.report.render import SECTIONS, interactive_figure, page
from study.report.retrain import RetrainRun, load_cached
from study.report.summary import confused_pairs, mcnemar, study_facts, summarize
from study.report.write import ReportOptions, retrain_settings

NAME = "lenet5-fashion-mnist"
SHRINK = ["--seeds", "1", "--epochs", "1", "--train-limit", "2000", "--test-limit", "500"]


def _where(folder: Path) -> list[str]:
    return ["--storage", f"sqlite:///{folder / 'db.sqlite'}", "--results-dir", str(folder)]


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> Path:
    """A two-trial, one-epoch study on 5,000 real images and its report; returns the folder."""
    folder = tmp_path_factory.mktemp("report")
    argv = ["run", "--quick", "--n-trials", "2", "--epochs", "1", "--workers", "1"]
    assert main([*argv, *_where(folder)]) == 0
    argv = ["report", *_where(folder), *SHRINK]
    with pytest.MonkeyPatch.context() as patch:  # the report quotes the command as typed
        patch.setattr(sys, "argv", ["/usr/bin/lenet-study", *argv])
        assert main(argv) == 0
    return folder


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.section_ids: list[str] = []
        self.links: list[str] = []  # every src and href
        self.scripts_with_src = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "section":
            self.section_ids.append(attributes.get("id") or "")
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        self.scripts_with_src += tag == "script" and "src" in attributes


@pytest.mark.slow
def test_html_holds_every_section_and_loads_nothing_from_the_network(reported):
    text = (reported / NAME / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert page.section_ids == list(SECTIONS)
    assert page.links, "the page has images and anchors"
    assert all(link.startswith(("data:", "#")) for link in page.links), page.links
    assert page.scripts_with_src == 0
    assert len(re.findall(r"\* plotly\.js v\d", text)) == 1  # embedded once
    # Two completed trials: the best so far over time, all four Optuna plots, plus F1, two
    # confusion matrices and curves.
    assert text.count('class="plotly-graph-div"') == 9
    assert "Not shown" not in text
    assert "lenet-study report --storage sqlite:///" in text  # the command, in section 5
    assert "train-images-idx3-ubyte" in text


@pytest.mark.slow
def test_pdf_has_pages_and_its_first_page_is_not_blank(reported, tmp_path):
    pdf = reported / NAME / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    assert pages >= 3
    subprocess.run(
        ["pdftoppm", "-r", "40", "-f", "3", "-l", "3", "-png", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    (png,) = tmp_path.glob("p*.png")
    gray = np.asarray(Image.open(png).convert("L"))
    assert (gray < 200).mean() > 0.02  # text, tables and figures, not an empty page


@pytest.mark.slow
def test_summary_numbers_equal_what_the_storage_holds(reported):
    stored = optuna.load_study(study_name=NAME, storage=f"sqlite:///{reported / 'db.sqlite'}")
    facts = study_facts(stored)
    trials = stored.get_trials()
    assert facts.n_trials == len(trials) == 2
    assert facts.n_complete == sum(t.state == TrialState.COMPLETE for t in trials)
    assert facts.n_pruned == sum(t.state == TrialState.PRUNED for t in trials)
    assert facts.compute_seconds == pytest.approx(sum(t.duration.total_seconds() for t in trials))
    assert facts.epochs_run == sum(t.user_attrs["epochs_run"] for t in trials)
    assert facts.epochs_without_pruning >= facts.epochs_run
    assert (facts.best_number, facts.best_value) == (stored.best_trial.number, stored.best_value)
    origin = best_origin(stored)
    assert origin.best_number == facts.best_number
    assert origin.whole_study.trials_started == facts.n_trials
    assert origin.whole_study.epochs_run == facts.epochs_run
    first_start = min(t.datetime_start for t in trials)
    best_end = stored.best_trial.datetime_complete
    assert origin.until_best.seconds == (best_end - first_start).total_seconds()

    text = (reported / NAME / "report.html").read_text(encoding="utf-8")
    assert f"<td>{facts.n_complete}</td>" in text
    assert f"{stored.best_value:.4f}" in text
    assert f"<p>Trial #{origin.best_number} (validation accuracy" in text
    cache = json.loads((reported / NAME / "retrain.json").read_text())
    assert cache["settings"]["best_model"]["c1_filters"] == stored.best_params["c1_filters"]
    assert cache["settings"]["seeds"] == [0] and cache["settings"]["epochs"] == 1
    for arm in ("baseline", "best"):
        assert len(cache[arm][0]["predictions"]) == 500
        assert f"{cache[arm][0]['accuracy']:.4f}" in text


@pytest.mark.slow
def test_comparison_numbers_follow_from_the_cached_predictions(reported, fashion):
    stored = optuna.load_study(study_name=NAME, storage=f"sqlite:///{reported / 'db.sqlite'}")
    options = ReportOptions(
        storage="unused", study_name=NAME, out=reported, command="cmd", seeds=1, epochs=1,
        train_limit=2000, test_limit=500,
    )  # fmt: skip
    cached = load_cached(reported / NAME / "retrain.json", retrain_settings(stored, options, {}))
    assert cached is None  # other data checksums, another key
    settings = retrain_settings(stored, options, fashion.checksums)
    cached = load_cached(reported / NAME / "retrain.json", settings)
    assert cached is not None  # the same settings as the CLI's: the same key
    report = summarize(stored, cached, fashion, "cmd")
    c = report.comparison
    assert (c.train_images, c.test_images, c.epochs) == (2000, 500, 1)
    assert c.baseline.n_params == 61_706
    assert c.best.n_params == stored.best_trial.user_attrs["n_params"]
    assert report.top_trials["number"].iloc[0] == stored.best_trial.number
    y = fashion.y_test[cached.test_indices]
    base_right = np.array(cached.baseline[0].predictions) == y
    best_right = np.array(cached.best[0].predictions) == y
    assert c.baseline.mean_accuracy == pytest.approx(base_right.mean())
    assert c.mcnemar[0].only_best_right == int((best_right & ~base_right).sum())
    assert c.mistakes and all(m.true != m.predicted for m in c.mistakes)
    assert all(fashion.y_test[m.index] == m.true for m in c.mistakes)


def _no_training(*args, **kwargs):
    raise RuntimeError("retrained")


@pytest.mark.slow
def test_rerendering_reuses_the_cache_and_a_changed_setting_retrains(reported, monkeypatch):
    monkeypatch.setattr(study.report.retrain, "train", _no_training)
    cache = reported / NAME / "retrain.json"
    before = cache.read_bytes()
    assert main(["report", *_where(reported), *SHRINK, "--no-pdf"]) == 0
    assert cache.read_bytes() == before
    assert "reused from the cache" in (reported / NAME / "report.html").read_text(encoding="utf-8")
    changed = [*SHRINK[:-1], "400"]  # another test subset: another key
    here = ["--no-pdf", "--workers", "1"]  # retrain in this process, where train is replaced
    with pytest.raises(RuntimeError, match="retrained"):
        main(["report", *_where(reported), *changed, *here])
    with pytest.raises(RuntimeError, match="retrained"):
        main(["report", *_where(reported), *SHRINK, *here, "--retrain"])


@pytest.mark.slow
def test_a_study_without_completed_trials_still_gets_a_report(reported, tmp_path, capsys):
    source = optuna.load_study(study_name=NAME, storage=f"sqlite:///{reported / 'db.sqlite'}")
    empty = optuna.create_study(
        study_name="empty", storage=f"sqlite:///{tmp_path / 'db.sqlite'}", direction="maximize"
    )
    empty.set_user_attr("manifest", source.user_attrs["manifest"])
    empty.add_trial(
        optuna.trial.create_trial(
            state=TrialState.PRUNED,
            params=source.trials[0].params,
            distributions=source.trials[0].distributions,
            intermediate_values={0: 0.5},
            user_attrs={"epochs_run": 1},
        )
    )
    assert main(["report", *_where(tmp_path), "--study-name", "empty", "--no-pdf"]) == 0
    assert "no completed trial" in capsys.readouterr().out
    page = _Page()
    text = (tmp_path / "empty" / "report.html").read_text(encoding="utf-8")
    page.feed(text)
    assert page.section_ids == list(SECTIONS)
    assert text.count("needs at least") == 4
    assert not (tmp_path / "empty" / "retrain.json").exists()


def test_report_of_a_missing_study_exits_1_with_one_line(tmp_path, capsys):
    # The storage exists (a missing one is test_cli's), the study does not.
    optuna.create_study(study_name="other", storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert main(["report", *_where(tmp_path), "--study-name", "nope"]) == 1
    err = capsys.readouterr().err.strip()
    assert "no study 'nope'" in err and "\n" not in err


@pytest.mark.parametrize(
    "argv", [["--seeds", "0"], ["--train-limit", "-5"], ["--epochs", "x"], ["--workers", "0"]]
)
def test_invalid_report_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["report", *argv])
    assert excinfo.value.code == 2


def _run(predictions: list[int]) -> RetrainRun:
    return RetrainRun(0, 0.0, 0.0, [], [], {}, 0.0, 0, predictions, [1.0] * len(predictions))


def test_mcnemar_counts_only_the_discordant_images():
    y = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    baseline = _run([0, 1, 2, 0, 0, 0, 0, 7])  # right on 0, 1, 2, 7
    best = _run([0, 1, 0, 3, 4, 5, 0, 7])  # right on 0, 1, 3, 4, 5, 7
    result = mcnemar(0, y, baseline, best)
    assert (result.only_baseline_right, result.only_best_right) == (1, 3)
    assert result.p_value == pytest.approx(binomtest(3, 4, 0.5).pvalue) == 0.625
    assert mcnemar(0, y, baseline, baseline).p_value == 1.0


def test_confused_pairs_are_the_largest_off_diagonal_cells():
    confusion = np.diag([50] * 10)
    confusion[6, 0], confusion[4, 2], confusion[0, 6] = 9, 5, 3
    table = confused_pairs(confusion, n=5)
    # Shirt taken for T-shirt/top, Coat for Pullover, T-shirt/top for Shirt.
    assert table[["true", "predicted", "count"]].values.tolist() == [
        [6, 0, 9],
        [4, 2, 5],
        [0, 6, 3],
    ]
    assert table["share of true class"].iloc[0] == pytest.approx(9 / 59)


@pytest.mark.slow
def test_without_a_browser_the_pdf_report_stops_with_one_line(reported, monkeypatch, capsys):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr("study.report.pdf.CHROMIUM_NAMES", ("no-such-browser",))
    assert main(["report", *_where(reported), *SHRINK]) == 1
    err = capsys.readouterr().err.strip()
    assert "Chromium" in err and "\n" not in err


def test_retraining_uses_the_space_files_fixed_values_under_the_best_params(tmp_path):
    study = optuna.create_study(direction="maximize")
    study.set_user_attr(
        "manifest",
        {
            "search_space": {"fixed": {"batch_norm": True, "optimizer": "sgd"}},
            "protocol": {"epochs": 3},
        },
    )
    study.add_trial(
        optuna.trial.create_trial(
            params={"c1_filters": 8, "learning_rate": 0.02},
            distributions={
                "c1_filters": optuna.distributions.IntDistribution(4, 32),
                "learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True),
            },
            value=0.9,
        )
    )
    options = ReportOptions(storage="", study_name="s", out=tmp_path, command="report")
    settings = retrain_settings(study, options, {})
    assert settings.best_model.batch_norm is True
    assert settings.best_model.c1_filters == 8
    assert settings.best_train.optimizer == "sgd"
    assert settings.best_train.learning_rate == 0.02
    assert settings.epochs == 3


def _pruned_study(storage: str) -> optuna.Study:
    """Epochs 3, no seed recorded, no training-set limit: one trial pruned before training
    (over the parameter budget), one pruned after its first epoch."""
    study = optuna.create_study(study_name="pruned", storage=storage, direction="maximize")
    protocol = {"epochs": 3, "val_size": 10_000, "train_limit": None, "val_limit": None}
    study.set_user_attr("manifest", {"protocol": protocol})
    distributions = {"c1_filters": optuna.distributions.IntDistribution(4, 8)}
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.PRUNED,
            params={"c1_filters": 8},
            distributions=distributions,
            user_attrs={"end": "pruned before training: 120000 parameters > 100000"},
        )
    )
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.PRUNED,
            params={"c1_filters": 4},
            distributions=distributions,
            intermediate_values={1: 0.5},
            user_attrs={"epochs_run": 1, "end": "pruned at epoch 1"},
        )
    )
    return study


def test_trials_pruned_before_training_saved_no_epochs(storage_url):
    facts = study_facts(_pruned_study(storage_url))
    assert facts.epochs_run == 1
    assert facts.epochs_without_pruning - facts.epochs_run == 2  # the second trial's 2 epochs


@pytest.mark.parametrize(
    ("recorded", "screened_at", "shown"),
    [
        (
            {"pruner": "hyperband", "startup_epochs": 2},
            2,
            "hyperband, start-up screened at epoch 2",
        ),
        ({"pruner": "hyperband", "startup_epochs": 0}, None, "hyperband"),
        ({"pruner": "hyperband", "startup_epochs": 3}, None, "hyperband"),  # 3 epochs: none saved
        ({"pruner": "none", "startup_epochs": 2}, None, "none"),
    ],
)
def test_the_report_names_the_pruner_and_its_startup_screen(
    storage_url, recorded, screened_at, shown
):
    study = _pruned_study(storage_url)
    study.set_user_attr("manifest", {**study.user_attrs["manifest"], **recorded})
    facts = study_facts(study)
    assert (facts.pruner, facts.screened_at) == (recorded["pruner"], screened_at)
    text = page(summarize(study, None, None, "cmd"), study, interactive_figure)
    assert re.search(rf"<td>pruner</td>\s*<td>{shown}</td>", text)


def test_the_report_shows_a_dash_for_what_is_missing_never_none(tmp_path):
    _pruned_study(f"sqlite:///{tmp_path / 'db.sqlite'}")
    argv = ["report", *_where(tmp_path), "--study-name", "pruned", "--no-pdf"]
    assert main(argv) == 0
    text = (tmp_path / "pruned" / "report.html").read_text(encoding="utf-8")
    cells = re.findall(r"<t[dh]>(.*?)</t[dh]>", text, re.S)
    assert cells and not [c for c in cells if "None" in c]
    assert re.search(r"<td>epochs saved by pruning</td>\s*<td>2 \(67%\)</td>", text)
    assert re.search(r"<td>seed</td>\s*<td>-</td>", text)
    assert "Not shown: no trial has completed." in text  # where the best trial came from
    assert "train_limit=-" in text


def _html(reported: Path) -> str:
    return (reported / NAME / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_one_seed_shows_its_accuracy_without_a_spread(reported):
    text = _html(reported)  # the fixture retrains with --seeds 1
    assert "±" not in text
    assert "(one seed)" in text


@pytest.mark.slow
def test_one_epoch_is_said_in_the_singular(reported):
    text = _html(reported)  # --epochs 1
    assert "1 epochs" not in text and "for 1 epoch each" in text


@pytest.mark.slow
def test_importances_say_how_many_completed_trials_they_rest_on(reported):
    text = _html(reported)
    assert "From 2 completed trials; PED-ANOVA importances from fewer than ~10" in text


class _TopTable(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.headers: list[str] = []
        self._header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and "top" in (dict(attrs).get("class") or ""):
            self.inside = True
        self._header = self.inside and tag == "th"

    def handle_endtag(self, tag: str) -> None:
        self.inside = self.inside and tag != "table"
        self._header = False

    def handle_data(self, data: str) -> None:
        if self._header and data.strip():
            self.headers.append(data.strip())


@pytest.mark.slow
def test_top_trials_table_puts_the_parameters_in_one_column_to_fit_the_page(reported):
    table = _TopTable()
    table.feed(_html(reported))
    # One column per parameter made 13 for the default space, past an A4 page's right edge.
    assert table.headers[-1] == "parameters" and len(table.headers) <= 8
    assert "learning_rate=" in _html(reported)


def test_optimization_history_ticks_fall_on_whole_trial_numbers(tmp_path):
    from study.report.figures import search_plot

    few = optuna.create_study(direction="maximize")
    for value in (0.5, 0.6):
        few.add_trial(optuna.trial.create_trial(value=value, params={}, distributions={}))
    axis = search_plot(few, "history").layout.xaxis
    assert (axis.tick0, axis.dtick) == (0, 1)
    for value in range(35):
        few.add_trial(optuna.trial.create_trial(value=value / 100))
    assert search_plot(few, "history").layout.xaxis.dtick == 4


def test_the_slice_plots_colour_bar_of_trial_numbers_ticks_whole_numbers():
    from study.report.figures import search_plot

    few = optuna.create_study(direction="maximize")
    x = optuna.distributions.FloatDistribution(0, 1)
    for value in (0.2, 0.4, 0.6):
        few.add_trial(
            optuna.trial.create_trial(value=value, params={"x": value}, distributions={"x": x})
        )
    traces = search_plot(few, "slice").data
    bars = [t.marker.colorbar for t in traces if t.marker.colorbar.title.text == "Trial"]
    assert bars and all(bar.dtick == 1 for bar in bars)


# English words the page's sentences, headings and table headers use; none may be left in the
# Spanish page. Names as the search space spells them (learning_rate=...) are left aside, and
# so are words Spanish shares ("matrices", "backend").
ENGLISH_ONLY = {
    "the", "of", "and", "with", "from", "by", "for", "per", "was", "were", "each", "not",
    "trial", "trials", "accuracy", "validation", "epoch", "epochs", "seed", "seeds",
    "pruned", "pruning", "completed", "failed", "running", "waiting", "baseline", "best",
    "study", "report", "training", "test", "predicted", "true", "class", "confusion",
    "learning", "curves", "mistakes", "mistake", "shown", "minutes", "started",
    "whole", "value", "library", "versions", "file", "yes", "command", "sampler", "pruner",
    "images", "model", "parameters", "configuration", "importance", "importances", "history",
    "loss", "written", "folder", "logical", "cores", "sampled", "enqueued", "summed", "cache",
    "Shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Sneaker", "Bag", "Ankle",
    "January", "February", "March", "April", "June", "July", "August", "September",
    "October", "November", "December", "platform", "checksums", "payload",
}  # fmt: skip


class _Visible(HTMLParser):
    """The page's text as a reader sees it: no scripts, styles or attributes; the command
    line (<pre>) is what the user typed."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style", "pre")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style", "pre")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _words(text: str) -> set[str]:
    """The words of a text, without the names in ``name=value`` pairs."""
    return set(re.findall(r"[^\W\d_]+(?:[_-]\w+)*", re.sub(r"\b\w+=", " ", text)))


def _english_left(text: str, allowed: set[str] = frozenset()) -> set[str]:
    words = {w.lower() for w in _words(text)}
    return {w for w in ENGLISH_ONLY if w.lower() in words} - allowed


@pytest.mark.slow
def test_the_same_study_reads_in_spanish_without_retraining(reported, monkeypatch):
    """One retraining, two languages: the Spanish report reuses the English one's cache."""
    folder = reported / NAME
    monkeypatch.setattr(study.report.retrain, "train", _no_training)
    before = (folder / "retrain.json").read_bytes()
    english = _html(reported)
    argv = ["report", *_where(reported), *SHRINK, "--workers", "1", "--lang", "es"]
    monkeypatch.setattr(sys, "argv", ["lenet-study", *argv])
    assert main(argv) == 0
    assert (folder / "retrain.json").read_bytes() == before
    assert _html(reported) == english  # each language its own files
    spanish = (folder / "report.es.html").read_text(encoding="utf-8")
    seen = {}
    for language, text in (("en", english), ("es", spanish)):
        page = _Visible()
        page.feed(text)
        seen[language] = " ".join(page.parts)
    assert len(_english_left(seen["en"])) > 40  # the check sees English where there is some
    assert _english_left(seen["es"]) == set()
    assert '<html lang="es">' in spanish
    cache = json.loads(before)
    accuracy = cache["best"][0]["accuracy"]
    assert f"{accuracy:.4f}".replace(".", ",") in seen["es"]
    assert "61\u202f706" in seen["es"] and "61,706" in seen["en"]  # the classic's parameters
    assert re.search(r"Generado el \d{1,2} de [a-z]+ de \d{4}\.", seen["es"])
    assert "Resultados reutilizados de la caché." in seen["es"]
    for name in ("Camiseta/top", "Pantalón", "Botín", "exactitud en prueba", "época"):
        assert name in seen["es"]

    pdfs = {"en": folder / "report.pdf", "es": folder / "report.es.pdf"}
    text = {
        language: subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        for language, pdf in pdfs.items()
    }
    # The PDF holds the figures' text too (SVG); the command line, printed between its
    # heading and the next table, is what the user typed, broken anywhere.
    before_command, _, after = text["es"].partition("Comando")
    assert "validation accuracy" in text["en"] and "Ankle boot" in text["en"]
    assert _english_left(before_command + after[after.index("CPU") :]) == set()
    for phrase in ("exactitud de validación", "Botín", "Ensayo", "pérdida de entrenamiento"):
        assert phrase in text["es"]

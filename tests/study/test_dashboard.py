"""optuna-dashboard as a user sees it: a real study, watched while it runs, then browsed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pytest
from optuna_dashboard import get_note
from PIL import Image

from lenet import TrainingDiverged
from study.cli import main
from study.dashboard import host_warning
from study.storage import open_storage
from study.trial_notes import record_trial, trial_note

pytestmark = pytest.mark.slow  # real worker processes and servers

STUDY = "watched"
N_TRIALS = 2  # the fewest that show a best trial among others
CHROMIUM = Path("/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _lenet_study(*argv: str, **kwargs) -> subprocess.Popen:
    """The real command line in its own process, as a user starts it."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(
        [sys.executable, "-m", "study.cli", *argv], env=env, text=True, **kwargs
    )


def _wait_until_listening(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _get(url)
            return
        except OSError:
            assert time.monotonic() < deadline, "the dashboard never answered"
            time.sleep(0.2)


@dataclass
class Watched:
    """A tiny study run while its dashboard served it, and what the polls saw."""

    folder: Path
    storage_url: str
    base_url: str  # http://127.0.0.1:PORT
    study_id: int
    run_code: int
    run_output: str
    polls_while_running: int
    trials_seen: list[int]  # trials in each answer, in order


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """Starts a tiny study, opens the dashboard on it once it exists, polls until it ends.

    The dashboard stays up for the module's tests, serving the finished study.
    """
    folder = tmp_path_factory.mktemp("dashboard")
    storage_url = f"sqlite:///{folder / 'study.db'}"
    where = ["--study-name", STUDY, "--storage", storage_url, "--results-dir", str(folder)]
    port = _free_port()
    with open(folder / "run.err", "w") as run_err, open(folder / "dashboard.err", "w") as d_err:
        run = _lenet_study(
            "run", "--quick", "--n-trials", str(N_TRIALS), "--epochs", "1", "--workers", "1",
            *where,
            stdout=subprocess.PIPE, stderr=run_err, start_new_session=True,
        )  # fmt: skip
        first = run.stdout.readline()  # printed once the study exists, before any trial
        assert "earlier trials" in first, (folder / "run.err").read_text()[-2000:]
        # Held until the dashboard listens: on a loaded machine the tiny study could end first.
        os.killpg(run.pid, signal.SIGSTOP)
        server = _lenet_study(
            "dashboard", "--port", str(port), *where, stdout=subprocess.PIPE, stderr=d_err
        )
        try:
            url = re.search(r"/dashboard/studies/(\d+)", server.stdout.readline())
            assert url, (folder / "dashboard.err").read_text()[-2000:]
            study_id = int(url.group(1))
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_listening(f"{base_url}/api/studies/{study_id}", seconds=120)
            os.killpg(run.pid, signal.SIGCONT)
            polls, seen = 0, []
            while run.poll() is None:
                detail = _get(f"{base_url}/api/studies/{study_id}")
                if run.poll() is None:
                    polls += 1
                seen.append(len(detail["trials"]))
                time.sleep(1)  # often enough to overlap each trial's writes; CPUs are few
            # optuna-dashboard caches a study's trials for 2 s: wait until it shows the end.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                detail = _get(f"{base_url}/api/studies/{study_id}")
                states = [t["state"] for t in detail["trials"]]
                if len(states) == N_TRIALS and "Running" not in states:
                    break
                time.sleep(0.5)
            yield Watched(
                folder,
                storage_url,
                base_url,
                study_id,
                run.wait(timeout=600),
                first + run.stdout.read(),
                polls,
                seen,
            )
        finally:
            with contextlib.suppress(ProcessLookupError):  # its group ended with it
                os.killpg(run.pid, signal.SIGKILL)
            server.terminate()
            server.wait(timeout=30)


def test_a_study_watched_by_the_dashboard_finishes_with_every_trial_recorded(watched):
    assert watched.run_code == 0, watched.run_output
    assert watched.polls_while_running > 0, "the dashboard never read during the study"
    assert watched.trials_seen == sorted(watched.trials_seen)
    study = optuna.load_study(study_name=STUDY, storage=watched.storage_url)
    assert len(study.trials) == N_TRIALS
    assert all(t.state.is_finished() for t in study.trials)


def test_the_api_serves_the_trials_notes_figures_and_model_files(watched):
    summaries = _get(f"{watched.base_url}/api/studies")["study_summaries"]
    assert [s["study_name"] for s in summaries] == [STUDY]
    detail = _get(f"{watched.base_url}/api/studies/{watched.study_id}")
    assert detail["objective_names"] == ["val_accuracy"]
    assert [t["number"] for t in detail["trials"]] == list(range(N_TRIALS))
    completed = [t for t in detail["trials"] if t["state"] == "Complete"]
    assert completed, "no trial completed"
    for trial in detail["trials"]:
        note = trial["note"]["body"]
        assert f"Trial {trial['number']}:" in note
        assert "learning_rate" in note and "c1_filters" in note
    for trial in completed:
        note = trial["note"]["body"]
        assert "completed" in note and "best val_accuracy" in note and "parameters" in note
        assert "s per epoch" in note
        (artifact,) = trial["artifacts"]
        assert artifact["filename"] == f"trial-{trial['number']}.keras"
        download = (
            f"{watched.base_url}/artifacts/{watched.study_id}/{trial['trial_id']}/"
            f"{artifact['artifact_id']}"
        )
        with urllib.request.urlopen(download, timeout=30) as response:
            assert response.read(2) == b"PK"  # a .keras file is a zip archive
    graphs = {g["id"]: json.loads(g["graph_object"]) for g in detail["plotly_graph_objects"]}
    expected = {f"trial-{t['number']}-learning-curves" for t in completed}
    assert set(graphs) == expected | {"best-trial-val-confusion"}
    best = max(completed, key=lambda t: t["values"][0])
    assert (
        f"Best trial ({best['number']})"
        in graphs["best-trial-val-confusion"]["layout"]["title"]["text"]
    )
    heatmap = graphs["best-trial-val-confusion"]["data"][0]
    assert heatmap["x"][0] == "T-shirt/top"
    curves = graphs[f"trial-{best['number']}-learning-curves"]["data"]
    assert {c["name"] for c in curves} == {"accuracy", "val_accuracy", "loss", "val_loss"}


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (`apt-get install chromium`)"
)
def test_the_trial_list_renders_in_a_headless_browser(watched, tmp_path):
    page = f"{watched.base_url}/dashboard/studies/{watched.study_id}/trials"
    screenshot = tmp_path / "dashboard.png"
    dom = _chromium_dom(page, tmp_path / "profile", screenshot)
    assert f"{N_TRIALS} Trials" in dom
    assert all(f"Trial {n}" in dom for n in range(N_TRIALS))
    assert f"{STUDY} (id={watched.study_id})" in dom
    with Image.open(screenshot) as image:
        assert image.format == "PNG" and image.size == (1400, 900)
        low, high = image.convert("L").getextrema()
        assert high - low > 100, "the screenshot is blank"


# HTML elements without an end tag, which open no level of nesting.
_VOID = frozenset(("area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"))


class _Subtree(HTMLParser):
    """The start tags and the text inside the element with id ``element_id`` of a page."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id, self.depth = element_id, 0
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.depth:
            self.tags.append((tag, found))
            self.depth += tag not in _VOID
        elif found.get("id") == self.element_id:
            self.depth = 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in _VOID:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data.strip())


def _chromium_dom(page: str, profile: Path, screenshot: Path) -> str:
    """The page as headless Chromium renders it, once its scripts have fetched and drawn."""
    browser = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",  # tests often run as root, where the sandbox refuses to start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",  # lets the page fetch the API and render
        "--window-size=1400,900",
    ]
    return subprocess.run(
        [*browser, f"--screenshot={screenshot}", "--dump-dom", page],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


@pytest.fixture(scope="module")
def pareto_dashboard(tmp_path_factory, pareto_study):
    """``lenet-study dashboard`` serving a multi-objective study (conftest.PARETO_TRIALS:
    three completed trials, two of them on the front, and a pruned one)."""
    folder = tmp_path_factory.mktemp("pareto-dashboard")
    storage_url = f"sqlite:///{folder / 'study.db'}"
    pareto_study(storage_url, "pareto")
    port = _free_port()
    where = ["--study-name", "pareto", "--storage", storage_url, "--results-dir", str(folder)]
    with open(folder / "dashboard.err", "w") as err:
        server = _lenet_study(
            "dashboard", "--port", str(port), *where, stdout=subprocess.PIPE, stderr=err
        )
        try:
            url = re.search(r"/dashboard/studies/(\d+)", server.stdout.readline())
            assert url, (folder / "dashboard.err").read_text()[-2000:]
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_listening(f"{base_url}/api/meta", seconds=60)
            yield base_url, int(url.group(1))
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_the_api_serves_a_multi_objective_study_with_its_objective_names(pareto_dashboard):
    base_url, study_id = pareto_dashboard
    detail = _get(f"{base_url}/api/studies/{study_id}")
    assert detail["objective_names"] == ["val_accuracy", "params"]
    assert detail["directions"] == ["maximize", "minimize"]
    assert [t["state"] for t in detail["trials"]] == ["Complete"] * 3 + ["Pruned"]
    assert all(f"Trial {t['number']}:" in t["note"]["body"] for t in detail["trials"])


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (`apt-get install chromium`)"
)
def test_the_study_page_draws_the_pareto_front_in_a_headless_browser(pareto_dashboard, tmp_path):
    base_url, study_id = pareto_dashboard
    screenshot = tmp_path / "pareto.png"
    page = f"{base_url}/dashboard/studies/{study_id}"
    dom = _chromium_dom(page, tmp_path / "profile", screenshot)
    assert "Pareto Front" in dom
    # Its axes, as the dashboard's objective pickers show them: accuracy across, size up.
    pickers = re.findall(r'role="combobox"[^>]*>([^<]*)<', dom)
    assert pickers[:2] == ["val_accuracy", "params"]
    plot = _Subtree("graph-pareto-front")  # the dashboard's id for the plot's element
    plot.feed(dom)
    points: list[int] = []  # per plotly scatter trace, its drawn markers
    for tag, attrs in plot.tags:
        kind = attrs.get("class") or ""
        if tag == "g" and kind.startswith("trace scatter"):
            points.append(0)
        elif tag == "path" and kind == "point":
            points[-1] += 1
    # The completed trials only: the dominated one, then the two on the front (Best Trial).
    assert [n for n in points if n] == [1, 2], points
    assert "Best Trial" in plot.text
    assert {"0.9", "100k"} <= set(plot.text), "the axes do not span the trials' values"
    with Image.open(screenshot) as image:
        low, high = image.convert("L").getextrema()
        assert high - low > 100, "the screenshot is blank"


@pytest.mark.parametrize(
    ("end", "exception"),
    [
        ("pruned at epoch 2", optuna.TrialPruned),
        ("failed: loss is nan at epoch 2", TrainingDiverged),
    ],
)
def test_pruned_and_failed_trials_get_a_note_saying_why(storage_url, end, exception):
    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
        trial.set_user_attr("history", {"val_accuracy": [0.5, 0.625]})
        trial.set_user_attr("end", end)
        raise exception(end)

    study = optuna.create_study(storage=open_storage(storage_url))
    study.optimize(objective, n_trials=1, catch=(TrainingDiverged,), callbacks=[record_trial])
    (trial,) = study.trials
    note = get_note(optuna.Trial(study, trial._trial_id))
    assert note == trial_note(trial)
    assert f"Trial 0: {end}" in note
    assert "best val_accuracy **0.6250** at epoch 2 of 2 run" in note
    assert "| learning_rate |" in note


@pytest.mark.parametrize(
    ("host", "warns"),
    [("127.0.0.1", False), ("localhost", False), ("0.0.0.0", True), ("192.168.1.5", True)],
)
def test_only_a_non_local_host_warns_that_there_is_no_login(host, warns):
    warning = host_warning(host)
    assert (warning is not None) == warns
    if warns:
        assert "no login" in warning and host in warning


def test_a_taken_port_exits_1_after_the_no_login_warning(watched, capsys):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["dashboard", "--study-name", STUDY, "--storage", watched.storage_url]
        assert main([*argv, "--host", "0.0.0.0", "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "no login" in err[0]
    assert err[-1].startswith("lenet-study: error: cannot serve on 0.0.0.0")


def test_a_missing_database_file_exits_1_without_creating_it(tmp_path, capsys):
    path = tmp_path / "typo.db"
    assert main(["dashboard", "--storage", f"sqlite:///{path}"]) == 1
    assert "no storage at" in capsys.readouterr().err
    assert not path.exists()

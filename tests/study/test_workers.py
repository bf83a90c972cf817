"""Several workers on one study, and every way a worker can die, with real processes."""

from __future__ import annotations

import io
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import optuna
import pytest
from optuna.trial import TrialState

from study.cli import main
from study.settings import STORAGE_ENV, RunSettings
from study.storage import StudyError, open_storage
from study.workers import to_argv, worker_settings

pytestmark = pytest.mark.slow  # real worker processes and servers

STUDY = "lenet5-fashion-mnist"


def test_workers_share_the_cores_and_run_to_one_total():
    # 3 more trials on a study that has started 5: every worker runs until there are 8.
    settings = RunSettings(n_trials=3, threads=None).until_total(5)
    assert (settings.n_trials, settings.max_trials) == (None, 8)
    workers = worker_settings(replace(settings, workers=2))
    assert [(w.n_trials, w.max_trials) for w in workers] == [(None, 8), (None, 8)]
    assert [w.workers for w in workers] == [1, 1]  # a worker never starts workers itself
    assert all(w.threads == max(1, (os.cpu_count() or 1) // 2) for w in workers)
    # --max-trials caps the total; a run bounded only by time has none.
    assert RunSettings(n_trials=20, max_trials=10).until_total(5).max_trials == 10
    timed = RunSettings(n_trials=None, timeout=60)
    assert timed.until_total(5) == timed


def test_worker_command_line_round_trips_the_settings():
    from study.cli import build_parser

    settings = RunSettings.quick(
        n_trials=3,
        max_trials=9,
        threads=1,
        storage="sqlite:///x.db",
        startup_trials=4,
        startup_epochs=0,
    )
    args = build_parser().parse_args(to_argv(settings))
    assert (args.n_trials, args.max_trials, args.threads) == (3, 9, 1)
    assert (args.startup_trials, args.startup_epochs) == (4, 0)
    assert args.supervised  # whatever --workers says, a worker does not start workers
    assert (args.train_limit, args.val_limit, args.epochs) == (5000, 1000, 2)


def _check_finished(url: str, expected: int, workers: int = 1) -> None:
    """The study holds ``expected`` finished trials of one search space.

    With several workers it may hold up to ``workers - 1`` more: workers that finish a trial
    in the same few milliseconds can each start one more (``study.runner.run_study``).
    """
    study = optuna.load_study(study_name=STUDY, storage=url)
    trials = study.trials
    assert expected <= len(trials) < expected + workers
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    for trial in trials:
        assert trial.state in (TrialState.COMPLETE, TrialState.PRUNED), trial
        assert set(trial.params) == set(study.trials[0].params)
        if trial.state == TrialState.COMPLETE:
            assert trial.value == max(trial.user_attrs["history"]["val_accuracy"])


def test_two_local_workers_share_one_sqlite_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    argv = ["run", "--workers", "2", "--quick", "--n-trials", "4", "--epochs", "1"]
    # A timeout too, as `make accurate` has: each worker is given what is left of it.
    argv += ["--timeout", "600"]
    assert main([*argv, "--storage", url, "--results-dir", str(tmp_path)]) == 0
    _check_finished(url, 4, workers=2)


def test_three_workers_share_one_postgresql_study(postgres_url, tmp_path):
    argv = ["run", "--workers", "3", "--quick", "--n-trials", "3", "--epochs", "1"]
    assert main([*argv, "--storage", postgres_url, "--results-dir", str(tmp_path)]) == 0
    _check_finished(postgres_url, 3, workers=3)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
        "postgresql+psycopg://nobody:wrong@127.0.0.1:1/db",
    ],
    ids=["no-credentials", "credentials"],
)
def test_unreachable_database_server_gives_one_line(url):
    with pytest.raises(StudyError) as excinfo:
        open_storage(url)
    assert "\n" not in str(excinfo.value) and "cannot use storage" in str(excinfo.value)
    assert "wrong" not in str(excinfo.value)  # the password is not echoed


def test_wrong_password_on_a_real_server_gives_one_line(postgres_url):
    with pytest.raises(StudyError) as excinfo:
        open_storage(postgres_url.replace(":secret@", ":wrong@"))
    message = str(excinfo.value)
    assert "password authentication failed" in message and "\n" not in message
    assert "wrong" not in message


def _start_worker(tmp_path: Path, *extra: str) -> subprocess.Popen:
    argv = [
        "run",
        "--quick",
        "--n-trials",
        "1",
        "--epochs",
        "4",
        "--train-limit",  # epochs long enough that a signal lands mid-trial, even under load
        "8000",
        "--pruner",
        "none",
        "--heartbeat",
        "1",
        "--workers",  # this process is the worker (a test may add --workers 2)
        "1",
        "--storage",
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--results-dir",
        str(tmp_path),
        *extra,
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "study.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background (`cmd &`) inherits SIGINT ignored, and Python
        # then keeps it ignored; give the worker the default a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_running_trial(tmp_path: Path, process: subprocess.Popen) -> None:
    """Waits until the worker has finished its first epoch."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            trials = optuna.load_study(study_name=STUDY, storage=url).trials
        except (KeyError, Exception):
            trials = []
        if trials and trials[0].state == TrialState.RUNNING and trials[0].intermediate_values:
            return  # inside the training loop, with three of four epochs to go
        time.sleep(0.5)
    pytest.fail("no trial started within 120 s")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_worker_records_its_trial_as_failed_and_the_study_resumes(
    tmp_path, signum, code
):
    process = _start_worker(tmp_path)
    _wait_for_running_trial(tmp_path, process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "interrupted" in err and "Traceback" not in err
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert [t.state for t in optuna.load_study(study_name=STUDY, storage=url).trials] == [
        TrialState.FAIL
    ]
    assert not list((tmp_path / "artifacts").iterdir())  # no half-written model
    resumed = _start_worker(tmp_path, "--epochs", "4")
    resumed.communicate(timeout=300)
    assert resumed.returncode == 0
    states = [t.state for t in optuna.load_study(study_name=STUDY, storage=url).trials]
    assert states[-1] == TrialState.COMPLETE


def test_killed_worker_trial_fails_on_heartbeat_and_is_retried_with_its_parameters(tmp_path):
    process = _start_worker(tmp_path)
    _wait_for_running_trial(tmp_path, process)
    process.kill()
    process.communicate()
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    # Wait until the trial is stale (three missed one-second beats): the storage, set up as
    # a worker's, then fails it and queues its retry, as the next worker to start would.
    watcher = optuna.load_study(study_name=STUDY, storage=open_storage(url, heartbeat_interval=1))
    deadline = time.monotonic() + 60
    while watcher.trials[0].state == TrialState.RUNNING and time.monotonic() < deadline:
        optuna.storages.fail_stale_trials(watcher)
        time.sleep(0.2)
    retry = _start_worker(tmp_path)
    _, err = retry.communicate(timeout=300)
    assert retry.returncode == 0, err
    killed, retried = optuna.load_study(study_name=STUDY, storage=url).trials
    assert killed.state == TrialState.FAIL
    assert retried.state == TrialState.COMPLETE
    assert retried.params == killed.params
    assert retried.system_attrs.get("failed_trial") == killed.number


def test_a_workers_processes_run_trials_per_process_each_until_stopped():
    from study.workers import chunks

    endless = chunks(RunSettings(n_trials=None, max_trials=5, trials_per_process=2))
    assert [(c.n_trials, c.max_trials) for c in itertools.islice(endless, 4)] == [(2, 5)] * 4
    # Without recycling, one process runs to the total.
    assert [c.n_trials for c in chunks(RunSettings(n_trials=None, trials_per_process=None))] == [
        None
    ]


def test_only_runs_longer_than_one_process_are_supervised():
    assert RunSettings().trials_per_process == 10
    assert RunSettings(n_trials=20).recycles
    assert not RunSettings(n_trials=10).recycles  # one process does it all
    assert RunSettings(n_trials=None, timeout=60).recycles
    assert not RunSettings(n_trials=20, trials_per_process=None).recycles


def test_trials_per_process_runs_each_trial_in_a_fresh_process(tmp_path, capfd):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    argv = ["run", "--trials-per-process", "1", "--quick", "--n-trials", "3", "--epochs", "1"]
    assert main([*argv, "--workers", "1", "--storage", url, "--results-dir", str(tmp_path)]) == 0
    _check_finished(url, 3)
    trials = optuna.load_study(study_name=STUDY, storage=url).trials
    assert len({t.user_attrs["worker"] for t in trials}) == 3
    # Three processes, each printing its trials; the study's summary is printed once, at the end.
    out = capfd.readouterr().out
    assert out.count("trial ") >= 3 and out.count("best: trial") == 1


def test_every_worker_stops_at_the_studys_total_counting_the_others_trials(tmp_path):
    from study.runner import run_study

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"

    def another_worker(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.number == 0:  # meanwhile, another worker has started (and failed) a trial
            study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))

    settings = RunSettings.quick(
        n_trials=None, max_trials=3, epochs=1, storage=url, results_dir=tmp_path
    )
    study = run_study(settings, out=io.StringIO(), callbacks=[another_worker])
    assert [t.state.is_finished() for t in study.trials] == [True] * 3
    assert [bool(t.params) for t in study.trials] == [True, False, True]  # 2 of its own
    # Resumed with the total reached, it runs nothing; a waiting trial does not count.
    study.enqueue_trial(study.trials[0].params)
    out = io.StringIO()
    run_study(settings, out=out)
    assert "nothing to run: the study has started 3 trials, --max-trials 3" in out.getvalue()
    assert len(study.trials) == 4 and study.trials[-1].state == TrialState.WAITING
    run_study(replace(settings, max_trials=4), out=io.StringIO())
    assert study.trials[-1].state.is_finished() and len(study.trials) == 4


def test_run_adds_n_trials_at_most_up_to_max_trials(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    base = ["run", "--quick", "--epochs", "1", "--storage", url, "--results-dir", str(tmp_path)]
    assert main([*base, "--workers", "1", "--n-trials", "1"]) == 0
    # Supervised (two workers): 2 more trials, although the default is 4 for --quick.
    assert main([*base, "--workers", "2", "--n-trials", "2"]) == 0
    _check_finished(url, 3, workers=2)
    started = len(optuna.load_study(study_name=STUDY, storage=url).trials)
    capsys.readouterr()
    assert main([*base, "--workers", "2", "--max-trials", str(started)]) == 0
    assert f"nothing to run: the study has started {started} trials" in capsys.readouterr().out
    capped = ["--n-trials", "5", "--max-trials", str(started + 1)]
    assert main([*base, "--workers", "1", *capped]) == 0
    _check_finished(url, started + 1)


def test_a_killed_supervisor_takes_its_workers_and_their_trials_down(tmp_path):
    # Two processes of one trial each, so `run` supervises; SIGKILL gives it no chance to
    # forward anything: the worker learns of it from Linux and records its trial as failed.
    process = _start_worker(tmp_path, "--trials-per-process", "1", "--n-trials", "2")
    _wait_for_running_trial(tmp_path, process)
    process.kill()
    process.communicate()
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = [t.state for t in optuna.load_study(study_name=STUDY, storage=url).trials]
        if TrialState.RUNNING not in states:
            break
        time.sleep(0.5)
    assert states == [TrialState.FAIL]  # not left running, nor trained to the end unwatched


def test_ctrl_c_reaches_every_worker_once_and_leaves_no_trial_running(tmp_path):
    process = _start_worker(tmp_path, "--workers", "2", "--n-trials", "4")
    _wait_for_running_trial(tmp_path, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    # Each worker says it was interrupted; the supervisor passes that on once.
    assert _error_lines(err) == [
        "lenet-study: interrupted; the running trial was recorded as failed"
    ]
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    states = {t.state for t in optuna.load_study(study_name=STUDY, storage=url).trials}
    assert TrialState.RUNNING not in states and TrialState.FAIL in states


class _FakeWorker:
    """A worker process stand-in for ``run_workers``: slot 0 is fast, slot 1 slow.

    Slot 0's processes add their trials (as many as the run and the study's total allow) as
    they start and have ended by the first poll; slot 1's process adds none and is still busy
    for its first 20 polls (4 s of the supervisor's 0.2 s loop).
    """

    started: ClassVar[list[int]] = []
    timeouts: ClassVar[list[float | None]] = []  # each process's --timeout

    def __init__(self, argv: list[str], env: dict[str, str], **kwargs: object) -> None:
        from study.cli import build_parser

        args = build_parser().parse_args(argv[3:])  # after `python -m study.cli`
        # The supervisor starts slot 0, then slot 1, whose first process stays busy; every
        # later process is therefore slot 0's.
        self.index = 1 if len(_FakeWorker.started) == 1 else 0
        self.polls, self.returncode = 0, None
        _FakeWorker.started.append(self.index)
        _FakeWorker.timeouts.append(args.timeout)
        if self.index == 0:
            study = optuna.create_study(
                study_name=STUDY,
                storage=env[STORAGE_ENV],
                direction="maximize",
                load_if_exists=True,
            )
            for _ in range(min(args.n_trials, args.max_trials - len(study.trials))):
                study.add_trial(optuna.trial.create_trial(value=0.5))

    def poll(self) -> int | None:
        self.polls += 1
        if self.index == 1 and self.polls <= 20:
            return None
        self.returncode = 0
        return 0


def test_a_worker_takes_on_more_trials_while_the_other_is_busy(tmp_path, monkeypatch):
    import study.workers

    monkeypatch.setattr(study.workers.subprocess, "Popen", _FakeWorker)
    monkeypatch.setattr(_FakeWorker, "started", [])
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = RunSettings(storage=url, n_trials=6, trials_per_process=2, results_dir=tmp_path)
    assert study.workers.run_workers(replace(settings, workers=2)) == 0
    assert len(optuna.load_study(study_name=STUDY, storage=url).trials) == 6
    # Not 3 trials each: the fast worker ran all 6, in 3 processes of 2, while the slow one ran
    # its first; then neither started another.
    assert sorted(_FakeWorker.started) == [0, 0, 0, 1]


def _created_as_run_creates_it(settings: RunSettings) -> None:
    """The study with its manifest, as a real worker's first trial leaves it: the stand-in
    workers only add trials, and a study without a manifest is refused."""
    from study.runner import run_study

    run_study(replace(settings, max_trials=0), out=io.StringIO())


def test_no_worker_is_started_for_a_trial_nobody_would_run(tmp_path, monkeypatch, capsys):
    import study.workers

    monkeypatch.setattr(study.workers.subprocess, "Popen", _FakeWorker)
    monkeypatch.setattr(_FakeWorker, "started", [])
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = RunSettings(storage=url, n_trials=1, results_dir=tmp_path)
    _created_as_run_creates_it(settings)
    assert study.workers.run_workers(replace(settings, workers=3)) == 0
    assert _FakeWorker.started == [0]  # one trial to run: one worker, not three
    # The total reached, none at all.
    assert study.workers.run_workers(replace(settings, max_trials=1, workers=3)) == 0
    assert _FakeWorker.started == [0]
    assert "nothing to run: the study has started 1 trial," in capsys.readouterr().out


def test_the_timeout_counts_from_the_commands_start_in_every_process(tmp_path, monkeypatch):
    import study.workers
    from study.runner import run_study

    monkeypatch.setattr(study.workers.subprocess, "Popen", _FakeWorker)
    monkeypatch.setattr(_FakeWorker, "started", [])
    monkeypatch.setattr(_FakeWorker, "timeouts", [])
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = RunSettings.quick(storage=url, results_dir=tmp_path, n_trials=1, timeout=60)
    _created_as_run_creates_it(settings)
    # 20 s after the command started, a worker gets at most the 40 s left...
    study.workers.run_workers(settings, since=time.monotonic() - 20)
    assert len(_FakeWorker.timeouts) == 1 and 38 < _FakeWorker.timeouts[0] <= 40
    # ...and none starts once they are spent.
    study.workers.run_workers(settings, since=time.monotonic() - 61)
    assert len(_FakeWorker.timeouts) == 1
    # A worker that spent its time loading starts no trial; one that did not, does.
    before = len(optuna.load_study(study_name=STUDY, storage=url).trials)
    ran = run_study(settings, out=io.StringIO(), started=time.monotonic() - 61)
    assert len(ran.trials) == before
    assert len(run_study(settings, out=io.StringIO()).trials) == before + 1
    # A worker is given the study's total too (`run --max-trials`, the accurate preset's).
    total = replace(settings, max_trials=before + 2)
    assert len(run_study(total, out=io.StringIO(), started=time.monotonic()).trials) == before + 2


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_a_killed_worker_is_named_with_its_signal_and_what_happens_next(tmp_path):
    process = _start_worker(tmp_path, "--workers", "2", "--n-trials", "2")
    _wait_for_running_trial(tmp_path, process)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    running = optuna.load_study(study_name=STUDY, storage=url).trials[0]
    pid = int(running.user_attrs["worker"].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGKILL, err
    lines = _error_lines(err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"(pid {pid}) was killed by SIGKILL" in lines[0]
    assert "failed after 3 s of missed heartbeats and rerun with the same parameters" in lines[0]


def test_a_refusal_in_the_workers_is_one_line_and_no_summary(tmp_path, capfd):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    base = ["run", "--quick", "--n-trials", "1", "--epochs", "1", "--train-limit", "1000"]
    base += ["--storage", url, "--results-dir", str(tmp_path)]
    assert main([*base, "--workers", "1"]) == 0
    other = tmp_path / "other.toml"
    other.write_text("[params]\nc1_filters = { low = 4, high = 8 }\n")
    capfd.readouterr()
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    argv = [*base, "--workers", "2", "--n-trials", "2", "--space", str(other)]
    assert main(argv) == 1
    out, err = capfd.readouterr()
    lines = _error_lines(err)
    assert len(lines) == 1 and "was made with a different search space" in lines[0], err
    assert "best:" not in out and "next:" not in out
    assert {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_bad_data_with_workers_is_one_line_and_creates_no_database(tmp_path, capfd):
    from lenet.data import find_data_dir

    data = tmp_path / "data"
    shutil.copytree(find_data_dir(download=False), data)
    labels = data / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:100])  # truncated
    results = tmp_path / "results"
    argv = ["run", "--quick", "--workers", "2", "--data-dir", str(data)]
    assert main([*argv, "--results-dir", str(results)]) == 1
    out, err = capfd.readouterr()
    lines = _error_lines(err)
    assert len(lines) == 1 and "is corrupt or truncated" in lines[0], err
    assert not results.exists() and "best:" not in out


def test_more_workers_than_the_memory_holds_are_refused(tmp_path, monkeypatch, capsys):
    import study.workers

    monkeypatch.setattr(study.workers, "available_mib", lambda: 8 * 1024.0)  # 4 workers' worth
    argv = ["run", "--workers", "1000", "--results-dir", str(tmp_path / "results")]
    assert main(argv) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert lines == [
        "lenet-study: error: --workers 1000: 20 worker processes need about 40 GiB of memory "
        "and 8.0 GiB is available; give --workers 4 or fewer"
    ]
    assert not (tmp_path / "results").exists()
    # Only as many start as there are trials: 1000 workers for 3 trials are 3.
    assert study.workers.workers_at_most(RunSettings(workers=1000, n_trials=3)) == 3


def test_the_header_announces_the_workers_that_start(tmp_path, monkeypatch, capsys):
    import study.workers

    monkeypatch.setattr(study.workers.subprocess, "Popen", _FakeWorker)
    monkeypatch.setattr(_FakeWorker, "started", [])
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = RunSettings(storage=url, n_trials=2, results_dir=tmp_path, workers=1000)
    assert study.workers.run_workers(settings) == 0
    assert ", 2 workers" in capsys.readouterr().out
    assert _FakeWorker.started[0] == 0 and len(_FakeWorker.started) <= 2  # never 1000


class _LockingWorker:
    """A worker process stand-in that holds the database locked for its first 10 polls, as a
    worker's long write would, then adds its trial and ends."""

    def __init__(self, argv: list[str], env: dict[str, str], **kwargs: object) -> None:
        import sqlite3

        self.url = env[STORAGE_ENV]
        path = self.url.removeprefix("sqlite:///")
        self.holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.holder.execute("BEGIN EXCLUSIVE")
        self.polls, self.returncode = 0, None

    def poll(self) -> int | None:
        self.polls += 1
        if self.polls <= 10:
            return None
        if self.holder.in_transaction:
            self.holder.rollback()
            self.holder.close()
            study = optuna.load_study(study_name=STUDY, storage=self.url)
            study.add_trial(optuna.trial.create_trial(value=0.5))  # its trial
        self.returncode = 0
        return 0


def test_the_supervisor_waits_out_a_locked_database(tmp_path, monkeypatch, capsys):
    import study.storage
    import study.workers

    monkeypatch.setattr(study.storage, "SQLITE_TIMEOUT_SECONDS", 0.1)
    monkeypatch.setattr(study.workers.subprocess, "Popen", _LockingWorker)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = RunSettings(storage=url, n_trials=1, results_dir=tmp_path, workers=1)
    _created_as_run_creates_it(settings)
    # Its polls of the storage meet the lock for 2 s; they wait, they do not fail.
    assert study.workers.run_workers(replace(settings, trials_per_process=1)) == 0
    assert "Traceback" not in capsys.readouterr().err

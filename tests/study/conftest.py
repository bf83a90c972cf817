"""Fixtures of the study tests that need a server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A temporary PostgreSQL server on loopback with its own data folder."""
    if os.environ.get("LENET_TEST_POSTGRES_URL"):
        yield os.environ["LENET_TEST_POSTGRES_URL"]
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; CI installs it)")
    # Not under pytest's temporary folder: that is private to root, and the server runs as
    # the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="lenet-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    (folder / "pw").write_text("secret\n")
    if as_user:
        shutil.chown(folder / "pw", "postgres")
    subprocess.run(
        [
            *as_user,
            bins[-1] / "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={folder / 'pw'}",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {folder}"
    subprocess.run(
        [
            *as_user,
            bins[-1] / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-l",
            folder / "log",
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres:secret@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, bins[-1] / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
        )

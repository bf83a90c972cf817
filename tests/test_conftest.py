"""The shared fixtures' own rules."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "start",
    [
        lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
        lambda: multiprocessing.get_context("spawn").Process(target=print).start(),
    ],
    ids=["subprocess", "multiprocessing"],
)
def test_a_quick_test_that_starts_a_process_fails(start):
    with pytest.raises(pytest.fail.Exception, match="mark it @pytest"):
        start()

"""This process' memory as Linux reports it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from study.memory import reset_peak_rss, status_mib

linux_only = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


@linux_only
def test_rss_follows_what_the_process_touches():
    before = status_mib("VmRSS")
    block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, every page written
    assert status_mib("VmRSS") - before > 48
    del block
    assert math.isnan(status_mib("NoSuchField"))


@linux_only
def test_the_peak_can_be_restarted_for_one_measurement():
    block = np.ones(128 * 2**20, dtype=np.uint8)
    del block
    peak = status_mib("VmHWM")
    assert peak - status_mib("VmRSS") > 100  # the freed 128 MiB are still in the peak
    reset_peak_rss()
    if status_mib("VmHWM") == peak:
        pytest.skip("this kernel refuses to reset VmHWM (clear_refs)")
    assert status_mib("VmHWM") - status_mib("VmRSS") < 16

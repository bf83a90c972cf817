"""This process' memory as Linux reports it: what a worker records and the bench measures."""

from __future__ import annotations

import contextlib
from pathlib import Path


def status_mib(key: str) -> float:
    """A ``/proc/self/status`` size (VmRSS, VmHWM) in MiB; NaN where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # the file says kB
    except OSError:
        pass
    return float("nan")


def reset_peak_rss() -> None:
    """Restarts VmHWM, so that the next peak is a measurement's, not the whole process'.

    Writing 5 to clear_refs does it (Linux >= 4.0). Where that is refused the peak stays the
    process' so far: an upper bound.
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")

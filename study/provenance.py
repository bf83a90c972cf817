"""What produced a study, a model or a report: library versions, CPU, data checksums, seeds."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import TYPE_CHECKING, Any

import optuna

from study.storage import manifest_of

if TYPE_CHECKING:
    from lenet import FashionMNIST

REPORT_PACKAGES = ("pandas", "plotly", "scipy", "kaleido")  # beyond the study's own


def cpu_model() -> str:
    """The CPU model as the kernel names it ("Intel(R) Xeon(R) ..."), else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    """Library and platform versions, recorded with every study and every exported model.

    ``backend`` is the Keras backend of this process; its library's version is recorded under
    the library's name (``tensorflow``, or ``jax`` and ``jaxlib``), and only that library is
    imported.
    """
    import keras
    import numpy

    from lenet import backends

    return {
        "python": platform.python_version(),
        "backend": keras.backend.backend(),
        **backends.current().library_versions(),
        "keras": keras.__version__,
        "optuna": optuna.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
    }


def machine() -> dict[str, Any]:
    """The CPU, its cores, the load and the library versions: what a benchmark's numbers are
    valid for."""
    return {
        "cpu_model": cpu_model(),
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load_average_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        **versions(),
    }


def cpu_name() -> str:
    """The CPU model with the core count."""
    return f"{cpu_model()}, {os.cpu_count()} logical cores"


def provenance(
    study: optuna.Study, data: FashionMNIST | None, command: str, seeds: list[int]
) -> dict[str, Any]:
    """What produced the report: command, versions, CPU, data checksums, seeds."""
    manifest = manifest_of(study)
    now = versions()
    for package in REPORT_PACKAGES:
        try:
            now[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            now[package] = "not installed"
    return {
        "command": command,
        "versions": now,
        "study_versions": manifest.get("versions", {}),
        "cpu": cpu_name(),
        "data_source": data.source if data else None,
        "checksums": data.checksums if data else manifest.get("data", {}),
        "checksums_match_study": data is not None and data.checksums == manifest.get("data"),
        "study_seed": manifest.get("seed"),
        "split_seed": manifest.get("protocol", {}).get("split_seed"),
        "retrain_seeds": seeds,
    }

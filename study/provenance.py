"""What produced a report: the command, library versions, CPU, data checksums and seeds."""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any

import optuna

from lenet import FashionMNIST
from study.storage import cpu_model, versions

REPORT_PACKAGES = ("pandas", "plotly", "scipy", "kaleido")  # beyond the study's own


def cpu_name() -> str:
    """The CPU model with the core count."""
    return f"{cpu_model()}, {os.cpu_count()} logical cores"


def provenance(
    study: optuna.Study, data: FashionMNIST | None, command: str, seeds: list[int]
) -> dict[str, Any]:
    """What produced the report: command, versions, CPU, data checksums, seeds."""
    manifest = study.user_attrs.get("manifest", {})
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

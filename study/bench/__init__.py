"""``lenet-study bench``: what a study costs on this machine.

``measure`` times training, trial start-up, pruning and memory; ``workers`` compares worker
layouts; ``suite`` runs them in order and renders the table.
"""

from __future__ import annotations

from study.bench.suite import BenchReport, BenchSizes, render, run_bench, write_json

__all__ = ["BenchReport", "BenchSizes", "render", "run_bench", "write_json"]

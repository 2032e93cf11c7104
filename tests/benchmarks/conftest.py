"""Fixtures for the CTIBench task tests: paths into the real data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cti_bench(shared_data: Path) -> Path:
    """The CTIBench folder: six task TSVs and `responses/`."""
    return shared_data / "cti-bench"


@pytest.fixture(scope="session")
def responses_dir(cti_bench: Path) -> Path:
    """The published models' responses, one TSV per task."""
    return cti_bench / "responses"


@pytest.fixture(scope="session")
def reference_runs(shared_data: Path) -> Path:
    """The folder of published third-party evaluation runs (JSON)."""
    return shared_data / "reference-runs"


@pytest.fixture(scope="session")
def cybersecqwen_run(reference_runs: Path) -> dict:
    """The CyberSecQwen-4B five-trial run, parsed."""
    return json.loads((reference_runs / "cybersecqwen-4b-multi-trial-5x.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def qwen_baseline_run(reference_runs: Path) -> dict:
    """The Qwen3-4B-Instruct-2507 baseline run, parsed."""
    return json.loads((reference_runs / "qwen3-4b-instruct-2507-baseline.json").read_text(encoding="utf-8"))

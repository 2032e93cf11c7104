"""Shared fixtures: the real data folder beside the checkout and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_shared_data() -> Path | None:
    override = os.environ.get("CTIFORGE_SHARED_DATA")
    candidates = [Path(override)] if override else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if (candidate / "cti-bench").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (CTIBench, NVD, CWE, ATT&CK); the tests fail without it."""
    found = _find_shared_data()
    if found is None:
        pytest.fail(
            "real data folder not found: expected ../shared/data beside the checkout; "
            "set CTIFORGE_SHARED_DATA to its path"
        )
    return found


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ctiforge's cache and home folder at a temporary folder for every test."""
    home = tmp_path_factory.mktemp("ctiforge-home")
    monkeypatch.setenv("CTIFORGE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home


def run_cli(*args: str, input: str | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real `ctiforge` command in a subprocess and capture its output."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "ctiforge", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    """The `run_cli` helper as a fixture."""
    return run_cli

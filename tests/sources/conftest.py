"""Fixtures for the reader tests: the real sample records and NVD feeds."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cve5_dir(shared_data: Path) -> Path:
    """The 16 real CVE JSON 5 records."""
    return shared_data / "samples" / "cve5"


@pytest.fixture(scope="session")
def api2_dir(shared_data: Path) -> Path:
    """The 12 real NVD API 2.0 `cve` objects and the response that wraps them."""
    return shared_data / "samples" / "nvd-api2"


@pytest.fixture(scope="session")
def nvd_dir(shared_data: Path) -> Path:
    """The NVD JSON 1.1 yearly feeds."""
    return shared_data / "nvd"

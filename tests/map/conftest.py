"""Helpers for the `ctiforge map` and `ctiforge mapper` tests, which run the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

# A real NVD description (CVE-2024-23848), used wherever one plain description is enough.
UAF_DESCRIPTION = (
    "In the Linux kernel through 6.7.1, there is a use-after-free in cec_queue_msg_fh, related to "
    "drivers/media/cec/core/cec-adap.c and drivers/media/cec/core/cec-api.c."
)


@pytest.fixture(scope="session")
def samples(shared_data: Path) -> Path:
    """The folder of real CVE JSON 5 and NVD API 2.0 sample records."""
    return shared_data / "samples"


@pytest.fixture
def map_json(cli: Callable[..., subprocess.CompletedProcess[str]]) -> Callable[..., dict[str, Any]]:
    """Run `ctiforge map ... --json`, check it succeeded, and return the parsed document."""

    def run(*args: str, input: str | None = None) -> dict[str, Any]:
        result = cli("map", *args, "--json", input=input)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return run


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]


@pytest.fixture
def one_line_error() -> Callable[..., None]:
    """A check for exit status 2 and one `error:` line on stderr containing every fragment."""
    return _assert_one_line_error


@pytest.fixture
def uaf_description() -> str:
    """A real NVD description (CVE-2024-23848)."""
    return UAF_DESCRIPTION


@pytest.fixture
def in_process() -> Callable[..., Any]:
    """Run a `ctiforge` command in this process with click's test runner.

    The mapper's scikit-learn import then happens once per test session
    instead of once per command, which keeps the output-format tests fast.
    Returns the runner's result, with `.exit_code`, `.stdout` and `.stderr`.
    """
    from click.testing import CliRunner

    from ctiforge._cli.main import cli

    def run(*args: str, input: str | None = None) -> Any:
        result = CliRunner(catch_exceptions=False).invoke(cli, list(args), input=input)
        assert result.exit_code == 0, result.stderr
        return result

    return run

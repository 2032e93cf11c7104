"""The throughput benchmark script runs on CPU with the tiny shape and prints one line per measurement."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"


@pytest.mark.slow
def test_benchmark_tiny_smoke() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--shape", "tiny", "--batch", "1", "--seq-len", "64", "--steps", "1",
         "--warmup", "0", "--checkpointing", "both"],
        capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all("tokens/s" in line for line in lines)
    assert "checkpointing=on" in lines[1]

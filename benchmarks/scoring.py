"""Time answer extraction and scoring on the published CTIBench responses and the reference runs.

Usage: python benchmarks/scoring.py [PATH_TO_SHARED_DATA]

Prints, per input file and rule, the number of responses, the wall time and
the throughput. Runs single-threaded; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

from ctiforge.benchmarks import get_task, read_responses

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
INPUTS = [
    ("cti-mcq", "cti-bench/responses/cti-mcq-responses.tsv"),
    ("cti-rcm", "cti-bench/responses/cti-rcm-responses.tsv"),
    ("cti-vsp", "cti-bench/responses/cti-vsp-responses.tsv"),
    ("cti-taa", "cti-bench/responses/cti-taa-responses.tsv"),
    ("cti-mcq", "reference-runs/cybersecqwen-4b-multi-trial-5x.json"),
    ("cti-rcm", "reference-runs/qwen3-4b-instruct-2507-baseline.json"),
]


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    print(f"python {platform.python_version()} on {platform.machine()}")
    print(f"{'task':<9} {'file':<40} {'rule':<9} {'responses':>9} {'read s':>7} {'score s':>8} {'per s':>9}")
    for task_name, relative in INPUTS:
        task = get_task(task_name)
        started = time.perf_counter()
        response_sets = read_responses(data / relative, task)
        read_seconds = time.perf_counter() - started
        for rule in task.rules:
            count = 0
            started = time.perf_counter()
            for response_set in response_sets:
                task.score(response_set.items, response_set.responses, rule)
                count += len(response_set.responses)
            score_seconds = time.perf_counter() - started
            print(f"{task_name:<9} {Path(relative).name:<40} {rule:<9} {count:>9} {read_seconds:>7.3f} "
                  f"{score_seconds:>8.3f} {count / score_seconds:>9.0f}")


if __name__ == "__main__":
    main()

"""Throughput of the evaluation harness against the local scripted server.

Runs 1,000 cti-rcm items x 5 trials through `run_evaluation` with the openai
backend at concurrency 64, against `ctiforge.testing.openai_server` started
as a separate process that answers every prompt at once with its gold CWE.
Prints requests per second for the generation phase (sending, receiving and
appending every response to the run store) and the time of the report.

    python benchmarks/harness.py --data-dir ../shared/data/cti-bench
    python benchmarks/harness.py --data-dir ... --compare-httpx   # also time an httpx AsyncClient

The target is at least 500 requests/s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _start_server(answers: dict[str, str], folder: Path) -> tuple[subprocess.Popen, str]:
    answers_file = folder / "answers.json"
    answers_file.write_text(json.dumps(answers))
    process = subprocess.Popen(
        [sys.executable, "-m", "ctiforge.testing.openai_server", "--answers", str(answers_file)],
        stdout=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline()
    return process, line.split()[-1]


def _time_httpx(base_url: str, prompts: list[str], concurrency: int) -> float:
    import httpx

    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            pending = iter(prompts)

            async def worker() -> None:
                for prompt in pending:
                    response = await client.post(f"{base_url}/chat/completions", json={
                        "model": "scripted-model", "messages": [{"role": "user", "content": prompt}]})
                    response.json()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return len(prompts) / (time.perf_counter() - started)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="CTIBench folder with cti-rcm.tsv")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--compare-httpx", action="store_true", help="also time an httpx AsyncClient (needs httpx)")
    args = parser.parse_args()

    from ctiforge.backends import get_backend
    from ctiforge.benchmarks import get_task
    from ctiforge.evaluate import EvalSettings, run_evaluation

    task = get_task("cti-rcm")
    items = task.load(args.data_dir)[: args.items]
    answers = {task.build_prompt(item).messages[-1]["content"]: f"Mapped.\n\n{item.gold}" for item in items}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        server, base_url = _start_server(answers, folder)
        try:
            backend = get_backend("openai", model="scripted-model", base_url=base_url, concurrency=args.concurrency)
            settings = EvalSettings(tasks=("cti-rcm",), trials=args.trials, limit=args.items)
            started = time.perf_counter()
            outcome = run_evaluation(settings, backend=backend, run_dir=folder / "run", data_dir=args.data_dir,
                                     progress=False, plots=False)
            total = time.perf_counter() - started
            accuracy = outcome.report["tasks"]["cti-rcm"]["summary"]["strict"]["mean"]
            print(f"requests: {outcome.received} received, {outcome.failed} failed, accuracy {accuracy:.3f}")
            print(f"generation phase: {outcome.wall_s:.2f} s = {outcome.received / outcome.wall_s:.0f} requests/s "
                  f"at concurrency {args.concurrency}")
            print(f"whole run including loading and the report: {total:.2f} s")
            if args.compare_httpx:
                prompts = [f"{text} #{n}" for n in range(2) for text in list(answers)[:1000]]
                print(f"httpx 0.28 AsyncClient alone: {_time_httpx(base_url, prompts, args.concurrency):.0f} requests/s")
        finally:
            server.terminate()
            server.wait()
    print(f"machine: {os.cpu_count()} CPUs reported by os.cpu_count()")


if __name__ == "__main__":
    main()

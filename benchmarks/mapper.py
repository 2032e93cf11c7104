"""Measure the embedded CWE mapper on CTIBench and on this machine.

    python benchmarks/mapper.py --cti-bench CTI_BENCH_DIR [--model MODEL_DIR] [--json]

Prints CTI-RCM strict top-1/top-3 and cti-rcm-2021 top-1/top-3. CTIBench is
used here only to report, never to train or tune. Also prints batch
throughput on 1,000 descriptions, single-item latency p50/p95, cold start in
a fresh interpreter, peak RSS and model size on disk. Last come the 5 most
frequent confusions and the accuracy on gold CWEs that have no training
record.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from ctiforge.benchmarks import get_task  # noqa: E402
from ctiforge.mapper import DEFAULT_MODEL_DIR, load_mapper  # noqa: E402

_COLD_START = """
import time
started = time.perf_counter()
from ctiforge.mapper import load_mapper
mapper = load_mapper({path!r})
mapper.predict(["SQL injection in login.php allows remote attackers to execute SQL commands."])
print(time.perf_counter() - started)
"""


def accuracy(mapper, task_name: str, folder: Path) -> dict:
    """Return strict top-1/top-3 accuracy, confusions and unseen-CWE accuracy for one RCM task."""
    items = get_task(task_name).load(folder)
    texts = [item.fields["Description"] for item in items]
    predictions = mapper.predict(texts, k=3)
    top1 = [p[0].cwe_id == item.gold for p, item in zip(predictions, items)]
    top3 = [any(c.cwe_id == item.gold for c in p) for p, item in zip(predictions, items)]
    confusions = Counter((item.gold, p[0].cwe_id) for p, item in zip(predictions, items) if p[0].cwe_id != item.gold)
    trained = set(mapper.info()["class_counts"])
    unseen = [hit for hit, item in zip(top1, items) if item.gold not in trained]
    return {
        "items": len(items),
        "top1": sum(top1) / len(items),
        "top3": sum(top3) / len(items),
        "confusions": [f"{gold} -> {predicted}: {count}" for (gold, predicted), count in confusions.most_common(5)],
        "unseen_items": len(unseen),
        "unseen_top1": (sum(unseen) / len(unseen)) if unseen else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cti-bench", type=Path, required=True, help="folder with cti-rcm.tsv and cti-rcm-2021.tsv")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="mapper model folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()

    cold = []
    for _ in range(3):
        started = time.perf_counter()
        inner = subprocess.run([sys.executable, "-c", _COLD_START.format(path=str(args.model))],
                               capture_output=True, text=True, check=True)
        cold.append((time.perf_counter() - started, float(inner.stdout.strip())))

    items = get_task("cti-rcm").load(args.cti_bench / "cti-rcm.tsv")
    batch = [item.fields["Description"] for item in items][:1000]
    # A fresh mapper has an empty per-word character n-gram cache, so this is the worst case.
    mapper = load_mapper(args.model)
    started = time.perf_counter()
    mapper.predict(batch, k=3)
    cold_batch_seconds = time.perf_counter() - started

    mapper = load_mapper(args.model)
    info = mapper.info()
    rcm = accuracy(mapper, "cti-rcm", args.cti_bench / "cti-rcm.tsv")
    rcm2021 = accuracy(mapper, "cti-rcm-2021", args.cti_bench / "cti-rcm-2021.tsv")

    mapper.predict(batch[:50])
    started = time.perf_counter()
    mapper.predict(batch, k=3)
    batch_seconds = time.perf_counter() - started
    latencies = []
    for text in batch[:300]:
        started = time.perf_counter()
        mapper.predict([text], k=3)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()

    result = {
        "model": str(args.model),
        "cti_rcm_top1": round(rcm["top1"], 4),
        "cti_rcm_top3": round(rcm["top3"], 4),
        "cti_rcm_2021_top1": round(rcm2021["top1"], 4),
        "cti_rcm_2021_top3": round(rcm2021["top3"], 4),
        "throughput_per_s": round(len(batch) / batch_seconds, 1),
        "throughput_per_s_cold_cache": round(len(batch) / cold_batch_seconds, 1),
        "latency_ms_p50": round(statistics.median(latencies), 2),
        "latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "cold_start_s_process": round(min(total for total, _ in cold), 3),
        "cold_start_s_import_load_answer": round(min(inner for _, inner in cold), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model_size_mb": round(info["size_bytes"] / 1e6, 2),
        "cti_rcm_confusions": rcm["confusions"],
        "cti_rcm_unseen_items": rcm["unseen_items"],
        "cti_rcm_unseen_top1": rcm["unseen_top1"],
        "cti_rcm_2021_unseen_items": rcm2021["unseen_items"],
        "cti_rcm_2021_unseen_top1": rcm2021["unseen_top1"],
        "held_out_nvd": info["held_out"],
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()

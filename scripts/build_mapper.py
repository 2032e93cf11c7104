"""Build the embedded CWE mapper from the NVD 1.1 feeds, keeping benchmark CVEs out.

    python scripts/build_mapper.py --nvd-dir NVD_DIR \
        --exclude cti-bench/cti-rcm.tsv --exclude cti-bench/cti-rcm-2021.tsv \
        --exclude cti-bench/cti-vsp.tsv --out src/ctiforge/data/mapper

Every CVE ID in the `--exclude` TSV files (URL column) is left out, and so
is every NVD description whose similarity to one of their descriptions is at
or above the near-duplicate threshold. The model, its training manifest and
the NVD/CWE notice are written to `--out`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

# Single-threaded BLAS keeps the build reproducible and polite on shared machines.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mapper_inputs import read_exclusions, read_nvd_feeds  # noqa: E402

from ctiforge.mapper import LabelPolicy, TrainingSettings, train_mapper  # noqa: E402
from ctiforge.mapper._decontaminate import DEFAULT_NEAR_DUPLICATE_THRESHOLD  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvd-dir", type=Path, required=True, help="folder of nvdcve-1.1-YYYY.json.gz feeds")
    parser.add_argument("--exclude", type=Path, action="append", default=[],
                        help="CTIBench-style TSV whose CVE IDs and descriptions must stay out (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--cache", type=Path, default=None, help="JSON-lines cache of the parsed feeds")
    parser.add_argument("--threshold", type=float, default=DEFAULT_NEAR_DUPLICATE_THRESHOLD,
                        help="near-duplicate cosine similarity threshold (default: %(default)s)")
    parser.add_argument("--recency-half-life", type=float, default=TrainingSettings().recency_half_life,
                        help="years after which a record's training weight halves (default: %(default)s)")
    parser.add_argument("--policy", choices=[policy.value for policy in LabelPolicy],
                        default=TrainingSettings().policy.value,
                        help="treatment of labels the mapper must not output (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")

    records = read_nvd_feeds(args.nvd_dir, args.cache)
    exclusions = read_exclusions(args.exclude)
    settings = TrainingSettings(policy=LabelPolicy(args.policy), near_duplicate_threshold=args.threshold,
                                recency_half_life=args.recency_half_life)
    manifest = train_mapper(records, out_dir=args.out, exclude_ids=exclusions.ids,
                            exclude_texts=exclusions.texts, seed=args.seed, settings=settings)
    summary = {key: value for key, value in manifest.items() if key != "training_ids"}
    summary["exclude_files"] = [Path(name).name for name in exclusions.files]
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

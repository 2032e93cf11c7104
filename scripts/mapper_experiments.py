"""Compare mapper variants on a held-out slice of the NVD 2017-2018 feeds.

    python scripts/mapper_experiments.py --nvd-dir NVD_DIR --exclude cti-rcm.tsv \
        --exclude cti-rcm-2021.tsv --exclude cti-vsp.tsv --variant map --variant drop

Every variant trains on the same records and is scored on the same held-out
records: 20% of the 2017-2018 CVEs (seed 0), after removing the excluded
IDs and near-duplicates of the excluded texts. Held-out rows count when one
of their labels, under the MAP policy, is a class the mapper may output.
Prints one JSON line per variant.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mapper_inputs import read_exclusions, read_nvd_feeds  # noqa: E402

from ctiforge.catalog import load_catalog  # noqa: E402
from ctiforge.mapper._labels import LabelPolicy  # noqa: E402
from ctiforge.mapper._train import (  # noqa: E402
    TrainingSettings, catalog_examples, choose_classes, evaluate, fit_linear_model,
    output_mask, prepare_examples, prune_model, LinearModel,
)

VARIANTS = {
    "map": TrainingSettings(policy=LabelPolicy.MAP),
    "drop": TrainingSettings(policy=LabelPolicy.DROP),
    "learn": TrainingSettings(policy=LabelPolicy.LEARN),
    "map-recency4": TrainingSettings(policy=LabelPolicy.MAP, recency_half_life=4.0),
    "map-nocatalog": TrainingSettings(policy=LabelPolicy.MAP, use_catalog_text=False),
    "map-c0.2": TrainingSettings(policy=LabelPolicy.MAP, svm_c=0.2),
    "map-c1": TrainingSettings(policy=LabelPolicy.MAP, svm_c=1.0),
    "map-full": TrainingSettings(policy=LabelPolicy.MAP, weights_per_class=0),
    "map-4k": TrainingSettings(policy=LabelPolicy.MAP, weights_per_class=4000),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvd-dir", type=Path, required=True)
    parser.add_argument("--exclude", type=Path, action="append", default=[])
    parser.add_argument("--cache", type=Path, default=None, help="JSON-lines cache of the parsed feeds")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), required=True)
    parser.add_argument("--prune-sweep", action="store_true",
                        help="fit the first variant unpruned and score it at several weights-per-class limits")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")

    catalog = load_catalog()
    records = read_nvd_feeds(args.nvd_dir, args.cache)
    exclusions = read_exclusions(args.exclude)
    exclude_ids, exclude_texts = exclusions.ids, exclusions.texts
    rng = np.random.default_rng(0)
    test_ids = {r[0] for r in records if r[0].startswith(("CVE-2017-", "CVE-2018-")) and rng.random() < 0.2}
    train_records = [r for r in records if r[0] not in test_ids]
    # Held-out rows are scored against MAP-policy labels whatever the variant, so all variants share one test.
    base = TrainingSettings(policy=LabelPolicy.MAP)
    test = prepare_examples([r for r in records if r[0] in test_ids], catalog, settings=base,
                            exclude_ids=exclude_ids, exclude_texts=exclude_texts).examples

    for name in args.variant:
        settings = VARIANTS[name]
        started = time.perf_counter()
        prepared = prepare_examples(train_records, catalog, settings=settings,
                                    exclude_ids=exclude_ids, exclude_texts=exclude_texts)
        classes = choose_classes(prepared.examples, catalog, settings)
        outputtable = output_mask(classes, catalog)
        extra = catalog_examples(catalog, [c for c, ok in zip(classes, outputtable) if ok]) \
            if settings.use_catalog_text else []
        sweep = args.prune_sweep and name == args.variant[0]
        fit_settings = dataclasses.replace(settings, weights_per_class=0) if sweep else settings
        model = fit_linear_model(prepared.examples + extra, classes, settings=fit_settings, seed=0)
        seconds = round(time.perf_counter() - started, 1)
        for keep in ([0, 30000, 12000, 6000, 3000] if sweep else [settings.weights_per_class]):
            pruned = prune_model(model, keep) if keep else model
            result = evaluate(pruned, test, outputtable)
            print(json.dumps({"variant": name, "weights_per_class": keep, **result, "classes": len(classes),
                              "weights": int(pruned.weights.nnz), "features": pruned.features.n_features,
                              "train_records": len(prepared.examples), "counts": prepared.counts,
                              "seconds": seconds}), flush=True)
            if keep == settings.weights_per_class:
                # The shipped format stores weights as float16; score that rounding too.
                weights = pruned.weights.copy()
                weights.data = weights.data.astype(np.float16).astype(np.float32)
                rounded = LinearModel(pruned.features, pruned.classes, weights, pruned.bias)
                print(json.dumps({"variant": name, "weights_per_class": keep, "float16": True,
                                  **evaluate(rounded, test, outputtable)}), flush=True)


if __name__ == "__main__":
    main()

"""Compare mapper variants on a temporal split of the NVD 1.1 feeds.

    python scripts/mapper_temporal.py --nvd-dir NVD_DIR --exclude cti-rcm.tsv \
        --exclude cti-rcm-2021.tsv --exclude cti-vsp.tsv --work /tmp/temporal \
        --variant hl4 --variant hl2 --posthoc

Records published (NVD `publishedDate`) before `--cutoff` train every variant
and records published on or after it are the validation set. This mimics
mapping CVEs published after the training data, with NVD's later labelling
habits. Labels use the DROP policy and a validation row counts when one of
its labels is a class the mapper may output. The first run writes the
training features to `--work`, so later runs fit only the SVMs. Prints one
JSON line per variant (and per post-hoc method with `--posthoc`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mapper_inputs import read_exclusions  # noqa: E402

from ctiforge.catalog import Catalog, load_catalog  # noqa: E402
from ctiforge.mapper._features import FeatureSpace, fit_feature_space  # noqa: E402
from ctiforge.mapper._metrics import softmax  # noqa: E402
from ctiforge.mapper._train import (  # noqa: E402
    Example, LinearModel, TrainingSettings, catalog_examples, choose_classes, expand_rows, fit_svm,
    output_mask, prepare_examples,
)
from ctiforge.sources import CveRecord, read_records  # noqa: E402

VARIANTS = {
    "none": TrainingSettings(recency_half_life=None),
    "hl4": TrainingSettings(recency_half_life=4.0),
    "hl3": TrainingSettings(recency_half_life=3.0),
    "hl2": TrainingSettings(recency_half_life=2.0),
    "hl1": TrainingSettings(recency_half_life=1.0),
    "hl0.5": TrainingSettings(recency_half_life=0.5),
    "hl2-c0.25": TrainingSettings(recency_half_life=2.0, svm_c=0.25),
    "hl2-c1": TrainingSettings(recency_half_life=2.0, svm_c=1.0),
    "hl2-cw0.5": TrainingSettings(recency_half_life=2.0, class_weight_power=0.5),
    "hl1-c0.25": TrainingSettings(recency_half_life=1.0, svm_c=0.25),
    "hl1-cw0.5": TrainingSettings(recency_half_life=1.0, class_weight_power=0.5),
}


def read_dated_records(nvd_dir: Path, cache: Path | None) -> list[tuple[str, str, list[str], str]]:
    """Return (CVE ID, description, labels, published date) for the records of the NVD 1.1 feeds."""
    if cache is not None and cache.is_file():
        with cache.open(encoding="utf-8") as handle:
            return [tuple(json.loads(line)) for line in handle]
    records = []
    for feed in sorted(nvd_dir.glob("nvdcve-1.1-*.json*")):
        for record in read_records(feed, format="nvd-json-1.1"):
            if isinstance(record, CveRecord) and record.cve_id:
                records.append((record.cve_id, record.description, list(record.cwes), record.published or ""))
    if cache is not None:
        with cache.open("w", encoding="utf-8") as handle:
            for item in records:
                handle.write(json.dumps(item) + "\n")
    return records


@dataclasses.dataclass
class Split:
    """Both sides of the temporal split, the classes and the cached training features."""

    train: list[Example]
    validation: list[Example]
    classes: list[str]
    outputtable: np.ndarray
    features: FeatureSpace
    matrix: sp.csr_matrix


def build_split(args: argparse.Namespace, catalog: Catalog) -> Split:
    """Prepare both sides of the split and the training features (cached in `--work`)."""
    records = read_dated_records(args.nvd_dir, args.cache)
    exclusions = read_exclusions(args.exclude)
    base = TrainingSettings()

    def prepared(rows: list[tuple[str, str, list[str], str]]) -> list[Example]:
        return prepare_examples([row[:3] for row in rows], catalog, settings=base, exclude_ids=exclusions.ids,
                                exclude_texts=exclusions.texts).examples

    train = prepared([row for row in records if row[3] and row[3] < args.cutoff])
    validation = prepared([row for row in records if row[3] >= args.cutoff])
    classes = choose_classes(train, catalog, base)
    outputtable = output_mask(classes, catalog)
    train += catalog_examples(catalog, [c for c, ok in zip(classes, outputtable) if ok])

    features_file = args.work / "features.npz"
    if features_file.is_file():
        stored = np.load(features_file, allow_pickle=False)
        vocabulary = json.loads((args.work / "vocabulary.json").read_text(encoding="utf-8"))
        features = FeatureSpace(vocabulary["word"], stored["word_idf"], vocabulary["char"], stored["char_idf"])
        matrix = sp.load_npz(args.work / "matrix.npz").tocsr()
    else:
        rows = expand_rows(train, classes, base)
        started = time.perf_counter()
        features, matrix = fit_feature_space(rows.texts, min_df=2)
        logging.info("features %s in %.0f s", matrix.shape, time.perf_counter() - started)
        args.work.mkdir(parents=True, exist_ok=True)
        np.savez(features_file, word_idf=features.word_idf, char_idf=features.char_idf)
        (args.work / "vocabulary.json").write_text(
            json.dumps({"word": features.word_vocabulary, "char": features.char_vocabulary}), encoding="utf-8")
        sp.save_npz(args.work / "matrix.npz", matrix)
    return Split(train, validation, classes, outputtable, features, matrix)


def validation_scores(model: LinearModel, split: Split) -> tuple[np.ndarray, list[set[str]], list[Example]]:
    """Return masked decision scores and gold label sets for the scorable validation rows."""
    allowed = {cwe_id for cwe_id, ok in zip(split.classes, split.outputtable) if ok}
    rows = [example for example in split.validation if set(example.classes) & allowed]
    scores = model.scores([example.text for example in rows])
    scores[:, ~split.outputtable] = -np.inf
    return scores, [set(example.classes) for example in rows], rows


def accuracy(probabilities: np.ndarray, gold: list[set[str]], classes: list[str], k: int) -> float:
    top = np.argsort(-probabilities, axis=1)[:, :k]
    return float(np.mean([any(classes[c] in labels for c in row) for row, labels in zip(top, gold)]))


def report(name: str, probabilities: np.ndarray, gold: list[set[str]], classes: list[str],
           subset: np.ndarray, **extra: object) -> None:
    print(json.dumps({
        "variant": name, "n": len(gold),
        "top1": round(accuracy(probabilities, gold, classes, 1), 4),
        "top3": round(accuracy(probabilities, gold, classes, 3), 4),
        "n_specific": int(subset.sum()),
        "top1_specific": round(accuracy(probabilities[subset], [g for g, s in zip(gold, subset) if s], classes, 1), 4),
        **extra,
    }), flush=True)


def redistribute_discouraged(probabilities: np.ndarray, classes: list[str], catalog: Catalog,
                             share: float) -> np.ndarray:
    """Move `share` of each Discouraged class's probability to its view-1000 descendants among the classes.

    The moved mass is split in proportion to the descendants' own probabilities.
    """
    index = {cwe_id: i for i, cwe_id in enumerate(classes)}
    result = probabilities.copy()
    for parent, cwe_id in enumerate(classes):
        if catalog.get(cwe_id).mapping_usage != "Discouraged":
            continue
        children = [index[c] for c in classes if c != cwe_id and cwe_id in catalog.ancestors(c, 1000)]
        if not children:
            continue
        child_mass = probabilities[:, children]
        total = child_mass.sum(axis=1, keepdims=True)
        moved = share * probabilities[:, parent:parent + 1]
        result[:, children] += np.where(total > 0, moved * child_mass / np.where(total > 0, total, 1), 0)
        result[:, parent] -= np.where(total[:, 0] > 0, moved[:, 0], 0)
    return result


def knn_scores(split: Split, rows: list[Example], neighbours: int = 20) -> np.ndarray:
    """Return per-class sums of cosine similarity over each text's nearest training rows."""
    query = split.features.transform([example.text for example in rows])
    rows_targets = expand_rows(split.train, split.classes, TrainingSettings()).targets
    transposed = split.matrix.T.tocsr()
    result = np.zeros((len(rows), len(split.classes)), dtype=np.float32)
    for start in range(0, len(rows), 500):
        # Each row stacks two L2-normalised blocks, so halving the dot product gives the cosine similarity.
        similarity = (query[start:start + 500] @ transposed).toarray() / 2.0
        top = np.argpartition(-similarity, neighbours, axis=1)[:, :neighbours]
        for offset, columns in enumerate(top):
            np.add.at(result[start + offset], rows_targets[columns], similarity[offset, columns])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvd-dir", type=Path, required=True)
    parser.add_argument("--exclude", type=Path, action="append", default=[])
    parser.add_argument("--cache", type=Path, default=None, help="JSON-lines cache of the parsed feeds")
    parser.add_argument("--work", type=Path, required=True, help="folder for the cached training features")
    parser.add_argument("--cutoff", default="2019-01-01", help="first publication date of the validation set")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), default=[])
    parser.add_argument("--posthoc", action="store_true",
                        help="also score Discouraged-to-child redistribution and a kNN blend on each variant")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")

    catalog = load_catalog()
    split = build_split(args, catalog)
    logging.info("train %d examples, validation %d, classes %d", len(split.train), len(split.validation),
                 len(split.classes))
    for name in args.variant:
        settings = VARIANTS[name]
        rows = expand_rows(split.train, split.classes, settings)
        started = time.perf_counter()
        model = fit_svm(split.features, split.matrix, rows, split.classes, settings=settings, seed=0)
        seconds = round(time.perf_counter() - started)
        scores, gold, scored = validation_scores(model, split)
        # Rows whose labels include no Discouraged entry, where a Discouraged prediction is always wrong.
        specific = np.array([all(catalog.get(c).mapping_usage != "Discouraged" for c in labels) for labels in gold])
        probabilities = softmax(scores / 0.15)
        report(name, probabilities, gold, split.classes, specific, seconds=seconds)
        if not args.posthoc:
            continue
        for share in (0.5, 1.0):
            moved = redistribute_discouraged(probabilities, split.classes, catalog, share)
            report(f"{name}+redistribute{share}", moved, gold, split.classes, specific)
        knn = knn_scores(split, scored)
        knn[:, ~split.outputtable] = 0
        knn_probabilities = knn / np.maximum(knn.sum(axis=1, keepdims=True), 1e-9)
        report(f"{name}+knn-only", knn_probabilities, gold, split.classes, specific)
        for weight in (0.2, 0.35, 0.5):
            blend = (1 - weight) * probabilities + weight * knn_probabilities
            report(f"{name}+knn{weight}", blend, gold, split.classes, specific)


if __name__ == "__main__":
    main()

"""Training the mapper: label conversion, decontamination, a linear SVM, pruning, calibration."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ctiforge.catalog import Catalog, load_catalog
from ctiforge.errors import ConfigError
from ctiforge.mapper._decontaminate import DEFAULT_NEAR_DUPLICATE_THRESHOLD, max_similarity
from ctiforge.mapper._features import FeatureSpace, fit_feature_space
from ctiforge.mapper._labels import LabelPolicy, convert_labels, is_output_class
from ctiforge.mapper._metrics import expected_calibration_error, fit_temperature, softmax, top_k_accuracy
from ctiforge.mapper._storage import Exemplars, ModelFiles, save_model

logger = logging.getLogger(__name__)

_CVE_YEAR = re.compile(r"CVE-(\d{4})-\d+", re.IGNORECASE)


@dataclass(frozen=True)
class TrainingSettings:
    """Hyper-parameters of `train_mapper`; the defaults are the ones the shipped model uses."""

    policy: LabelPolicy = LabelPolicy.DROP
    svm_c: float = 0.5
    # Weight of a record whose CVE ID year is `years_back` before the newest: 0.5 ** (years_back / half_life).
    # One year was chosen on a temporal split of the NVD feeds, from none, 4, 2, 1 and 0.5 (docs/mapper.md).
    recency_half_life: float | None = 1.0
    # Exponent p of the class weight (rows / (classes * rows of the class)) ** p. At 0 every class weighs 1.
    class_weight_power: float = 0.0
    # Minimum number of training records for a label to become a class. With
    # use_catalog_text, every outputtable view-1003 entry is a class regardless.
    min_class_count: int = 3
    # Largest-magnitude weights kept per class after training.
    weights_per_class: int = 12000
    exemplars_per_class: int = 40
    terms_per_exemplar: int = 32
    near_duplicate_threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD
    calibration_fraction: float = 0.1
    use_catalog_text: bool = True


@dataclass
class Example:
    """One training text with its classes; `source` is a CVE ID or "catalog"."""

    source: str
    text: str
    classes: list[str]
    year: int | None = None


@dataclass
class PreparedData:
    """Training examples after label conversion and decontamination, with counts of what was dropped."""

    examples: list[Example]
    counts: dict[str, int] = field(default_factory=dict)
    excluded_ids_found: list[str] = field(default_factory=list)


@dataclass
class LinearModel:
    """A trained feature space and linear classifier over it (features x classes)."""

    features: FeatureSpace
    classes: list[str]
    weights: sp.csc_matrix
    bias: np.ndarray

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Return the decision scores, one row per text and one column per class."""
        matrix = self.features.transform(texts)
        return np.asarray((matrix @ self.weights).todense(), dtype=np.float32) + self.bias


def cve_year(cve_id: str) -> int | None:
    """Return the year part of a CVE ID, or None for anything else."""
    match = _CVE_YEAR.fullmatch(cve_id.strip())
    return int(match.group(1)) if match else None


def prepare_examples(
    records: Iterable[tuple[str, str, list[str]]],
    catalog: Catalog,
    *,
    settings: TrainingSettings,
    exclude_ids: set[str] | frozenset[str],
    exclude_texts: Sequence[str],
) -> PreparedData:
    """Convert labels, drop excluded IDs, unlabeled rows and near-duplicates of `exclude_texts`."""
    excluded = {cve_id.strip().upper() for cve_id in exclude_ids}
    counts: Counter[str] = Counter()
    found: list[str] = []
    examples: list[Example] = []
    for cve_id, text, labels in records:
        counts["records"] += 1
        if cve_id.strip().upper() in excluded:
            counts["excluded_id"] += 1
            found.append(cve_id)
            continue
        text = " ".join(text.split())
        if not text or text.startswith("** REJECT"):
            counts["empty_or_rejected"] += 1
            continue
        classes = convert_labels(labels, catalog, settings.policy)
        if not classes:
            counts["no_usable_label"] += 1
            continue
        examples.append(Example(cve_id, text, classes, cve_year(cve_id)))

    if exclude_texts and examples:
        started = time.perf_counter()
        similarity = max_similarity([example.text for example in examples], list(exclude_texts))
        near = similarity >= settings.near_duplicate_threshold
        counts["near_duplicate"] = int(near.sum())
        examples = [example for example, drop in zip(examples, near) if not drop]
        logger.info("dropped %d near-duplicates of %d held-back texts (%.1f s)",
                    int(near.sum()), len(exclude_texts), time.perf_counter() - started)
    counts["training_records"] = len(examples)
    return PreparedData(examples, dict(counts), sorted(set(found)))


def catalog_examples(catalog: Catalog, classes: Iterable[str]) -> list[Example]:
    """Return one example per class made of the catalog's name, description and alternate terms."""
    examples = []
    for cwe_id in classes:
        entry = catalog.get(cwe_id)
        parts = [entry.name, entry.description, entry.extended_description, *entry.alternate_terms]
        examples.append(Example("catalog", " ".join(" ".join(parts).split()), [cwe_id]))
    return examples


def choose_classes(examples: Sequence[Example], catalog: Catalog, settings: TrainingSettings) -> list[str]:
    """Return the classes to learn: frequent labels plus every outputtable view-1003 entry."""
    frequency = Counter(cwe_id for example in examples for cwe_id in example.classes)
    chosen = {cwe_id for cwe_id, count in frequency.items() if count >= settings.min_class_count}
    if settings.use_catalog_text:
        chosen.update(cwe_id for cwe_id in catalog.view_members(1003) if is_output_class(catalog, cwe_id))
    return sorted(chosen, key=lambda cwe_id: int(cwe_id.split("-")[1]))


@dataclass
class TrainingRows:
    """Training examples expanded to one row per (example, class) pair, with each row's sample weight."""

    texts: list[str]
    targets: np.ndarray
    weights: np.ndarray


def sample_weight(year: int | None, newest: int | None, half_life: float | None) -> float:
    """Return the recency weight 0.5 ** ((newest - year) / half_life), or 1.0 without a year or half-life."""
    if not half_life or year is None or newest is None:
        return 1.0
    return 0.5 ** ((newest - year) / half_life)


def expand_rows(examples: Sequence[Example], classes: Sequence[str], settings: TrainingSettings) -> TrainingRows:
    """Return one row per (example, class) pair, so a record counts once per class it carries.

    A row's weight is its recency weight times, with `class_weight_power`
    p > 0, (rows / (classes * rows of its class)) ** p, so p=1 is
    scikit-learn's "balanced" weighting and p=0.5 a milder form of it.
    """
    class_index = {cwe_id: i for i, cwe_id in enumerate(classes)}
    texts: list[str] = []
    targets: list[int] = []
    weights: list[float] = []
    newest = max((example.year for example in examples if example.year), default=None)
    for example in examples:
        weight = sample_weight(example.year, newest, settings.recency_half_life)
        for cwe_id in example.classes:
            if cwe_id in class_index:
                texts.append(example.text)
                targets.append(class_index[cwe_id])
                weights.append(weight)
    target_array = np.asarray(targets, dtype=np.int64)
    weight_array = np.asarray(weights, dtype=np.float64)
    if settings.class_weight_power and target_array.size:
        counts = np.bincount(target_array, minlength=len(classes)).astype(np.float64)
        present = counts > 0
        balanced = np.ones(len(classes))
        balanced[present] = target_array.size / (present.sum() * counts[present])
        weight_array *= balanced[target_array] ** settings.class_weight_power
    return TrainingRows(texts, target_array, weight_array)


def fit_linear_model(
    examples: Sequence[Example],
    classes: Sequence[str],
    *,
    settings: TrainingSettings,
    seed: int,
) -> LinearModel:
    """Fit the feature space and a one-vs-rest linear SVM on `examples`."""
    rows = expand_rows(examples, classes, settings)
    present = sorted(set(rows.targets.tolist()))
    if len(present) < 2:
        raise ConfigError(
            f"training needs records of at least 2 classes, found {len(present)}; pass more labelled records"
        )

    started = time.perf_counter()
    features, matrix = fit_feature_space(rows.texts, min_df=2)
    logger.info("features: %d texts x %d columns (%.1f s)", matrix.shape[0], matrix.shape[1],
                time.perf_counter() - started)
    return fit_svm(features, matrix, rows, classes, settings=settings, seed=seed)


def fit_svm(
    features: FeatureSpace,
    matrix: sp.csr_matrix,
    rows: TrainingRows,
    classes: Sequence[str],
    *,
    settings: TrainingSettings,
    seed: int,
) -> LinearModel:
    """Fit a one-vs-rest linear SVM on precomputed feature rows, then prune it to `weights_per_class`."""
    from sklearn.svm import LinearSVC

    present = sorted(set(rows.targets.tolist()))
    started = time.perf_counter()
    svm = LinearSVC(C=settings.svm_c, random_state=seed, max_iter=2000)
    svm.fit(matrix.astype(np.float64), rows.targets, sample_weight=rows.weights)
    logger.info("linear SVM: %d classes (%.1f s)", len(present), time.perf_counter() - started)

    coefficients = svm.coef_ if len(present) > 2 else np.vstack([-svm.coef_[0], svm.coef_[0]])
    intercepts = svm.intercept_ if len(present) > 2 else np.array([-svm.intercept_[0], svm.intercept_[0]])
    # Classes with no training row get no weights and a bias far below any score.
    bias = np.full(len(classes), -10.0, dtype=np.float32)
    bias[present] = intercepts
    pruned = _prune(coefficients, present, len(classes), settings.weights_per_class)
    return _drop_unused_features(LinearModel(features, list(classes), pruned, bias))


def prune_model(model: LinearModel, keep: int) -> LinearModel:
    """Return a copy of `model` with only the `keep` largest-magnitude weights of each class."""
    weights = model.weights.tocsc()
    dense_rows = []
    for class_id in range(weights.shape[1]):
        column = np.zeros(weights.shape[0], dtype=np.float32)
        start, end = weights.indptr[class_id], weights.indptr[class_id + 1]
        column[weights.indices[start:end]] = weights.data[start:end]
        dense_rows.append(column)
    pruned = _prune(dense_rows, range(weights.shape[1]), weights.shape[1], keep)
    return _drop_unused_features(LinearModel(model.features, model.classes, pruned, model.bias))


def _prune(coefficients: Iterable[np.ndarray], present: Iterable[int], n_classes: int,
           keep: int) -> sp.csc_matrix:
    columns = []
    n_features = 0
    for row in coefficients:
        n_features = row.size
        if keep and keep < row.size:
            top = np.argpartition(np.abs(row), -keep)[-keep:]
        else:
            top = np.flatnonzero(row)
        top = np.sort(top[row[top] != 0])
        columns.append((top, row[top].astype(np.float32)))
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    by_class = dict(zip(present, columns))
    for class_id in range(n_classes):
        top, values = by_class.get(class_id, (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)))
        indices.append(top)
        data.append(values)
        indptr.append(indptr[-1] + len(top))
    return sp.csc_matrix((np.concatenate(data), np.concatenate(indices), np.asarray(indptr)),
                         shape=(n_features, n_classes))


def _drop_unused_features(model: LinearModel) -> LinearModel:
    used = np.unique(model.weights.indices)
    features, mapping = model.features.restrict(used)
    weights = model.weights.copy()
    weights.indices = mapping[weights.indices].astype(np.int32)
    weights._shape = (features.n_features, weights.shape[1])
    return LinearModel(features, model.classes, weights.tocsc(), model.bias)


def output_mask(classes: Sequence[str], catalog: Catalog) -> np.ndarray:
    """Return a boolean array: True where the mapper may output the class."""
    return np.array([is_output_class(catalog, cwe_id) for cwe_id in classes], dtype=bool)


def evaluate(model: LinearModel, examples: Sequence[Example], outputtable: np.ndarray,
             temperature: float = 1.0) -> dict[str, float]:
    """Return top-1/top-3 accuracy, ECE and count on examples whose labels include an outputtable class."""
    allowed = {cwe_id for cwe_id, ok in zip(model.classes, outputtable) if ok}
    rows = [example for example in examples if set(example.classes) & allowed]
    if not rows:
        return {"n": 0}
    scores = model.scores([example.text for example in rows])
    scores[:, ~outputtable] = -np.inf
    probabilities = softmax(scores / temperature)
    gold = [set(example.classes) for example in rows]
    return {
        "n": len(rows),
        "top1": top_k_accuracy(probabilities, gold, model.classes, 1),
        "top3": top_k_accuracy(probabilities, gold, model.classes, 3),
        "ece": expected_calibration_error(probabilities, gold, model.classes),
    }


def split_calibration(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Split off a calibration slice drawn at random from the records of the two newest CVE ID years.

    The slice has `fraction` times the number of all records, but at most
    half of the records of those two years.
    """
    years = sorted({example.year for example in examples if example.year})
    recent = set(years[-2:])
    candidates = [i for i, example in enumerate(examples) if example.year in recent]
    rng = np.random.default_rng(seed)
    size = int(round(len(examples) * fraction))
    size = min(size, len(candidates) // 2)
    held_out = set(rng.choice(candidates, size=size, replace=False).tolist()) if size else set()
    train = [example for i, example in enumerate(examples) if i not in held_out]
    calibration = [example for i, example in enumerate(examples) if i in held_out]
    return train, calibration


def select_exemplars(model: LinearModel, examples: Sequence[Example], settings: TrainingSettings) -> Exemplars:
    """Keep, per class, the training records it scores highest, as short sparse vectors."""
    cve_rows = [example for example in examples if example.source != "catalog"]
    texts = [example.text for example in cve_rows]
    scores = model.scores(texts) if texts else np.zeros((0, len(model.classes)), dtype=np.float32)
    chosen: list[tuple[int, int]] = []
    for class_id, cwe_id in enumerate(model.classes):
        members = [i for i, example in enumerate(cve_rows) if cwe_id in example.classes]
        if not members:
            continue
        order = np.argsort(-scores[members, class_id])[: settings.exemplars_per_class]
        chosen.extend((class_id, members[i]) for i in order)

    matrix = model.features.transform([cve_rows[row].text for _, row in chosen])
    data, indices, indptr = _truncate_rows(matrix, settings.terms_per_exemplar)
    return Exemplars(
        cve_ids=[cve_rows[row].source for _, row in chosen],
        classes=np.asarray([class_id for class_id, _ in chosen], dtype=np.int32),
        data=data,
        indices=indices,
        indptr=indptr,
    )


def _truncate_rows(matrix: sp.csr_matrix, terms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the `terms` largest values of each row, re-normalised to unit length (float16 CSR parts)."""
    data: list[np.ndarray] = [np.zeros(0, dtype=np.float16)]
    indices: list[np.ndarray] = [np.zeros(0, dtype=np.int32)]
    indptr = [0]
    for position in range(matrix.shape[0]):
        start, end = matrix.indptr[position], matrix.indptr[position + 1]
        row_data, row_indices = matrix.data[start:end], matrix.indices[start:end]
        top = np.argsort(-row_data)[:terms]
        values = row_data[top] / (np.linalg.norm(row_data[top]) or 1.0)
        data.append(values.astype(np.float16))
        indices.append(row_indices[top].astype(np.int32))
        indptr.append(indptr[-1] + len(top))
    return np.concatenate(data), np.concatenate(indices), np.asarray(indptr, dtype=np.int64)


def train_mapper(
    records: Iterable[tuple[str, str, list[str]]],
    *,
    out_dir: Path,
    exclude_ids: set[str] | frozenset[str] = frozenset(),
    exclude_texts: Sequence[str] = (),
    seed: int = 0,
    progress: bool = True,
    settings: TrainingSettings | None = None,
    catalog: Catalog | None = None,
) -> dict:
    """Train a mapper from (CVE ID, description, CWE labels) records and save it to `out_dir`.

    Records whose ID is in `exclude_ids`, or whose description is a
    near-duplicate of one of `exclude_texts`, are left out. A calibration
    slice of the newest records is held out to fit the softmax temperature
    and to measure held-out accuracy, then the model is refitted on all
    records. `progress` logs each step at INFO level. `settings` defaults to
    the hyper-parameters of the shipped model and `catalog` to the shipped
    CWE catalog. Returns the training manifest that is also written to
    `out_dir/manifest.json`.

    Raises:
        ConfigError: fewer than two classes have training records.
    """
    settings = settings or TrainingSettings()
    catalog = catalog or load_catalog()
    started = time.perf_counter()
    if progress:
        logger.info("reading records and converting labels (policy: %s)", settings.policy.value)
    prepared = prepare_examples(records, catalog, settings=settings, exclude_ids=exclude_ids,
                                exclude_texts=exclude_texts)
    examples = prepared.examples
    classes = choose_classes(examples, catalog, settings)
    outputtable = output_mask(classes, catalog)
    extra = catalog_examples(catalog, [c for c, ok in zip(classes, outputtable) if ok]) if settings.use_catalog_text else []

    train, calibration = split_calibration(examples, settings.calibration_fraction, seed)
    held_out: dict[str, float] = {"n": 0}
    temperature = 1.0
    if calibration:
        if progress:
            logger.info("fitting on %d records, holding out %d for calibration", len(train), len(calibration))
        model = fit_linear_model(train + extra, classes, settings=settings, seed=seed)
        temperature = _calibrate(model, calibration, outputtable)
        held_out = evaluate(model, calibration, outputtable, temperature)
        logger.info("held-out: %s (temperature %.3f)", held_out, temperature)

    if progress:
        logger.info("fitting the final model on all %d records", len(examples))
    model = fit_linear_model(examples + extra, classes, settings=settings, seed=seed)
    exemplars = select_exemplars(model, examples, settings)
    manifest = {
        "format": 1,
        "settings": {key: (value.value if isinstance(value, LabelPolicy) else value)
                     for key, value in settings.__dict__.items()},
        "seed": seed,
        "counts": prepared.counts | {"catalog_examples": len(extra), "classes": len(classes),
                                     "output_classes": int(outputtable.sum())},
        "excluded_ids_requested": len(exclude_ids),
        "excluded_ids_found": prepared.excluded_ids_found,
        "excluded_texts": len(exclude_texts),
        "held_out": held_out,
        "class_counts": dict(sorted(Counter(c for example in examples for c in example.classes).items())),
        "temperature": temperature,
        "catalog_version": getattr(catalog, "version", None),
        "training_seconds": round(time.perf_counter() - started, 1),
        "training_ids": sorted(example.source for example in examples),
    }
    save_model(ModelFiles(model.features, classes, model.weights, model.bias, temperature, exemplars),
               catalog=catalog, out_dir=Path(out_dir), manifest=manifest)
    return manifest


def _calibrate(model: LinearModel, calibration: Sequence[Example], outputtable: np.ndarray) -> float:
    allowed = {cwe_id for cwe_id, ok in zip(model.classes, outputtable) if ok}
    rows = [example for example in calibration if set(example.classes) & allowed]
    if not rows:
        return 1.0
    scores = model.scores([example.text for example in rows])
    scores[:, ~outputtable] = -np.inf
    return fit_temperature(scores, [set(example.classes) for example in rows], model.classes)

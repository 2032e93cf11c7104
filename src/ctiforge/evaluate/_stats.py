"""Statistics for reports: mean and std over trials, bootstrap intervals, paired tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

BOOTSTRAP_SAMPLES = 1000


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Return the mean and the sample standard deviation (ddof=1; 0.0 for one value)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return math.nan, math.nan
    mean = sum(finite) / len(finite)
    if len(finite) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))


def item_matrix(per_trial_rows: Sequence[Sequence[dict[str, Any]]], key: str) -> np.ndarray:
    """Stack a per-item measure into a (trials, items) float array; None becomes NaN."""
    return np.array(
        [[math.nan if row.get(key) is None else float(row[key]) for row in rows] for rows in per_trial_rows],
        dtype=float,
    )


def metric_from_rows(primary_metric: str, per_trial_rows: Sequence[Sequence[dict[str, Any]]]) -> Any:
    """Return a function of item indices that computes the metric averaged over trials, or None."""
    if not per_trial_rows or not per_trial_rows[0]:
        return None
    sample = per_trial_rows[0][0]
    if primary_metric == "micro_f1" and {"tp", "fp", "fn"} <= sample.keys():
        tp, fp, fn = (item_matrix(per_trial_rows, k) for k in ("tp", "fp", "fn"))

        def micro_f1(index: np.ndarray) -> np.ndarray:
            t, p, n = tp[:, index].sum(-1), fp[:, index].sum(-1), fn[:, index].sum(-1)
            denominator = 2 * t + p + n
            return np.where(denominator > 0, 2 * t / np.maximum(denominator, 1), 0.0).mean(0)

        return micro_f1
    key = {"accuracy": "correct", "mad": "abs_error"}.get(primary_metric, primary_metric)
    if key not in sample:
        return None
    matrix = item_matrix(per_trial_rows, key)

    def mean_measure(index: np.ndarray) -> np.ndarray:
        return _nan_mean(_nan_mean(matrix[:, index], axis=-1), axis=0)

    return mean_measure


def _nan_mean(values: np.ndarray, *, axis: int) -> np.ndarray:
    """Average ignoring NaN, with NaN where a slice has no finite value (np.nanmean would warn there)."""
    present = ~np.isnan(values)
    counts = present.sum(axis=axis)
    totals = np.where(present, values, 0.0).sum(axis=axis)
    return np.divide(totals, counts, out=np.full(np.shape(totals), math.nan), where=counts > 0)


def bootstrap_interval(
    statistic: Any, n_items: int, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Return the percentile bootstrap interval of `statistic` over items resampled with replacement."""
    if statistic is None or n_items == 0:
        return None
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n_items, size=(samples, n_items))
    # The statistic takes a (resamples, items) index array; chunks of 100
    # resamples keep the (trials, resamples, items) intermediate arrays small.
    values = np.concatenate([np.atleast_1d(statistic(index[start : start + 100])) for start in range(0, samples, 100)])
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def mcnemar_exact(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> dict[str, Any]:
    """Return McNemar's exact test on paired binary outcomes (two-sided binomial on discordant pairs)."""
    from scipy.stats import binomtest

    only_a = sum(1 for a, b in zip(a_correct, b_correct) if a and not b)
    only_b = sum(1 for a, b in zip(a_correct, b_correct) if b and not a)
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return {"test": "mcnemar-exact", "only_a": only_a, "only_b": only_b, "p_value": p_value}


def paired_bootstrap(
    a_values: Sequence[float], b_values: Sequence[float], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> dict[str, Any]:
    """Return the mean paired difference b - a, its 95 % interval and a two-sided bootstrap p-value."""
    a = np.asarray(a_values, dtype=float)
    b = np.asarray(b_values, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = (b - a)[keep]
    if diff.size == 0:
        return {"test": "paired-bootstrap", "difference": math.nan, "ci95": None, "p_value": math.nan}
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(samples, diff.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    # Two-sided p-value: how often the resampled mean lies on the other side of zero.
    p_value = min(1.0, 2 * min((means <= 0).mean(), (means >= 0).mean()))
    return {"test": "paired-bootstrap", "difference": float(diff.mean()), "ci95": [float(low), float(high)],
            "p_value": float(p_value)}

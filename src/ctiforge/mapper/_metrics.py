"""Softmax, temperature fitting, top-k accuracy and expected calibration error."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def softmax(scores: np.ndarray) -> np.ndarray:
    """Return row-wise softmax probabilities; -inf scores get probability 0."""
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def _gold_mask(gold: Sequence[set[str]], classes: Sequence[str]) -> np.ndarray:
    index = {cwe_id: i for i, cwe_id in enumerate(classes)}
    mask = np.zeros((len(gold), len(classes)), dtype=bool)
    for row, labels in enumerate(gold):
        for cwe_id in labels:
            if cwe_id in index:
                mask[row, index[cwe_id]] = True
    return mask


def fit_temperature(scores: np.ndarray, gold: Sequence[set[str]], classes: Sequence[str]) -> float:
    """Return the temperature that minimises the negative log-likelihood of any gold class.

    A grid over 0.02-5.0 (log-spaced) is enough for one scalar and needs no optimiser.
    """
    mask = _gold_mask(gold, classes)
    best, best_loss = 1.0, np.inf
    for temperature in np.geomspace(0.02, 5.0, 80):
        probabilities = softmax(scores / temperature)
        likelihood = np.where(mask, probabilities, 0.0).sum(axis=1)
        loss = -np.mean(np.log(np.clip(likelihood, 1e-12, None)))
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return best


def top_k_accuracy(probabilities: np.ndarray, gold: Sequence[set[str]], classes: Sequence[str], k: int) -> float:
    """Return the share of rows with a gold class among their k most probable classes."""
    mask = _gold_mask(gold, classes)
    top = np.argsort(-probabilities, axis=1)[:, :k]
    return float(np.mean(np.take_along_axis(mask, top, axis=1).any(axis=1)))


def expected_calibration_error(probabilities: np.ndarray, gold: Sequence[set[str]], classes: Sequence[str],
                               bins: int = 15) -> float:
    """Return the top-1 expected calibration error over `bins` equal-width confidence bins."""
    mask = _gold_mask(gold, classes)
    top = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(top)), top]
    correct = mask[np.arange(len(top)), top]
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            error += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(error)

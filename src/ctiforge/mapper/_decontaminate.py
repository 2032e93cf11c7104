"""Near-duplicate detection between training descriptions and held-back texts.

Texts are compared by cosine similarity of word 1-2-gram TF-IDF vectors
after lower-casing and replacing every number (versions, IDs) with "0", so
that a re-issued description that differs only in product versions still
matches. See docs/mapper.md for how the default threshold was chosen.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

# Cosine similarity at or above which a training description counts as a
# near-duplicate of a held-back text.
DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.8

_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_CHUNK_ROWS = 4096


def normalize_for_matching(text: str) -> str:
    """Return `text` lower-cased with every number replaced by "0"."""
    return _NUMBER.sub("0", text.lower())


def max_similarity(texts: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Return, for each text, its highest cosine similarity to any reference (0.0 without references)."""
    result = np.zeros(len(texts), dtype=np.float32)
    if not texts or not references:
        return result
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
    vectorizer.fit([normalize_for_matching(text) for text in texts])
    reference_matrix = vectorizer.transform([normalize_for_matching(text) for text in references]).T.tocsc()
    for start in range(0, len(texts), _CHUNK_ROWS):
        chunk = vectorizer.transform([normalize_for_matching(text) for text in texts[start:start + _CHUNK_ROWS]])
        similarity = chunk @ reference_matrix
        if similarity.nnz:
            result[start:start + chunk.shape[0]] = similarity.max(axis=1).toarray().ravel()
    return result

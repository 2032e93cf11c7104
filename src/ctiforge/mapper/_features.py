from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (3, 5)
# Tokens of two or more word characters, keeping inner dots, dashes and
# underscores so that "use-after-free", "strcpy_s" and "login.php" stay whole.
WORD_TOKEN_PATTERN = r"(?u)\b\w[\w.\-_]*\w\b|\b\w\w\b"

_WORD_TOKEN = re.compile(WORD_TOKEN_PATTERN)
_WHITE_SPACES = re.compile(r"\s\s+")
_CHAR_CACHE_WORDS = 200_000


def word_ngrams(text: str) -> list[str]:
    """Return the lower-cased word 1-grams then 2-grams of `text`, as scikit-learn's word analyzer does."""
    tokens = _WORD_TOKEN.findall(text.lower())
    grams = list(tokens)
    grams.extend(" ".join(tokens[i:i + 2]) for i in range(len(tokens) - 1))
    return grams


def char_ngrams(text: str) -> list[str]:
    """Return the character 3-5-grams of each space-padded word, as scikit-learn's "char_wb" analyzer does."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        grams.extend(_word_char_ngrams(word))
    return grams


def _word_char_ngrams(word: str) -> list[str]:
    grams: list[str] = []
    padded = f" {word} "
    length = len(padded)
    low, high = CHAR_NGRAMS
    for n in range(low, high + 1):
        offset = 0
        grams.append(padded[offset:offset + n])
        while offset + n < length:
            offset += 1
            grams.append(padded[offset:offset + n])
        # A word shorter than n yields one gram, counted once.
        if offset == 0:
            break
    return grams


@dataclass
class FeatureSpace:
    """The fixed vocabularies and IDF weights of the word and character blocks."""

    word_vocabulary: list[str]
    word_idf: np.ndarray
    char_vocabulary: list[str]
    char_idf: np.ndarray

    def __post_init__(self) -> None:
        self._word_index = {term: i for i, term in enumerate(self.word_vocabulary)}
        self._char_index = {term: i for i, term in enumerate(self.char_vocabulary)}
        # Character columns per lower-cased word: descriptions repeat words, so
        # caching them makes the character block several times faster.
        self._char_cache: dict[str, list[int]] = {}
        self.word_idf = np.asarray(self.word_idf, dtype=np.float32)
        self.char_idf = np.asarray(self.char_idf, dtype=np.float32)

    @property
    def n_features(self) -> int:
        """The number of columns of `transform`: word features first, then character features."""
        return len(self.word_vocabulary) + len(self.char_vocabulary)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return the TF-IDF rows of `texts` (float32 CSR), each block L2-normalised.

        The rows equal those of scikit-learn's TfidfVectorizer with
        `sublinear_tf=True` fitted to the same vocabulary and IDF, without
        importing scikit-learn.
        """
        word_index = self._word_index
        word = _tfidf([[word_index[g] for g in word_ngrams(text) if g in word_index] for text in texts],
                      len(word_index), self.word_idf)
        char = _tfidf([self._char_columns(text) for text in texts], len(self._char_index), self.char_idf)
        return sp.hstack([word, char], format="csr", dtype=np.float32)

    def _char_columns(self, text: str) -> list[int]:
        columns: list[int] = []
        cache = self._char_cache
        index = self._char_index
        for word in text.lower().split():
            found = cache.get(word)
            if found is None:
                found = [index[gram] for gram in _word_char_ngrams(word) if gram in index]
                if len(cache) < _CHAR_CACHE_WORDS:
                    cache[word] = found
            columns.extend(found)
        return columns

    def restrict(self, keep: np.ndarray) -> tuple[FeatureSpace, np.ndarray]:
        """Return a smaller space with only the columns in `keep`, and the old-to-new column map.

        The map is -1 for dropped columns. IDF values are kept unchanged,
        so rows differ from the full space only by the dropped terms.
        """
        keep = np.unique(keep)
        n_word = len(self.word_vocabulary)
        word_keep = keep[keep < n_word]
        char_keep = keep[keep >= n_word] - n_word
        mapping = np.full(self.n_features, -1, dtype=np.int64)
        mapping[keep] = np.arange(len(keep))
        smaller = FeatureSpace(
            word_vocabulary=[self.word_vocabulary[i] for i in word_keep],
            word_idf=self.word_idf[word_keep],
            char_vocabulary=[self.char_vocabulary[i] for i in char_keep],
            char_idf=self.char_idf[char_keep],
        )
        return smaller, mapping


def _tfidf(documents: list[list[int]], n_columns: int, idf: np.ndarray) -> sp.csr_matrix:
    """Return L2-normalised `1 + log(count)` times IDF rows from each document's column occurrences."""
    lengths = np.fromiter((len(columns) for columns in documents), dtype=np.int64, count=len(documents))
    rows = np.repeat(np.arange(len(documents)), lengths)
    flat = np.fromiter(itertools.chain.from_iterable(documents), dtype=np.int64, count=int(lengths.sum()))
    counts = sp.coo_matrix((np.ones(flat.size, dtype=np.float32), (rows, flat)),
                           shape=(len(documents), n_columns)).tocsr()
    counts.sum_duplicates()
    values = (1.0 + np.log(counts.data)) * idf[counts.indices]
    row_of_value = np.repeat(np.arange(len(documents)), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row_of_value, weights=values * values, minlength=len(documents)))
    counts.data = (values / np.where(norms > 0, norms, 1.0)[row_of_value]).astype(np.float32)
    return counts


def fit_feature_space(texts: Sequence[str], *, min_df: int = 2) -> tuple[FeatureSpace, sp.csr_matrix]:
    """Learn vocabularies and IDF weights from training texts; also return the texts' rows.

    The rows equal `space.transform(texts)`, computed in the same pass as the fit.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    word = TfidfVectorizer(
        ngram_range=WORD_NGRAMS, token_pattern=WORD_TOKEN_PATTERN, min_df=min_df,
        sublinear_tf=True, dtype=np.float32,
    )
    word_rows = word.fit_transform(texts)
    char = TfidfVectorizer(
        analyzer="char_wb", ngram_range=CHAR_NGRAMS, min_df=min_df, sublinear_tf=True, dtype=np.float32,
    )
    char_rows = char.fit_transform(texts)
    space = FeatureSpace(
        word_vocabulary=_ordered_vocabulary(word.vocabulary_),
        word_idf=word.idf_,
        char_vocabulary=_ordered_vocabulary(char.vocabulary_),
        char_idf=char.idf_,
    )
    return space, sp.hstack([word_rows, char_rows], format="csr", dtype=np.float32)


def _ordered_vocabulary(vocabulary: dict[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        terms[index] = term
    return terms

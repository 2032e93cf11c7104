"""The trained mapper at run time: loading, prediction and rationales."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from ctiforge.errors import ConfigError
from ctiforge.mapper._metrics import softmax
from ctiforge.mapper._storage import MANIFEST_FILE, ModelFiles, read_model

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "data" / "mapper"
SUPPORTED_VIEWS = (1003,)
_RATIONALE_TERMS = 3
_SIMILAR_CVES = 3


@dataclass(frozen=True)
class Prediction:
    """One candidate CWE for a text.

    `usage` is the catalog's Mapping_Notes usage: "Allowed",
    "Allowed-with-Review" or "Discouraged". `rationale` names the CWE and
    the description terms that raised its score most. `similar` lists the
    stored training CVEs of this CWE that are closest to the text.
    """

    cwe_id: str
    name: str
    probability: float
    usage: str | None
    discouraged: bool
    rationale: str
    similar: list[str] = field(default_factory=list)


class Mapper:
    """A linear CVE-description-to-CWE classifier loaded from a model folder."""

    def __init__(self, files: ModelFiles, *, path: Path) -> None:
        assert files.class_info is not None
        self.path = path
        self._manifest: dict[str, Any] | None = None
        self._features = files.features
        self._classes = files.class_info
        self._weights = files.weights.tocsc()
        self._weights.sort_indices()
        # Products with CSR rows need CSR weights; scipy would convert CSC weights on every call.
        self._weights_csr = self._weights.tocsr()
        self._bias = np.asarray(files.bias, dtype=np.float32)
        self._temperature = files.temperature
        self._output = np.array([info.output for info in self._classes], dtype=bool)
        self._exemplars = files.exemplars
        self._exemplar_matrix = files.exemplars.matrix(files.features.n_features)
        self._exemplar_cache: dict[int, tuple[np.ndarray, sp.csr_matrix]] = {}
        self._n_word = len(files.features.word_vocabulary)
        # For view 1003, each output class folds into its view entry (itself or its nearest ancestor there).
        index = {info.cwe_id: i for i, info in enumerate(self._classes)}
        self._view_target = np.array(
            [index.get(info.nvd_view_entry, -1) if info.output and info.nvd_view_entry else -1
             for info in self._classes],
            dtype=np.int64,
        )

    @property
    def classes(self) -> list[str]:
        """The CWE IDs the model scores, including classes it never outputs."""
        return [info.cwe_id for info in self._classes]

    def info(self) -> dict[str, Any]:
        """Return a summary of the model: path, class counts, size on disk and training manifest figures."""
        if self._manifest is None:
            manifest_path = self.path / MANIFEST_FILE
            self._manifest = (json.loads(manifest_path.read_text(encoding="utf-8"))
                              if manifest_path.is_file() else {})
        manifest = self._manifest
        size = sum(item.stat().st_size for item in self.path.iterdir() if item.is_file())
        return {
            "path": str(self.path),
            "classes": len(self._classes),
            "output_classes": int(self._output.sum()),
            "features": self._features.n_features,
            "weights": int(self._weights.nnz),
            "exemplars": len(self._exemplars.cve_ids),
            "temperature": self._temperature,
            "size_bytes": size,
            "settings": manifest.get("settings", {}),
            "counts": manifest.get("counts", {}),
            "held_out": manifest.get("held_out", {}),
            "catalog_version": manifest.get("catalog_version"),
            "training_records": len(manifest.get("training_ids", [])),
            # Training records per class; classes learnt from catalog text alone are absent.
            "class_counts": manifest.get("class_counts", {}),
        }

    def probabilities(self, texts: Sequence[str], *, view: int | None = None) -> tuple[np.ndarray, sp.csr_matrix]:
        """Return calibrated class probabilities (rows sum to 1 over output classes) and the feature rows."""
        if view is not None and view not in SUPPORTED_VIEWS:
            raise ConfigError(f"view {view} is not supported by the embedded mapper; use view=1003 or no view")
        matrix = self._features.transform(list(texts))
        scores = np.asarray((matrix @ self._weights_csr).todense(), dtype=np.float32) + self._bias
        scores[:, ~self._output] = -np.inf
        probabilities = softmax(scores / self._temperature)
        if view == 1003:
            folded = np.zeros_like(probabilities)
            sources = np.flatnonzero(self._view_target >= 0)
            np.add.at(folded.T, self._view_target[sources], probabilities[:, sources].T)
            probabilities = folded
        return probabilities, matrix

    def predict(self, texts: Sequence[str], *, k: int = 3, view: int | None = None) -> list[list[Prediction]]:
        """Return the k most probable CWEs for each text, most probable first.

        Prohibited entries and categories are never returned; Discouraged
        ones are returned with `discouraged=True`. With `view=1003` every
        candidate is an entry of view 1003 and the probability of a more
        specific CWE is added to its nearest ancestor in that view.

        Raises:
            ConfigError: `k` is below 1, or `view` is neither None nor 1003.
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        texts = list(texts)
        if not texts:
            return []
        probabilities, matrix = self.probabilities(texts, view=view)
        k = min(k, int((probabilities > 0).sum(axis=1).max()) or 1)
        top = np.argsort(-probabilities, axis=1)[:, :k]
        terms = self._top_terms(matrix, top)
        similar = self._similar(matrix, top)
        results = []
        for row in range(len(texts)):
            predictions = []
            for rank, class_id in enumerate(top[row]):
                info = self._classes[class_id]
                words = terms.get((row, int(class_id)), [])
                rationale = f"{info.cwe_id} {info.name}"
                if words:
                    rationale += "; terms: " + ", ".join(words)
                predictions.append(Prediction(
                    cwe_id=info.cwe_id,
                    name=info.name,
                    probability=float(probabilities[row, class_id]),
                    usage=info.usage,
                    discouraged=info.usage == "Discouraged",
                    rationale=rationale,
                    similar=similar.get((row, int(class_id)), []),
                ))
            results.append(predictions)
        return results

    def _top_terms(self, matrix: sp.csr_matrix, top: np.ndarray) -> dict[tuple[int, int], list[str]]:
        """Return the word terms with the largest positive contribution for each (row, class) pair."""
        found: dict[tuple[int, int], list[str]] = {}
        weights = self._weights
        vocabulary = self._features.word_vocabulary
        for row in range(matrix.shape[0]):
            start, end = matrix.indptr[row], matrix.indptr[row + 1]
            columns, values = matrix.indices[start:end], matrix.data[start:end]
            is_word = columns < self._n_word
            columns, values = columns[is_word], values[is_word]
            for class_id in top[row]:
                class_start, class_end = weights.indptr[class_id], weights.indptr[class_id + 1]
                weight_columns = weights.indices[class_start:class_end]
                terms: list[str] = []
                if columns.size and weight_columns.size:
                    # Weight columns are sorted, so a binary search finds the text's terms among them.
                    position = np.minimum(np.searchsorted(weight_columns, columns), weight_columns.size - 1)
                    hit = weight_columns[position] == columns
                    contributions = values[hit] * weights.data[class_start:class_end][position[hit]]
                    hit_columns = columns[hit]
                    for i in np.argsort(-contributions)[:_RATIONALE_TERMS]:
                        if contributions[i] > 0:
                            terms.append(vocabulary[hit_columns[i]])
                found[(row, int(class_id))] = terms
        return found

    def _similar(self, matrix: sp.csr_matrix, top: np.ndarray) -> dict[tuple[int, int], list[str]]:
        """Return the stored training CVEs of each class most similar to each row."""
        found: dict[tuple[int, int], list[str]] = {}
        for class_id in np.unique(top):
            members, transposed = self._class_exemplars(int(class_id))
            if members.size == 0:
                continue
            rows = np.flatnonzero((top == class_id).any(axis=1))
            similarity = (matrix[rows] @ transposed).toarray()
            for position, row in enumerate(rows):
                order = np.argsort(-similarity[position])[:_SIMILAR_CVES]
                found[(int(row), int(class_id))] = [
                    self._exemplars.cve_ids[members[i]] for i in order if similarity[position, i] > 0
                ]
        return found

    def _class_exemplars(self, class_id: int) -> tuple[np.ndarray, sp.csr_matrix]:
        """Return a class's exemplar positions and their vectors as a features x exemplars CSR matrix."""
        cached = self._exemplar_cache.get(class_id)
        if cached is None:
            members = np.flatnonzero(self._exemplars.classes == class_id)
            cached = (members, self._exemplar_matrix[members].T.tocsr())
            self._exemplar_cache[class_id] = cached
        return cached


def load_mapper(path: str | Path | None = None) -> Mapper:
    """Load a mapper model folder; None loads the model shipped with ctiforge.

    Raises:
        DataFormatError: the folder is missing, incomplete or corrupt.
    """
    folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
    files = read_model(folder)
    logger.debug("loaded mapper from %s: %d classes", folder, len(files.classes))
    return Mapper(files, path=folder)

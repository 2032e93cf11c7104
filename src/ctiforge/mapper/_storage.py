"""The on-disk format of a mapper model: JSON and a NumPy .npz, both read without pickle.

A model folder contains:

- `model.json`: format version, vocabularies, classes with their catalog
  name, mapping usage and view-1003 entry, softmax temperature, and the
  CVE IDs of the stored exemplars;
- `weights.npz`: IDF vectors, the pruned class weights (float16, sparse by
  class), biases and the exemplar vectors (float16, sparse);
- `manifest.json`: how the model was trained (settings, counts, held-out
  figures, every training CVE ID);
- `NOTICE`: attribution for the NVD and CWE data the model was built from.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from ctiforge.errors import DataFormatError
from ctiforge.mapper._features import FeatureSpace

FORMAT_VERSION = 1
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "manifest.json"
NOTICE_FILE = "NOTICE"

NOTICE_TEXT = """\
This CWE mapper model was trained on CVE descriptions and CWE labels from the
National Vulnerability Database (NVD) JSON 1.1 feeds and on text from MITRE's
CWE catalog.

This product uses data from the NVD API but is not endorsed or certified by the NVD.
NVD data is a work of the United States government and is in the
public domain. CVE descriptions are used under the CVE Program terms of use:
Copyright (c) The MITRE Corporation; CVE(R) is a registered trademark of The
MITRE Corporation.

CWE content: Copyright (c) 2006-2024, The MITRE Corporation. CWE, CWSS, CWRAF,
and the CWE logo are trademarks of The MITRE Corporation. The CWE terms of use
are reproduced in ctiforge/data/cwe/CWE-TERMS-OF-USE.txt.
"""


@dataclass
class Exemplars:
    """Per-class training CVEs kept for rationales, as rows of a sparse float16 matrix."""

    cve_ids: list[str]
    classes: np.ndarray
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray

    def matrix(self, n_features: int) -> sp.csr_matrix:
        """Return the exemplar vectors as a float32 CSR matrix (one row per exemplar)."""
        return sp.csr_matrix((self.data.astype(np.float32), self.indices, self.indptr),
                             shape=(len(self.cve_ids), n_features))


@dataclass
class ClassInfo:
    """Catalog facts about one class, stored with the model so loading needs no catalog."""

    cwe_id: str
    name: str
    usage: str | None
    output: bool
    nvd_view_entry: str | None


@dataclass
class ModelFiles:
    """Everything a model folder stores besides the manifest."""

    features: FeatureSpace
    classes: Sequence[str]
    weights: sp.csc_matrix
    bias: np.ndarray
    temperature: float
    exemplars: Exemplars
    class_info: list[ClassInfo] | None = None


def save_model(files: ModelFiles, *, catalog: Any, out_dir: Path, manifest: dict[str, Any]) -> None:
    """Write a model folder; class facts come from `catalog`."""
    from ctiforge.mapper._labels import is_output_class

    out_dir.mkdir(parents=True, exist_ok=True)
    classes = []
    for cwe_id in files.classes:
        entry = catalog.get(cwe_id)
        output = is_output_class(catalog, cwe_id)
        classes.append({
            "id": cwe_id,
            "name": entry.name,
            "usage": entry.mapping_usage,
            "output": output,
            "nvd_view_entry": catalog.nvd_ancestor(cwe_id) if output else None,
        })
    model = {
        "format": FORMAT_VERSION,
        "temperature": files.temperature,
        "classes": classes,
        "word_vocabulary": files.features.word_vocabulary,
        "char_vocabulary": files.features.char_vocabulary,
        "exemplar_cve_ids": files.exemplars.cve_ids,
    }
    weights = files.weights.tocsc()
    weights.sort_indices()
    (out_dir / MODEL_FILE).write_text(json.dumps(model, ensure_ascii=False), encoding="utf-8")
    np.savez_compressed(
        out_dir / WEIGHTS_FILE,
        word_idf=files.features.word_idf.astype(np.float32),
        char_idf=files.features.char_idf.astype(np.float32),
        weight_data=weights.data.astype(np.float16),
        weight_indices=weights.indices.astype(np.int32),
        weight_indptr=weights.indptr.astype(np.int64),
        bias=np.asarray(files.bias, dtype=np.float32),
        exemplar_classes=files.exemplars.classes.astype(np.int32),
        exemplar_data=files.exemplars.data.astype(np.float16),
        exemplar_indices=files.exemplars.indices.astype(np.int32),
        exemplar_indptr=files.exemplars.indptr.astype(np.int64),
    )
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    (out_dir / NOTICE_FILE).write_text(NOTICE_TEXT, encoding="utf-8")


def read_model(folder: Path) -> ModelFiles:
    """Read a model folder written by `save_model`.

    Raises:
        DataFormatError: a file is missing, not valid JSON/npz, or inconsistent.
    """
    hint = "rebuild it with scripts/build_mapper.py or pass the folder of a trained mapper"
    for name in (MODEL_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise DataFormatError(f"mapper model folder {folder} has no {name}; {hint}")
    try:
        model = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
        with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as arrays:
            array = {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise DataFormatError(f"mapper model folder {folder} is unreadable ({exc}); {hint}") from exc
    try:
        if model.get("format") != FORMAT_VERSION:
            raise DataFormatError(
                f"mapper model in {folder} has format {model.get('format')!r}, expected {FORMAT_VERSION}; {hint}"
            )
        features = FeatureSpace(model["word_vocabulary"], array["word_idf"],
                                model["char_vocabulary"], array["char_idf"])
        class_info = [ClassInfo(c["id"], c["name"], c["usage"], bool(c["output"]), c["nvd_view_entry"])
                      for c in model["classes"]]
        weights = sp.csc_matrix(
            (array["weight_data"].astype(np.float32), array["weight_indices"], array["weight_indptr"]),
            shape=(features.n_features, len(class_info)),
        )
        exemplars = Exemplars(model["exemplar_cve_ids"], array["exemplar_classes"], array["exemplar_data"],
                              array["exemplar_indices"], array["exemplar_indptr"])
        bias = array["bias"]
        if bias.shape != (len(class_info),) or len(exemplars.indptr) != len(exemplars.cve_ids) + 1:
            raise ValueError("array shapes do not match the class and exemplar lists")
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(f"mapper model in {folder} is corrupt ({exc!r}); {hint}") from exc
    return ModelFiles(features, [c.cwe_id for c in class_info], weights, bias,
                      float(model["temperature"]), exemplars, class_info)

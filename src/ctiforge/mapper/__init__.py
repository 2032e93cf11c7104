"""The embedded CPU CWE mapper: a compact linear model from CVE description to CWE.

    from ctiforge.mapper import load_mapper

    mapper = load_mapper()                    # the model shipped in ctiforge/data/mapper
    best = mapper.predict(["SQL injection in login.php via the id parameter"], k=3)[0][0]
    best.cwe_id, best.probability, best.rationale

The model is TF-IDF word and character n-grams with a pruned linear SVM and
a fitted softmax temperature, stored as JSON and .npz (no pickle). Loading
and prediction need numpy and scipy, training also needs scikit-learn, and
nothing here imports torch.
"""

from ctiforge.mapper._labels import OLD_CATEGORY_TARGETS, LabelPolicy
from ctiforge.mapper._model import DEFAULT_MODEL_DIR, Mapper, Prediction, load_mapper
from ctiforge.mapper._train import TrainingSettings, train_mapper

__all__ = [
    "DEFAULT_MODEL_DIR",
    "LabelPolicy",
    "Mapper",
    "OLD_CATEGORY_TARGETS",
    "Prediction",
    "TrainingSettings",
    "load_mapper",
    "train_mapper",
]

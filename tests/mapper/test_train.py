"""train_mapper on a small real NVD slice: the saved model loads, predicts and leaves out what it must."""

from __future__ import annotations

import pytest

from ctiforge.catalog import load_catalog
from ctiforge.errors import ConfigError
from ctiforge.mapper import LabelPolicy, TrainingSettings, load_mapper, train_mapper
from ctiforge.mapper._decontaminate import (
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    max_similarity,
    normalize_for_matching,
)
from ctiforge.mapper._labels import convert_labels


@pytest.mark.slow
def test_small_model_loads(small_model):
    folder, _, _ = small_model
    assert load_mapper(folder).info()["output_classes"] > 50


@pytest.mark.slow
def test_small_model_answers_sql(small_model):
    folder, _, _ = small_model
    text = "SQL injection in index.php allows remote attackers to execute arbitrary SQL commands via the id parameter."
    assert load_mapper(folder).predict([text])[0][0].cwe_id == "CWE-89"


@pytest.mark.slow
def test_excluded_id_absent(small_model):
    _, manifest, (by_id, _) = small_model
    assert by_id[0] not in manifest["training_ids"]
    assert manifest["excluded_ids_found"] == [by_id[0]]


@pytest.mark.slow
def test_excluded_text_absent(small_model):
    _, manifest, (_, by_text) = small_model
    assert by_text[0] not in manifest["training_ids"]
    assert manifest["counts"]["near_duplicate"] >= 1


@pytest.mark.slow
def test_other_records_kept(small_model, nvd_slice):
    _, manifest, _ = small_model
    assert manifest["counts"]["training_records"] > len(nvd_slice) // 2


@pytest.mark.slow
def test_held_out_figures(small_model):
    _, manifest, _ = small_model
    assert manifest["held_out"]["n"] > 50
    assert manifest["held_out"]["top1"] > 0.4


@pytest.mark.slow
def test_similar_come_from_training(small_model):
    folder, manifest, _ = small_model
    text = "Cross-site scripting (XSS) vulnerability allows remote attackers to inject arbitrary web script."
    similar = load_mapper(folder).predict([text])[0][0].similar
    assert similar
    assert set(similar) <= set(manifest["training_ids"])


@pytest.mark.slow
def test_one_class_rejected(tmp_path, nvd_slice):
    records = [record for record in nvd_slice if record[2] == ["CWE-79"]][:20]
    settings = TrainingSettings(use_catalog_text=False)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        train_mapper(records, out_dir=tmp_path, settings=settings, progress=False)


def test_labels_map_old_category():
    catalog = load_catalog()
    assert convert_labels(["CWE-264"], catalog, LabelPolicy.MAP) == ["CWE-284"]


def test_labels_drop_old_category():
    catalog = load_catalog()
    assert convert_labels(["CWE-264", "NVD-CWE-Other"], catalog, LabelPolicy.DROP) == []


def test_labels_learn_keeps_category():
    catalog = load_catalog()
    assert convert_labels(["CWE-310"], catalog, LabelPolicy.LEARN) == ["CWE-310"]


def test_labels_resolve_deprecated():
    catalog = load_catalog()
    assert convert_labels(["CWE-534"], catalog, LabelPolicy.MAP) == ["CWE-532"]


def test_labels_multiple_kept():
    catalog = load_catalog()
    assert convert_labels(["CWE-119", "CWE-787", "CWE-119"], catalog, LabelPolicy.MAP) == ["CWE-119", "CWE-787"]


def test_similarity_ignores_versions():
    text = "Buffer overflow in Foo 1.2.3 allows remote attackers to execute code via a long header."
    reissued = text.replace("1.2.3", "4.5")
    assert normalize_for_matching(text) == normalize_for_matching(reissued)
    assert max_similarity([reissued], [text])[0] > 0.99


def test_similarity_separates_different_flaws():
    first = "SQL injection in login.php in Foo CMS allows remote attackers to run SQL commands via the user parameter."
    second = "Cross-site scripting in search.php in Bar Forum allows injection of web script via the q parameter."
    assert max_similarity([first], [second])[0] < DEFAULT_NEAR_DUPLICATE_THRESHOLD


def test_features_match_scikit_learn(nvd_slice):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from ctiforge.mapper._features import CHAR_NGRAMS, fit_feature_space

    texts = [record[1] for record in nvd_slice[:300]] + ["", "Ünïcode  straße\tand\n\nnew lines", "ab x"]
    space, _ = fit_feature_space(texts[:200])
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, min_df=2, sublinear_tf=True)
    reference.fit(texts[:200])
    n_word = len(space.word_vocabulary)
    char_block = space.transform(texts)[:, n_word:].toarray()
    expected = reference.transform(texts).toarray()
    assert char_block.shape == expected.shape
    assert np.abs(char_block - expected).max() < 1e-5


def test_recency_weight_halves_per_half_life():
    from ctiforge.mapper._train import sample_weight

    assert sample_weight(2016, 2018, 1.0) == 0.25
    assert sample_weight(2016, 2018, 2.0) == 0.5
    assert sample_weight(None, 2018, 1.0) == 1.0
    assert sample_weight(2016, 2018, None) == 1.0


def test_class_weight_balances_totals():
    import numpy as np

    from ctiforge.mapper._train import Example, expand_rows

    examples = [Example(f"CVE-2018-{i:04d}", "text", ["CWE-79"], 2018) for i in range(9)]
    examples.append(Example("CVE-2018-9999", "text", ["CWE-89"], 2018))
    settings = TrainingSettings(recency_half_life=None, class_weight_power=1.0)
    rows = expand_rows(examples, ["CWE-79", "CWE-89"], settings)
    totals = np.bincount(rows.targets, weights=rows.weights)
    assert totals[0] == pytest.approx(totals[1])


def test_class_weight_off_by_default():
    from ctiforge.mapper._train import Example, expand_rows

    examples = [Example("CVE-2018-0001", "a", ["CWE-79"], 2018), Example("CVE-2018-0002", "b", ["CWE-89"], 2018)]
    rows = expand_rows(examples, ["CWE-79", "CWE-89"], TrainingSettings())
    assert rows.weights.tolist() == [1.0, 1.0]

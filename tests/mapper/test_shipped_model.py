"""The model shipped in ctiforge/data/mapper: loading, predictions and the rules on what it outputs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ctiforge.catalog import load_catalog
from ctiforge.errors import ConfigError
from ctiforge.mapper import DEFAULT_MODEL_DIR, load_mapper
from ctiforge.sources import CveRecord, read_exclusions, read_records

SQL_INJECTION = (
    "SQL injection vulnerability in admin/login.php in Acme CMS 2.1 allows remote attackers "
    "to execute arbitrary SQL commands via the username parameter."
)
XSS = (
    "Cross-site scripting (XSS) vulnerability in search.php in Acme Forum 3.0 allows remote "
    "attackers to inject arbitrary web script or HTML via the q parameter."
)


@pytest.fixture(scope="module")
def mapper():
    return load_mapper()


@pytest.fixture(scope="module")
def nvd_2018_texts(shared_data) -> list[str]:
    """400 real descriptions from the 2018 feed, old-category labels included."""
    texts = []
    for record in read_records(shared_data / "nvd" / "nvdcve-1.1-2018.json.gz"):
        if isinstance(record, CveRecord):
            texts.append(record.description)
            if len(texts) == 400:
                break
    return texts


def test_load_without_pickle():
    code = (
        "import pickle\n"
        "def refuse(*args, **kwargs):\n"
        "    raise RuntimeError('pickle used')\n"
        "pickle.load = pickle.loads = pickle.Unpickler = refuse\n"
        "from ctiforge.mapper import load_mapper\n"
        "print(load_mapper().predict(['SQL injection via the id parameter'])[0][0].cwe_id)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "CWE-89"


def test_files_are_json_and_npz():
    names = sorted(path.name for path in DEFAULT_MODEL_DIR.iterdir())
    assert names == ["NOTICE", "manifest.json", "model.json", "weights.npz"]


def test_notice_names_nvd_and_cwe():
    notice = " ".join((DEFAULT_MODEL_DIR / "NOTICE").read_text(encoding="utf-8").split())
    assert "This product uses data from the NVD API but is not endorsed or certified by the NVD." in notice
    assert "CWE content: Copyright (c) 2006-2024, The MITRE Corporation." in notice


def test_import_does_not_load_torch():
    code = "import sys, ctiforge.mapper; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_sql_injection_top1(mapper):
    assert mapper.predict([SQL_INJECTION])[0][0].cwe_id == "CWE-89"


def test_xss_top1(mapper):
    assert mapper.predict([XSS])[0][0].cwe_id == "CWE-79"


def test_probabilities_bounded(mapper, nvd_2018_texts):
    for predictions in mapper.predict(nvd_2018_texts[:100], k=5):
        probabilities = [p.probability for p in predictions]
        assert all(0.0 <= value <= 1.0 for value in probabilities)
        assert sum(probabilities) <= 1.0 + 1e-6
        assert probabilities == sorted(probabilities, reverse=True)


def test_no_prohibited_output(mapper, nvd_2018_texts):
    catalog = load_catalog()
    outputs = {p.cwe_id for predictions in mapper.predict(nvd_2018_texts, k=5) for p in predictions}
    prohibited = sorted(cwe_id for cwe_id in outputs if catalog.get(cwe_id).mapping_usage == "Prohibited")
    assert prohibited == []


def test_never_outputs_categories(mapper, nvd_2018_texts):
    catalog = load_catalog()
    outputs = {p.cwe_id for predictions in mapper.predict(nvd_2018_texts, k=5) for p in predictions}
    assert sorted(cwe_id for cwe_id in outputs if catalog.get(cwe_id).kind != "weakness") == []


def test_discouraged_flag_matches_catalog(mapper, nvd_2018_texts):
    catalog = load_catalog()
    for predictions in mapper.predict(nvd_2018_texts[:200], k=5):
        for p in predictions:
            usage = catalog.get(p.cwe_id).mapping_usage
            assert p.usage == usage
            assert p.discouraged == (usage == "Discouraged")


def test_discouraged_appears(mapper):
    predictions = mapper.predict(["Improper input validation in the web interface allows a crash."], k=5)[0]
    assert any(p.discouraged for p in predictions)


def test_view_1003_restriction(mapper, nvd_2018_texts):
    members = set(load_catalog().view_members(1003))
    outputs = {p.cwe_id for predictions in mapper.predict(nvd_2018_texts, k=5, view=1003) for p in predictions}
    assert outputs <= members


def test_view_1003_folds_to_ancestor(mapper):
    text = "Stack-based buffer overflow in the parse_header function allows remote code execution."
    best = mapper.predict([text], k=1, view=1003)[0][0]
    assert best.cwe_id in {"CWE-787", "CWE-119", "CWE-120"}


def test_view_other_rejected(mapper):
    with pytest.raises(ConfigError, match="view 1000"):
        mapper.predict([XSS], view=1000)


def test_k_zero_rejected(mapper):
    with pytest.raises(ConfigError, match="k must be"):
        mapper.predict([XSS], k=0)


def test_empty_text_answers(mapper):
    predictions = mapper.predict(["", "   "], k=3)
    assert [len(p) for p in predictions] == [3, 3]


def test_empty_batch(mapper):
    assert mapper.predict([]) == []


def test_rationale_names_cwe_and_terms(mapper):
    best = mapper.predict([SQL_INJECTION])[0][0]
    assert best.rationale.startswith("CWE-89 Improper Neutralization")
    assert "sql" in best.rationale.lower().split("terms:", 1)[1]


def test_similar_are_training_cves(mapper):
    best = mapper.predict([SQL_INJECTION])[0][0]
    manifest = json.loads((DEFAULT_MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert best.similar
    assert set(best.similar) <= set(manifest["training_ids"])


def test_manifest_has_no_ctibench_ids(shared_data):
    bench = shared_data / "cti-bench"
    exclusions = read_exclusions([bench / "cti-rcm.tsv", bench / "cti-rcm-2021.tsv", bench / "cti-vsp.tsv"])
    manifest = json.loads((DEFAULT_MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert len(exclusions.ids) == 2000
    assert sorted(exclusions.ids & set(manifest["training_ids"])) == []


def test_manifest_records_decontamination():
    manifest = json.loads((DEFAULT_MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["excluded_ids_requested"] == 2000
    assert manifest["counts"]["near_duplicate"] > 0


def test_info_reports_model(mapper):
    info = mapper.info()
    assert info["output_classes"] > 100
    assert info["size_bytes"] < 40_000_000
    assert 0.0 < info["held_out"]["top1"] <= 1.0


def test_missing_folder_error(tmp_path):
    from ctiforge.errors import DataFormatError

    with pytest.raises(DataFormatError, match=str(tmp_path / "absent")):
        load_mapper(tmp_path / "absent")


def test_corrupt_weights_error(tmp_path):
    import shutil

    from ctiforge.errors import DataFormatError

    for name in ("model.json", "manifest.json"):
        shutil.copy(DEFAULT_MODEL_DIR / name, tmp_path / name)
    (tmp_path / "weights.npz").write_bytes(b"not a zip archive")
    with pytest.raises(DataFormatError, match="unreadable"):
        load_mapper(tmp_path)


def test_wrong_format_error(tmp_path):
    import shutil

    from ctiforge.errors import DataFormatError

    shutil.copy(DEFAULT_MODEL_DIR / "weights.npz", tmp_path / "weights.npz")
    model = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    model["format"] = 99
    (tmp_path / "model.json").write_text(json.dumps(model), encoding="utf-8")
    with pytest.raises(DataFormatError, match="format 99"):
        load_mapper(tmp_path)


def test_cli_map_uses_shipped_model(cli):
    result = cli("map", XSS)
    assert result.returncode == 0, result.stderr
    assert "CWE-79" in result.stdout.splitlines()[1]

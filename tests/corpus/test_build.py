"""`ctiforge corpus build` on real data slices with planted benchmark copies."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_build_writes_all_files(small_build: Path) -> None:
    names = sorted(p.name for p in small_build.iterdir())
    assert names == ["config.yaml", "corpus.jsonl", "decontamination.json", "decontamination.md", "manifest.json"]


def test_build_record_shape(small_build: Path, load_corpus) -> None:
    for record in load_corpus(small_build):
        assert set(record) == {"messages", "source", "kind", "id", "provenance"}
        assert record["messages"][-1]["role"] == "assistant"


def test_build_mapping_last_line(small_build: Path, load_corpus) -> None:
    mapping = [r for r in load_corpus(small_build) if r["kind"] == "cve-cwe"]
    assert len(mapping) > 50
    for record in mapping:
        last = record["messages"][-1]["content"].splitlines()[-1]
        assert re.fullmatch(r"CWE-\d+", last), record["id"]
        assert last == record["provenance"]["cwe"]


def test_build_letters_balanced(small_build: Path, load_corpus) -> None:
    corpus = load_corpus(small_build)
    questions = [r for r in corpus if "answer_letter" in r["provenance"]]
    letters = Counter(r["messages"][-1]["content"].splitlines()[-1] for r in questions)
    assert set(letters) == {"A", "B", "C", "D"}
    assert max(letters.values()) - min(letters.values()) <= 1
    manifest = json.loads((small_build / "manifest.json").read_text())
    assert manifest["answer_letters"] == dict(sorted(letters.items()))


def test_build_removes_planted_user_copy(small_build: Path, load_corpus) -> None:
    ids = {r["id"] for r in load_corpus(small_build)}
    assert "user:0:user.jsonl:1" not in ids
    assert "user:0:user.jsonl:2" in ids


def test_build_removes_planted_nvd_copies(small_build: Path, planted_sources: dict, load_corpus) -> None:
    cves = {r["provenance"].get("cve_id") for r in load_corpus(small_build)}
    assert planted_sources["with_id_cve"] not in cves
    assert planted_sources["text_only_cve"] not in cves


def test_build_reports_removals(small_build: Path, planted_sources: dict) -> None:
    report = json.loads((small_build / "decontamination.json").read_text())
    rcm = report["benchmarks"]["cti-rcm"]
    assert rcm["by_source"].get("user") == 1
    assert any(e["id"] == "user:0:user.jsonl:1" and e["benchmark_row"] == planted_sources["rcm_row"] for e in rcm["examples"])
    rcm_2021 = report["benchmarks"]["cti-rcm-2021"]
    assert rcm_2021["by_reason"].get("cve-id", 0) >= 1
    assert rcm_2021["by_reason"].get("verbatim", 0) >= 1
    removed_ids = {e["id"] for e in rcm_2021["examples"]}
    assert f"cve-cwe:{planted_sources['with_id_cve']}" in removed_ids
    assert f"cve-cwe:{planted_sources['text_only_cve']}" in removed_ids
    assert "| cti-rcm |" in (small_build / "decontamination.md").read_text()


def test_build_excludes_ate_software(small_build: Path, shared_data: Path, load_corpus) -> None:
    benchmark = (shared_data / "cti-bench" / "cti-ate.tsv").read_text(encoding="utf-8")
    ate_ids = set(re.findall(r"attack\.mitre\.org/software/(S\d{4})", benchmark))
    software = {r["provenance"].get("software") for r in load_corpus(small_build) if r["kind"] == "attack-software"}
    assert len(ate_ids) == 60
    assert software
    assert not software & ate_ids


def test_build_manifest_hashes(small_build: Path) -> None:
    manifest = json.loads((small_build / "manifest.json").read_text())
    corpus_hash = hashlib.sha256((small_build / "corpus.jsonl").read_bytes()).hexdigest()
    assert manifest["outputs"]["corpus.jsonl"]["sha256"] == corpus_hash
    assert all(len(entry["sha256"]) == 64 for entry in manifest["inputs"])
    assert manifest["records"]["written"] == sum(manifest["records"]["by_kind"].values())


def test_build_is_deterministic(small_build: Path, small_config: Path, tmp_path: Path, run_ctiforge) -> None:
    out = tmp_path / "again"
    result = run_ctiforge("corpus", "build", "--config", str(small_config), "--out", str(out), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    for name in ("corpus.jsonl", "manifest.json", "decontamination.json"):
        assert (out / name).read_bytes() == (small_build / name).read_bytes(), name


def test_build_seed_changes_order(small_build: Path, small_config: Path, tmp_path: Path, run_ctiforge) -> None:
    out = tmp_path / "reseeded"
    result = run_ctiforge("corpus", "build", "--config", str(small_config), "--out", str(out), "seed=8",
                          "records.attack_questions.enabled=false", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert (out / "corpus.jsonl").read_bytes() != (small_build / "corpus.jsonl").read_bytes()
    assert "seed: 8" in (out / "config.yaml").read_text()


def test_build_cvss_last_line(small_build: Path, load_corpus) -> None:
    records = [r for r in load_corpus(small_build) if r["kind"] == "cvss-vector"]
    assert records
    for record in records:
        last = record["messages"][-1]["content"].splitlines()[-1]
        assert last == record["provenance"]["vector"]
        assert re.fullmatch(r"CVSS:3\.[01](/[A-Z]{1,2}:[A-Z]){8}", last)

"""Corpus -> train -> merge -> eval -> card on the tiny model, through the real CLI and real data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml

from ctiforge.training import read_metrics

# Required fall of the mean loss from the first five to the last five of 30 steps.
LOSS_DROP = 0.20
NVD_SLICE_ITEMS = 400


def _nvd_slice(shared_data: Path, out: Path) -> Path:
    feed = json.loads(gzip.decompress((shared_data / "nvd" / "nvdcve-1.1-2016.json.gz").read_bytes()))
    feed["CVE_Items"] = feed["CVE_Items"][:NVD_SLICE_ITEMS]
    feed["CVE_data_numberOfCVEs"] = str(NVD_SLICE_ITEMS)
    with gzip.open(out, "wt", encoding="utf-8") as handle:
        json.dump(feed, handle)
    return out


@pytest.mark.slow
def test_pipeline_end_to_end(cli, shared_data: Path, tiny_model: Path, tmp_path: Path,
                             tiny_overrides: tuple[str, ...], config_writer) -> None:
    corpus_config = tmp_path / "corpus.yaml"
    corpus_config.write_text(yaml.safe_dump({
        "seed": 0,
        "sources": {
            "cve": {"paths": [str(_nvd_slice(shared_data, tmp_path / "nvd-2016-slice.json.gz"))],
                    "format": "nvd-json-1.1"},
            "attack": str(shared_data / "attack" / "enterprise-attack-v18.1.json.gz"),
            "capec": None,
        },
        "records": {
            "cwe_questions": {"enabled": False},
            "capec_questions": {"enabled": False},
            "attack_questions": {"enabled": True, "kinds": ["tactic"]},
        },
        "decontamination": {"ctibench_dir": str(shared_data / "cti-bench")},
    }))
    corpus = tmp_path / "corpus"
    result = cli("corpus", "build", "--config", str(corpus_config), "--out", str(corpus))
    assert result.returncode == 0, result.stderr[-2000:]

    out = tmp_path / "run"
    train_config = config_writer(tmp_path / "train.yaml", base=tiny_model, train_file=corpus / "corpus.jsonl",
                                 output_dir=out)
    # Corpus responses are longer and more varied than the CWE-id responses of the other tests, so
    # the loss needs a higher learning rate to fall by LOSS_DROP in 30 steps.
    result = cli("train", "--config", str(train_config), *tiny_overrides, "data.max_length=512",
                 "training.learning_rate=1.0e-2", "training.max_steps=30", "training.save_steps=30")
    assert result.returncode == 0, result.stderr[-2000:]
    losses = [record["loss"] for record in read_metrics(out / "metrics.jsonl") if "loss" in record]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last <= (1 - LOSS_DROP) * first, f"loss {first:.3f} -> {last:.3f}"
    manifest = json.loads((out / "run-manifest.json").read_text())
    assert manifest["corpus"]["outputs"]["corpus.jsonl"]["sha256"] == manifest["data"]["train_sha256"]

    merged = tmp_path / "merged"
    result = cli("merge", "--adapter", str(out / "adapter"), "--out", str(merged))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "check passed" in result.stdout

    eval_dir = tmp_path / "eval"
    result = cli("eval", "--backend", "hf", "--model", str(merged), "--tasks", "cti-rcm", "--limit", "20",
                 "--trials", "1", "--max-tokens", "16", "--data-dir", str(shared_data / "cti-bench"),
                 "--run-dir", str(eval_dir), "--no-plots", "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((eval_dir / "report.json").read_text())
    assert report["tasks"]["cti-rcm"]["n_items"] == 20

    card_path = merged / "README.md"
    result = cli("card", "--model", str(merged), "--runs", str(eval_dir), "--out", str(card_path))
    assert result.returncode == 0, result.stderr[-2000:]
    card = card_path.read_text()
    assert "| LoRA rank / alpha / dropout | 8 / 16 / 0.05 |" in card
    assert "public domain" in card  # NVD licence row
    assert "MITRE ATT&CK terms of use" in card
    assert "| cti-rcm | 1000 |" in card  # decontamination table row
    assert "| cti-rcm | strict | accuracy |" in card
    assert "| 20 x 1 |" in card
    assert "## Limitations" in card

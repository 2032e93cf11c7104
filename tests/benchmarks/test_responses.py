"""Reading responses files: CTIBench TSV, reference-run JSON and JSONL, with format detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctiforge.benchmarks import get_task, read_responses
from ctiforge.errors import DataFormatError


def test_tsv_every_model(responses_dir: Path) -> None:
    sets = read_responses(responses_dir / "cti-rcm-responses.tsv", "cti-rcm")
    assert [s.model for s in sets] == ["ChatGPT-3.5", "ChatGPT-4", "Gemini-1.5", "LLAMA3-70B", "LLAMA3-8B"]
    assert all(s.source == "tsv" for s in sets)


def test_tsv_data_gives_ids(responses_dir: Path, cti_bench: Path) -> None:
    (response_set,) = read_responses(responses_dir / "cti-rcm-responses.tsv", "cti-rcm", column="ChatGPT-4", data=cti_bench)
    assert response_set.items[0].item_id == "CVE-2024-23848"


def test_tsv_unknown_column(responses_dir: Path) -> None:
    with pytest.raises(DataFormatError, match="no model column 'GPT-5'; columns: ChatGPT-3.5"):
        read_responses(responses_dir / "cti-rcm-responses.tsv", "cti-rcm", column="GPT-5")


def test_dataset_file_is_not_responses(cti_bench: Path) -> None:
    with pytest.raises(DataFormatError, match="not a responses file"):
        read_responses(cti_bench / "cti-rcm.tsv", "cti-rcm")


def test_reference_run(reference_runs: Path) -> None:
    (response_set,) = read_responses(reference_runs / "cybersecqwen-4b-multi-trial-5x.json", "cti-rcm")
    assert response_set.model == "v80"
    assert response_set.source == "reference-run"
    assert len(response_set.items) == 1000
    assert response_set.items[0].item_id == "CVE-2024-23848"
    assert response_set.responses[0].endswith("CWE-416")


def test_reference_run_gold_from_data(reference_runs: Path, cti_bench: Path, tmp_path: Path) -> None:
    run = json.loads((reference_runs / "cybersecqwen-4b-multi-trial-5x.json").read_text(encoding="utf-8"))
    for record in run["subsets"]["cti-rcm"]["trials"][-1]["predictions"]:
        del record["gold"]
    stripped = tmp_path / "run.json"
    stripped.write_text(json.dumps(run), encoding="utf-8")
    with pytest.raises(DataFormatError, match="pass --data"):
        read_responses(stripped, "cti-rcm")
    (response_set,) = read_responses(stripped, "cti-rcm", data=cti_bench)
    task = get_task("cti-rcm")
    assert task.score(response_set.items, response_set.responses).metrics["accuracy"] == pytest.approx(0.667)


def test_reference_run_missing_subset(reference_runs: Path) -> None:
    with pytest.raises(DataFormatError, match="no cti-vsp subset; subsets found: cti-rcm, cti-mcq"):
        read_responses(reference_runs / "qwen3-4b-instruct-2507-baseline.json", "cti-vsp")


def test_jsonl_by_item_id(cti_bench: Path, tmp_path: Path) -> None:
    run = tmp_path / "run.jsonl"
    lines = [
        {"task": "cti-rcm", "item_id": "CVE-2024-23848", "response": "CWE-416"},
        {"task": "cti-rcm", "index": 1, "response": "CWE-79"},
        {"task": "cti-mcq", "index": 0, "response": "B"},
    ]
    run.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    (response_set,) = read_responses(run, "cti-rcm", data=cti_bench)
    assert [item.gold for item in response_set.items] == ["CWE-416", "CWE-257"]
    assert response_set.model == "run"


def test_jsonl_with_gold_groups_models(tmp_path: Path) -> None:
    run = tmp_path / "run.jsonl"
    lines = [
        {"task": "cti-ate", "index": 0, "response": "T1059", "gold": ["T1059", "T1105"], "model": "a"},
        {"task": "cti-ate", "index": 0, "response": "T1105", "gold": "T1059, T1105", "model": "b"},
    ]
    run.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    sets = read_responses(run, "cti-ate")
    assert [s.model for s in sets] == ["a", "b"]
    assert sets[0].items[0].gold == ["T1059", "T1105"]


def test_jsonl_without_gold_or_data(tmp_path: Path) -> None:
    run = tmp_path / "run.jsonl"
    run.write_text(json.dumps({"task": "cti-rcm", "index": 0, "response": "CWE-79"}), encoding="utf-8")
    with pytest.raises(DataFormatError, match='line 1 has no "gold"; pass --data'):
        read_responses(run, "cti-rcm")


def test_jsonl_bad_line(tmp_path: Path) -> None:
    run = tmp_path / "run.jsonl"
    run.write_text('{"task": "cti-rcm", "index": 0, "response": "x", "gold": "CWE-79"}\n{oops\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 2 is not valid JSON"):
        read_responses(run, "cti-rcm")


def test_unrecognised_format(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("model answered well\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="accepted formats: a CTIBench responses TSV"):
        read_responses(notes, "cti-rcm")


def test_oversized_json_response(tmp_path: Path) -> None:
    run = tmp_path / "run.jsonl"
    run.write_text(json.dumps({"index": 0, "response": "A" * 1_000_000, "gold": "A"}), encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 1: response has 1,000,000 characters"):
        read_responses(run, "cti-mcq")

"""The `ctiforge score` command, run as a real subprocess."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest


def test_score_rcm_chatgpt4(cli, responses_dir: Path) -> None:
    result = cli("score", "cti-rcm", str(responses_dir / "cti-rcm-responses.tsv"), "--column", "ChatGPT-4")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["model", "rule", "n", "parse_rate", "accuracy", "accuracy_parseable"]
    assert row.split() == ["ChatGPT-4", "ctibench", "1000", "100.0", "72.0", "72.0"]


def test_score_json(cli, responses_dir: Path) -> None:
    result = cli("score", "cti-vsp", str(responses_dir / "cti-vsp-responses.tsv"), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [entry["model"] for entry in payload] == ["ChatGPT-3.5", "ChatGPT-4", "Gemini-1.5", "LLAMA3-70B", "LLAMA3-8B"]
    assert round(payload[1]["metrics"]["mad"], 2) == 1.31
    assert payload[1]["primary_metric"] == "mad"


def test_score_reference_run_lenient(cli, reference_runs: Path) -> None:
    result = cli("score", "cti-mcq", str(reference_runs / "cybersecqwen-4b-multi-trial-5x.json"), "--rule", "lenient")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split() == ["v80", "lenient", "2500", "97.7", "58.8", "60.2"]


def test_show_unparseable(cli, responses_dir: Path) -> None:
    result = cli("score", "cti-rcm", str(responses_dir / "cti-rcm-responses.tsv"), "--column", "Gemini-1.5",
                 "--show-unparseable", "--data", str(responses_dir.parent))
    assert result.returncode == 0, result.stderr
    assert "Gemini-1.5: 77 unparseable under rule ctibench" in result.stdout
    assert '"Error"' in result.stdout
    assert "CVE-" in result.stdout


def test_show_unparseable_json(cli, responses_dir: Path) -> None:
    result = cli("score", "cti-rcm-2021", str(responses_dir / "cti-rcm-2021-responses.tsv"), "--column", "LLAMA3-70B",
                 "--show-unparseable", "--json")
    entry = json.loads(result.stdout)[0]
    assert entry["n_unparseable"] == 1
    assert entry["unparseable"][0]["response"] == ""


def _check_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_error_missing_gold_column(cli, responses_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "responses.tsv"
    text = (responses_dir / "cti-rcm-responses.tsv").read_text(encoding="utf-8")
    bad.write_text(text.replace("GT\t", "Gold\t", 1), encoding="utf-8")
    _check_one_line_error(cli("score", "cti-rcm", str(bad)), str(bad), "missing column(s) GT", "'Gold'")


def test_error_empty_column(cli, tmp_path: Path) -> None:
    bad = tmp_path / "responses.tsv"
    bad.write_text("GT\tmodel-a\nCWE-79\t\nCWE-89\t\n", encoding="utf-8")
    _check_one_line_error(cli("score", "cti-rcm", str(bad)), str(bad), "column 'model-a' is empty in every row")


def test_error_huge_response(cli, tmp_path: Path) -> None:
    bad = tmp_path / "responses.tsv"
    bad.write_text("GT\tmodel-a\nCWE-79\tCWE-79\nCWE-89\t" + "x" * 1_048_576 + "\n", encoding="utf-8")
    _check_one_line_error(cli("score", "cti-rcm", str(bad)), str(bad), "row 2", "'model-a'", "1,048,576 characters")


def test_error_not_utf8(cli, tmp_path: Path) -> None:
    bad = tmp_path / "responses.tsv"
    bad.write_bytes(b"GT\tmodel-a\nCWE-79\tCWE-79\nCWE-89\tCWE-8\xe99\n")
    _check_one_line_error(cli("score", "cti-rcm", str(bad)), str(bad), "line 3 is not valid UTF-8")


def test_error_short_row(cli, tmp_path: Path) -> None:
    bad = tmp_path / "short.tsv"
    bad.write_text("GT\tmodel-a\nCWE-79\tCWE-79\nCWE-89\n", encoding="utf-8")
    _check_one_line_error(cli("score", "cti-rcm", str(bad)), str(bad),
                          "row 2 (line 3) has 1 cells but the header has 2 columns")


def test_error_extra_cell(cli, tmp_path: Path) -> None:
    bad = tmp_path / "long.tsv"
    bad.write_text("GT\tmodel-a\nCWE-79\tCWE-79\nCWE-89\tCWE-89\tCWE-20\n", encoding="utf-8")
    _check_one_line_error(cli("score", "cti-rcm", str(bad)), str(bad),
                          "row 2 (line 3) has 3 cells but the header has 2 columns")


def test_score_gzip_responses(cli, responses_dir: Path, tmp_path: Path) -> None:
    plain = responses_dir / "cti-rcm-responses.tsv"
    packed = tmp_path / "cti-rcm-responses.tsv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    expected = cli("score", "cti-rcm", str(plain), "--column", "ChatGPT-4", "--json")
    result = cli("score", "cti-rcm", str(packed), "--column", "ChatGPT-4", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["metrics"] == json.loads(expected.stdout)[0]["metrics"]


def test_score_gzip_jsonl(cli, tmp_path: Path) -> None:
    run = tmp_path / "run.json.gz"
    run.write_bytes(gzip.compress(
        (json.dumps({"task": "cti-mcq", "index": 0, "response": "B", "gold": "B"}) + "\n").encode("utf-8")
    ))
    result = cli("score", "cti-mcq", str(run), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["metrics"]["accuracy"] == 1.0


def test_error_damaged_gzip(cli, responses_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cut.tsv.gz"
    bad.write_bytes(gzip.compress((responses_dir / "cti-rcm-responses.tsv").read_bytes())[:500])
    _check_one_line_error(cli("score", "cti-rcm", str(bad)), str(bad), "gzip-compressed but cannot be decompressed")


def test_error_unknown_format(cli, tmp_path: Path) -> None:
    bad = tmp_path / "answers.txt"
    bad.write_text("CWE-79\nCWE-89\n", encoding="utf-8")
    _check_one_line_error(cli("score", "cti-rcm", str(bad)), "accepted formats")


def test_error_unknown_task(cli, responses_dir: Path) -> None:
    _check_one_line_error(cli("score", "cti-foo", str(responses_dir / "cti-rcm-responses.tsv")), "valid tasks")


def test_error_rule_not_for_task(cli, tmp_path: Path) -> None:
    run = tmp_path / "run.jsonl"
    run.write_text(json.dumps({"index": 0, "response": "T1059", "gold": "T1059"}), encoding="utf-8")
    _check_one_line_error(cli("score", "cti-ate", str(run), "--rule", "ctibench"), "cti-ate has no answer rule 'ctibench'")


@pytest.mark.parametrize("response", ["", "\x00\x01", "🙂" * 50, "Answer: " * 1000, "B\nD\nA\nC" * 100])
def test_strange_answers_counted(cli, tmp_path: Path, response: str) -> None:
    run = tmp_path / "run.jsonl"
    run.write_text(json.dumps({"task": "cti-mcq", "index": 0, "response": response, "gold": "B"}) + "\n", encoding="utf-8")
    result = cli("score", "cti-mcq", str(run), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["metrics"]["n"] == 1


def test_import_without_torch() -> None:
    # The core install (score) must work without torch.
    import subprocess
    import sys

    code = "import sys, ctiforge.benchmarks, ctiforge._cli.score; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr

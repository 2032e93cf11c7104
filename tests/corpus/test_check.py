"""`ctiforge corpus check` on the published contaminated corpus and on small files."""

from __future__ import annotations

import json
from pathlib import Path


def test_check_contaminated_rcm_2021(shared_data: Path, cli) -> None:
    result = cli("corpus", "check", str(shared_data / "contaminated" / "rcm_2021_train.jsonl"),
                 "--against", str(shared_data / "cti-bench" / "cti-rcm-2021.tsv"), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    audit = report["benchmarks"][0]
    assert audit["benchmark"] == "cti-rcm-2021"
    assert audit["items"] == 1000
    assert audit["verbatim"] == 999
    assert audit["same_label"] == 994
    assert audit["contaminated_items"] == 1000
    assert report["clean"] is False


def test_check_text_summary(shared_data: Path, cli) -> None:
    result = cli("corpus", "check", str(shared_data / "contaminated" / "rcm_2021_train.jsonl"),
                 "--against", str(shared_data / "cti-bench" / "cti-rcm-2021.tsv"))
    assert result.returncode == 1
    assert "999 of 1,000 items present verbatim (994 with the same label)" in result.stdout


def test_check_clean_corpus(tmp_path: Path, shared_data: Path, cli) -> None:
    corpus = tmp_path / "clean.jsonl"
    corpus.write_text(
        json.dumps({"prompt": "What does CSRF stand for?", "response": "Cross-site request forgery."}) + "\n",
        encoding="utf-8",
    )
    result = cli("corpus", "check", str(corpus), "--against", str(shared_data / "cti-bench" / "cti-rcm.tsv"))
    assert result.returncode == 0, result.stderr
    assert "clean" in result.stdout


def test_check_finds_cve_id(tmp_path: Path, shared_data: Path, cli, read_rows) -> None:
    row = read_rows(shared_data / "cti-bench" / "cti-vsp.tsv")[3]
    cve_id = row["URL"].rsplit("/", 1)[-1]
    corpus = tmp_path / "ids.jsonl"
    message = {"messages": [{"role": "user", "content": f"Score {cve_id}."},
                            {"role": "assistant", "content": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}
    corpus.write_text(json.dumps(message) + "\n", encoding="utf-8")
    result = cli("corpus", "check", str(corpus), "--against", str(shared_data / "cti-bench" / "cti-vsp.tsv"), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["benchmarks"][0]["cve_id"] == 1


def test_check_broken_lines(tmp_path: Path, shared_data: Path, cli) -> None:
    corpus = tmp_path / "broken.jsonl"
    good = json.dumps({"prompt": "What is XSS?", "response": "Cross-site scripting."})
    corpus.write_text(f"{good}\n{{\"prompt\": \n{good}\n{{\"text\": 1}}\n", encoding="utf-8")
    against = str(shared_data / "cti-bench" / "cti-rcm.tsv")
    result = cli("corpus", "check", str(corpus), "--against", against)
    assert result.returncode == 2
    assert "line 2" in result.stderr
    assert "line 4" in result.stderr
    assert "Traceback" not in result.stderr

    skipped = cli("corpus", "check", str(corpus), "--against", against, "--skip-invalid", "--json")
    assert skipped.returncode == 0, skipped.stderr
    assert [entry["line"] for entry in json.loads(skipped.stdout)["skipped_lines"]] == [2, 4]


def test_check_missing_benchmark(tmp_path: Path, cli) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"prompt": "a", "response": "b"}) + "\n", encoding="utf-8")
    result = cli("corpus", "check", str(corpus), "--against", str(tmp_path / "nope.tsv"))
    assert result.returncode == 2
    assert "nope.tsv" in result.stderr


def test_check_same_benchmark_name(tmp_path: Path, shared_data: Path, cli) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"prompt": "a", "response": "b"}) + "\n", encoding="utf-8")
    copy = tmp_path / "copy" / "cti-rcm.tsv"
    copy.parent.mkdir()
    copy.write_bytes((shared_data / "cti-bench" / "cti-rcm.tsv").read_bytes())
    result = cli("corpus", "check", str(corpus), "--against", str(shared_data / "cti-bench" / "cti-rcm.tsv"),
                 "--against", str(copy))
    assert result.returncode == 2
    assert "same name 'cti-rcm'" in result.stderr

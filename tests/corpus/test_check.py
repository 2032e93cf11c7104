"""`ctiforge corpus check` on the published contaminated corpus and on small files."""

from __future__ import annotations

import gzip
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


def _check_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_check_empty_corpus(tmp_path: Path, shared_data: Path, cli) -> None:
    corpus = tmp_path / "empty.jsonl"
    corpus.write_bytes(b"")
    result = cli("corpus", "check", str(corpus), "--against", str(shared_data / "cti-bench" / "cti-rcm-2021.tsv"))
    _check_one_line_error(result, str(corpus), "contains no records")


def test_check_only_invalid_lines(tmp_path: Path, shared_data: Path, cli) -> None:
    corpus = tmp_path / "broken.jsonl"
    corpus.write_text("{not json\n[1, 2]\n", encoding="utf-8")
    result = cli("corpus", "check", str(corpus), "--against", str(shared_data / "cti-bench" / "cti-rcm-2021.tsv"),
                 "--skip-invalid")
    # The skipped lines are logged as warnings before the error.
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {corpus} contains no records (2 invalid line(s) skipped)")


def test_check_gzip_corpus(tmp_path: Path, shared_data: Path, cli, read_rows) -> None:
    row = read_rows(shared_data / "cti-bench" / "cti-rcm-2021.tsv")[0]
    lines = [
        json.dumps({"prompt": row["Prompt"], "response": row["GT"]}),
        json.dumps({"prompt": "What does CSRF stand for?", "response": "Cross-site request forgery."}),
    ]
    corpus = tmp_path / "train.jsonl.gz"
    corpus.write_bytes(gzip.compress("\n".join(lines).encode("utf-8") + b"\n"))
    result = cli("corpus", "check", str(corpus), "--against", str(shared_data / "cti-bench" / "cti-rcm-2021.tsv"),
                 "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["records"] == 2
    assert report["contaminated_records"] == 1


def test_check_damaged_gzip(tmp_path: Path, shared_data: Path, cli) -> None:
    text = (shared_data / "contaminated" / "rcm_2021_train.jsonl").read_bytes()
    corpus = tmp_path / "cut.jsonl.gz"
    corpus.write_bytes(gzip.compress(text)[:2000])
    result = cli("corpus", "check", str(corpus), "--against", str(shared_data / "cti-bench" / "cti-rcm-2021.tsv"))
    _check_one_line_error(result, str(corpus), "gzip-compressed but cannot be decompressed")

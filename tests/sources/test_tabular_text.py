"""Readers on plain text, CSV and JSONL built from real CVE descriptions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ctiforge.errors import ConfigError, DataFormatError
from ctiforge.sources import CveRecord, SkippedRecord, read_exclusions, read_records, text_record

# Real CVE descriptions: CVE-2024-23848 (NVD) and CVE-2025-26794 (the CVE JSON 5 sample).
UAF = ("In the Linux kernel through 6.7.1, there is a use-after-free in cec_queue_msg_fh, related to "
       "drivers/media/cec/core/cec-adap.c and drivers/media/cec/core/cec-api.c.")
SQLI = ("Exim 4.98 before 4.98.1, when SQLite hints and ETRN serialization are used, allows remote SQL injection.")


def records_of(path: Path, **options: object) -> list[CveRecord | SkippedRecord]:
    return list(read_records(path, **options))


def test_text_lines(tmp_path: Path) -> None:
    path = tmp_path / "input.txt"
    path.write_text(f"{UAF}\n\n   \n{SQLI}\n", encoding="utf-8")
    records = records_of(path)
    assert [r.locator for r in records] == ["line 1", "line 4"]
    assert records[1].description == SQLI


def test_text_paragraphs(tmp_path: Path) -> None:
    half = len(UAF) // 2
    path = tmp_path / "input.txt"
    path.write_text(f"{UAF[:half]}\n{UAF[half:]}\n\n\n{SQLI}\n", encoding="utf-8")
    records = records_of(path, text_mode="paragraphs")
    assert len(records) == 2
    assert records[0].locator == "line 1"
    assert records[1].locator == "line 5"
    assert records[0].description.replace(" ", "") == UAF.replace(" ", "")


def test_text_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(UAF.encode() + b"\nBad byte \xff here\n" + SQLI.encode() + b"\n")
    records = records_of(path)
    assert isinstance(records[0], CveRecord)
    assert isinstance(records[1], SkippedRecord)
    assert records[1].code == "not-utf8"
    assert "0xff" in records[1].reason
    assert isinstance(records[2], CveRecord)


def test_text_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(b"\xef\xbb\xbf" + UAF.encode())
    assert records_of(path)[0].description == UAF


def test_text_utf16_rejected(tmp_path: Path) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(UAF.encode("utf-16"))
    with pytest.raises(DataFormatError, match="UTF-16"):
        records_of(path)


def test_binary_rejected(cve5_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(DataFormatError, match="binary"):
        records_of(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="file not found"):
        read_records(tmp_path / "absent.txt")


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="unknown input format"):
        read_records("-", format="xml")
    with pytest.raises(ConfigError, match="unknown text mode"):
        read_records("-", text_mode="words")


def test_text_record_checks() -> None:
    empty = text_record("")
    blank = text_record(" \t\n")
    assert isinstance(empty, SkippedRecord)
    assert empty.reason == "text is empty"
    assert isinstance(blank, SkippedRecord)
    assert blank.reason == "text contains only whitespace"


def test_text_record_truncates() -> None:
    record = text_record("overflow " * 200_000, max_chars=100_000)
    assert isinstance(record, CveRecord)
    assert record.truncated
    assert len(record.description) == 100_000


def test_text_record_labels() -> None:
    record = text_record(SQLI, cwes=["89", "nvd-cwe-other", "not a cwe"])
    assert record.cwes == ["CWE-89", "NVD-CWE-Other"]
    assert record.cwe_sources == ["input", "input"]


def test_csv_ctibench(shared_data: Path) -> None:
    records = records_of(shared_data / "cti-bench" / "cti-rcm.tsv", text_column="Description",
                         id_column="URL", label_column="GT")
    assert len(records) == 1000
    assert records[0].cve_id == "CVE-2024-23848"
    assert records[0].cwes == ["CWE-416"]
    assert records[0].locator == "line 2"


def test_csv_missing_column(shared_data: Path) -> None:
    with pytest.raises(DataFormatError) as info:
        records_of(shared_data / "cti-bench" / "cti-rcm.tsv", text_column="Summary")
    message = str(info.value)
    assert "cti-rcm.tsv" in message
    assert "no column 'Summary'" in message
    assert "'URL', 'Description', 'Prompt', 'GT'" in message


def test_csv_default_columns(tmp_path: Path) -> None:
    path = tmp_path / "input.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["CVE", "Description", "CWE"])
        writer.writerow(["CVE-2024-23848", UAF, "CWE-416"])
        writer.writerow(["CVE-2025-26794", "", "CWE-89"])
    records = records_of(path)
    assert records[0].cve_id == "CVE-2024-23848"
    assert records[0].cwes == ["CWE-416"]
    assert isinstance(records[1], SkippedRecord)
    assert records[1].code == "empty"


def test_csv_huge_field(tmp_path: Path) -> None:
    path = tmp_path / "input.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["description"])
        writer.writerow([UAF + " x" * 500_000])
    records = records_of(path)
    assert records[0].truncated


def test_jsonl_text_field(tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    lines = [json.dumps({"id": "CVE-2024-23848", "text": UAF, "cwe": "CWE-416"}), "{not json",
             json.dumps(["a list"]), json.dumps({"id": "x", "text": 5})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = records_of(path)
    assert records[0].cwes == ["CWE-416"]
    assert [r.code for r in records[1:]] == ["invalid-json", "invalid-json", "invalid-json"]


def test_jsonl_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text(json.dumps({"prompt": UAF}) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no field .*'prompt'"):
        records_of(path)


def test_jsonl_cve_records(cve5_dir: Path, api2_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    cve5 = json.loads((cve5_dir / "CVE-2025-48095.json").read_text(encoding="utf-8"))
    api2 = json.loads((api2_dir / "CVE-2025-29927.json").read_text(encoding="utf-8"))
    path.write_text(json.dumps(cve5) + "\n" + json.dumps(api2) + "\n", encoding="utf-8")
    records = records_of(path)
    assert records[0].cwes == ["CWE-79"]
    assert records[1].cwes == ["CWE-863", "CWE-285"]


def test_jsonl_contaminated_set(shared_data: Path) -> None:
    stream = read_records(shared_data / "contaminated" / "rcm_2021_train.jsonl", text_column="prompt")
    records = list(stream)
    assert stream.format == "jsonl"
    assert len(records) == 6776


def test_exclusions_ctibench(shared_data: Path) -> None:
    bench = shared_data / "cti-bench"
    found = read_exclusions([bench / "cti-rcm.tsv", bench / "cti-vsp.tsv"])
    assert len(found.ids) == 1000
    assert "CVE-2024-23848" in found.ids
    assert len(found.texts) == 2000


def test_exclusions_from_prompt(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "cti-bench" / "cti-rcm-2021.tsv"
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    path = tmp_path / "prompts.tsv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["URL", "Prompt"], delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    found = read_exclusions([path])
    assert found.texts[0] == rows[0]["Description"].strip()
    assert len(found.ids) == len(rows)


def test_exclusions_wrong_file(shared_data: Path) -> None:
    with pytest.raises(DataFormatError, match="no 'URL', 'Description' or 'Prompt' column"):
        read_exclusions([shared_data / "samples" / "README.md"])

"""Readers on real CVE JSON 5, NVD API 2.0 and NVD JSON 1.1 records."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ctiforge.errors import DataFormatError
from ctiforge.sources import CveRecord, SkippedRecord, detect_format, read_records
from ctiforge.sources import _jsonstream


def only_record(path: Path) -> CveRecord | SkippedRecord:
    records = list(read_records(path))
    assert len(records) == 1
    return records[0]


def by_id(records: list[CveRecord | SkippedRecord]) -> dict[str, CveRecord | SkippedRecord]:
    return {r.cve_id: r for r in records if r.cve_id}


# (file, expected CWEs, expected sources) for each CVE JSON 5 sample with a usable record.
CVE5_LABELS = [
    ("CVE-2025-1094.json", ["CWE-149"], ["cna"]),
    ("CVE-2025-21042.json", ["CWE-787"], ["cna"]),
    ("CVE-2025-21756.json", ["CWE-416"], ["adp:CISA-ADP"]),
    ("CVE-2025-24813.json", ["CWE-44", "CWE-502"], ["cna", "cna"]),
    ("CVE-2025-26794.json", ["CWE-89"], ["cna"]),
    ("CVE-2025-27363.json", ["CWE-787"], ["cna"]),
    ("CVE-2025-29088.json", ["CWE-190"], ["cna"]),
    ("CVE-2025-29927.json", ["CWE-285"], ["cna"]),
    ("CVE-2025-30065.json", ["CWE-502"], ["cna"]),
    ("CVE-2025-31131.json", ["CWE-22"], ["cna"]),
    ("CVE-2025-32433.json", ["CWE-306"], ["cna"]),
    ("CVE-2025-37899.json", [], []),
    ("CVE-2025-3827.json", ["CWE-89", "CWE-74"], ["cna", "cna"]),
    ("CVE-2025-48095.json", ["CWE-79"], ["cna"]),
    ("CVE-2025-49113.json", ["CWE-502"], ["cna"]),
]


@pytest.mark.parametrize(("name", "cwes", "sources"), CVE5_LABELS)
def test_cve5_labels(cve5_dir: Path, name: str, cwes: list[str], sources: list[str]) -> None:
    record = only_record(cve5_dir / name)
    assert isinstance(record, CveRecord)
    assert record.cve_id == name.removesuffix(".json")
    assert record.cwes == cwes
    assert record.cwe_sources == sources
    assert record.state == "PUBLISHED"
    assert record.description


def test_cve5_rejected(cve5_dir: Path) -> None:
    record = only_record(cve5_dir / "CVE-2025-2825.json")
    assert isinstance(record, SkippedRecord)
    assert record.code == "rejected"
    assert record.cve_id == "CVE-2025-2825"


def test_cve5_english_over_german(cve5_dir: Path) -> None:
    record = only_record(cve5_dir / "CVE-2025-3827.json")
    assert isinstance(record, CveRecord)
    assert record.description.startswith("A vulnerability has been found")
    assert "Schwachstelle" not in record.description


def test_cve5_german_only(cve5_dir: Path, tmp_path: Path) -> None:
    data = json.loads((cve5_dir / "CVE-2025-3827.json").read_text(encoding="utf-8"))
    cna = data["containers"]["cna"]
    cna["descriptions"] = [d for d in cna["descriptions"] if d["lang"] != "en"]
    path = tmp_path / "german.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    record = only_record(path)
    assert isinstance(record, SkippedRecord)
    assert record.code == "no-english"
    assert "de" in record.reason


def test_cve5_cvss_versions(cve5_dir: Path) -> None:
    # CNA gives 4.0, 3.1, 3.0 and 2.0: the 3.1 vector is the one kept.
    multi = only_record(cve5_dir / "CVE-2025-3827.json")
    v4_only = only_record(cve5_dir / "CVE-2025-30065.json")
    adp_only = only_record(cve5_dir / "CVE-2025-21756.json")
    assert multi.cvss_v3_vector.startswith("CVSS:3.1/")
    assert v4_only.cvss_v3_vector is None
    assert adp_only.cvss_v3_vector == "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"


def test_cve5_folder(cve5_dir: Path) -> None:
    stream = read_records(cve5_dir)
    records = list(stream)
    assert len(records) == 16
    assert sum(isinstance(r, CveRecord) for r in records) == 15
    assert stream.format == "cve-json-5"
    assert stream.total == 16


def test_cve5_list(cve5_dir: Path, tmp_path: Path) -> None:
    names = ["CVE-2025-1094.json", "CVE-2025-2825.json", "CVE-2025-48095.json"]
    items = [json.loads((cve5_dir / n).read_text(encoding="utf-8")) for n in names]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    records = list(read_records(path))
    assert [r.locator for r in records] == ["item 1", "item 2", "item 3"]
    assert isinstance(records[1], SkippedRecord)
    assert records[2].cwes == ["CWE-79"]


def test_folder_bad_file(cve5_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes((cve5_dir / "CVE-2025-1094.json").read_bytes())
    (tmp_path / "b.json").write_text('{"model": "x"}', encoding="utf-8")
    records = list(read_records(tmp_path))
    assert isinstance(records[0], CveRecord)
    assert isinstance(records[1], SkippedRecord)
    assert records[1].source == "b.json"
    assert records[1].code == "unreadable"


@pytest.mark.parametrize("name", [
    "CVE-2025-1094.json", "CVE-2025-26794.json", "CVE-2025-27363.json", "CVE-2025-29088.json",
    "CVE-2025-29927.json", "CVE-2025-30065.json", "CVE-2025-31131.json", "CVE-2025-31201.json",
    "CVE-2025-3827.json", "CVE-2025-37899.json", "CVE-2025-48095.json",
])
def test_api2_single(api2_dir: Path, name: str) -> None:
    record = only_record(api2_dir / name)
    assert isinstance(record, CveRecord)
    assert record.cve_id == name.removesuffix(".json")
    assert record.locator == record.cve_id
    # NVD adds a Spanish description; the English one must win.
    assert " el " not in record.description


@pytest.mark.parametrize(("name", "cwes", "sources"), [
    ("CVE-2025-31201.json", ["NVD-CWE-noinfo", "CWE-1220"], ["nvd-primary", "adp:CISA-ADP"]),
    ("CVE-2025-29927.json", ["CWE-863", "CWE-285"], ["nvd-primary", "cna"]),
    ("CVE-2025-3827.json", ["CWE-89", "CWE-74"], ["nvd-primary", "cna"]),
    ("CVE-2025-29088.json", ["CWE-190"], ["cna"]),
    ("CVE-2025-27363.json", ["CWE-787"], ["adp:CISA-ADP"]),
    ("CVE-2025-37899.json", [], []),
])
def test_api2_weakness_sources(api2_dir: Path, name: str, cwes: list[str], sources: list[str]) -> None:
    record = only_record(api2_dir / name)
    assert record.cwes == cwes
    assert record.cwe_sources == sources


def test_api2_placeholder_not_specific(api2_dir: Path) -> None:
    record = only_record(api2_dir / "CVE-2025-31201.json")
    assert record.specific_cwes == ["CWE-1220"]


def test_api2_rejected(api2_dir: Path) -> None:
    record = only_record(api2_dir / "CVE-2025-2825.json")
    assert isinstance(record, SkippedRecord)
    assert record.code == "rejected"


def test_api2_vector_choice(api2_dir: Path) -> None:
    assert only_record(api2_dir / "CVE-2025-30065.json").cvss_v3_vector is None
    assert only_record(api2_dir / "CVE-2025-31201.json").cvss_v3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def test_api2_response(api2_dir: Path) -> None:
    stream = read_records(api2_dir / "api-response-example.json")
    records = list(stream)
    assert stream.format == "nvd-api-2.0"
    assert stream.total == 12
    assert len(records) == 12
    assert [r.locator for r in records][:2] == ["item 1", "item 2"]
    assert isinstance(by_id(records)["CVE-2025-2825"], SkippedRecord)


def test_api2_response_small_chunks(api2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny read chunks put every token boundary at a buffer edge at least once.
    expected = list(read_records(api2_dir / "api-response-example.json"))
    monkeypatch.setattr(_jsonstream, "_CHUNK_CHARS", 7)
    chunked = list(read_records(api2_dir / "api-response-example.json"))
    assert chunked == expected


def test_nvd_feed_2002(nvd_dir: Path) -> None:
    stream = read_records(nvd_dir / "nvdcve-1.1-2002.json.gz")
    records = list(stream)
    with gzip.open(nvd_dir / "nvdcve-1.1-2002.json.gz", "rt", encoding="utf-8") as handle:
        feed = json.load(handle)
    assert stream.format == "nvd-json-1.1"
    assert stream.total == int(feed["CVE_data_numberOfCVEs"])
    assert len(records) == len(feed["CVE_Items"])
    assert [r.cve_id for r in records] == [i["cve"]["CVE_data_meta"]["ID"] for i in feed["CVE_Items"]]


def test_nvd_feed_labels(nvd_dir: Path) -> None:
    first = next(iter(read_records(nvd_dir / "nvdcve-1.1-2018.json.gz")))
    assert first.cve_id == "CVE-2018-0001"
    assert first.cwes == ["CWE-416"]
    assert first.cwe_sources == ["nvd"]
    assert first.published.startswith("2018-01-10")
    assert first.cvss_v3_vector.startswith("CVSS:3.0/")


def test_nvd_feed_rejected(nvd_dir: Path) -> None:
    records = by_id(list(read_records(nvd_dir / "nvdcve-1.1-2018.json.gz")))
    assert isinstance(records["CVE-2018-0143"], SkippedRecord)
    assert records["CVE-2018-0143"].code == "rejected"


def test_nvd_feed_uncompressed(nvd_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    path.write_bytes(gzip.decompress((nvd_dir / "nvdcve-1.1-2003.json.gz").read_bytes()))
    plain = [r.cve_id for r in read_records(path)]
    packed = [r.cve_id for r in read_records(nvd_dir / "nvdcve-1.1-2003.json.gz")]
    assert plain == packed


def test_gzip_without_suffix(api2_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "download"
    path.write_bytes(gzip.compress((api2_dir / "api-response-example.json").read_bytes()))
    assert len(list(read_records(path))) == 12


def test_malformed_field_skipped(api2_dir: Path, tmp_path: Path) -> None:
    data = json.loads((api2_dir / "api-response-example.json").read_text(encoding="utf-8"))
    data["vulnerabilities"][0]["cve"]["weaknesses"] = "not a list"
    path = tmp_path / "response.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    records = list(read_records(path))
    assert isinstance(records[0], SkippedRecord)
    assert records[0].code == "invalid-json"
    # Twelve records: this malformed one, one rejected and ten usable.
    assert sum(isinstance(r, CveRecord) for r in records) == 10


def test_truncated_json_keeps_earlier(api2_dir: Path, tmp_path: Path) -> None:
    text = (api2_dir / "api-response-example.json").read_text(encoding="utf-8")
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    seen: list[CveRecord | SkippedRecord] = []
    with pytest.raises(DataFormatError, match="cut.json: invalid JSON"):
        for record in read_records(path):
            seen.append(record)
    assert len(seen) >= 4


def test_unknown_json(shared_data: Path) -> None:
    path = shared_data / "reference-runs" / "qwen3-4b-instruct-2507-baseline.json"
    with pytest.raises(DataFormatError, match="neither an NVD feed") as info:
        list(read_records(path))
    assert "qwen3-4b-instruct-2507-baseline.json" in str(info.value)
    assert "top-level keys: model" in str(info.value)


def test_forced_format_mismatch(cve5_dir: Path) -> None:
    with pytest.raises(DataFormatError, match="pass --format cve-json-5"):
        list(read_records(cve5_dir / "CVE-2025-1094.json", format="nvd-json-1.1"))


@pytest.mark.parametrize(("relative", "expected"), [
    ("nvd/nvdcve-1.1-2002.json.gz", "nvd-json-1.1"),
    ("samples/nvd-api2/api-response-example.json", "nvd-api-2.0"),
    ("samples/nvd-api2/CVE-2025-1094.json", "nvd-api-2.0"),
    ("samples/cve5/CVE-2025-1094.json", "cve-json-5"),
    ("samples/cve5", "cve-json-5"),
    ("cti-bench/cti-rcm.tsv", "csv"),
    ("contaminated/rcm_2021_train.jsonl", "jsonl"),
    ("samples/README.md", "text"),
])
def test_detect_format(shared_data: Path, relative: str, expected: str) -> None:
    assert detect_format(shared_data / relative) == expected


def test_truncated_gzip(nvd_dir: Path, tmp_path: Path) -> None:
    data = (nvd_dir / "nvdcve-1.1-2003.json.gz").read_bytes()
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    seen = 0
    with pytest.raises(DataFormatError, match="cut.json.gz: reading failed"):
        for _ in read_records(path):
            seen += 1
    assert seen > 100

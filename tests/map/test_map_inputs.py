"""`ctiforge map` with the shipped model on every input format, through the real CLI."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest


def test_argument_table(cli, uaf_description: str) -> None:
    result = cli("map", uaf_description)
    ranked = [line for line in result.stdout.splitlines() if line.lstrip()[:3] in ("1. ", "2. ", "3. ")]
    assert result.returncode == 0, result.stderr
    assert len(ranked) == 3
    assert "CWE-" in ranked[0]


def test_argument_json(map_json, uaf_description: str) -> None:
    document = map_json("-k", "5", uaf_description)
    predictions = document["results"][0]["predictions"]
    probabilities = [p["probability"] for p in predictions]
    assert len(predictions) == 5
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert all(p["cwe_id"].startswith("CWE-") for p in predictions)
    assert all(p["name"] and p["rationale"] for p in predictions)
    assert document["summary"]["mapped"] == 1


def test_argument_words_joined(map_json) -> None:
    document = map_json("SQL", "injection", "in", "login.php", "via", "the", "id", "parameter")
    assert len(document["results"]) == 1


def test_stdin_dash(map_json, uaf_description: str) -> None:
    document = map_json("-", input=f"{uaf_description}\nCross-site scripting in the search box of the admin page.\n")
    assert [r["locator"] for r in document["results"]] == ["line 1", "line 2"]
    assert document["results"][0]["source"] == "<stdin>"


def test_stdin_implicit(cli, uaf_description: str) -> None:
    result = cli("map", "--jsonl", input=uaf_description + "\n")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_text_file_modes(map_json, uaf_description: str, tmp_path: Path) -> None:
    path = tmp_path / "advisories.txt"
    half = len(uaf_description) // 2
    path.write_text(f"{uaf_description[:half]}\n{uaf_description[half:]}\n\nSQL injection in login.php.\n",
                    encoding="utf-8")
    by_line = map_json("--file", str(path))
    by_paragraph = map_json("--file", str(path), "--paragraphs")
    assert len(by_line["results"]) == 3
    assert len(by_paragraph["results"]) == 2


def test_nvd_feed_evaluate(map_json, shared_data: Path, tmp_path: Path) -> None:
    # A real feed cut to its first 400 items keeps the test fast.
    with gzip.open(shared_data / "nvd" / "nvdcve-1.1-2018.json.gz", "rt", encoding="utf-8") as handle:
        feed = json.load(handle)
    feed["CVE_Items"] = feed["CVE_Items"][:400]
    feed["CVE_data_numberOfCVEs"] = "400"
    path = tmp_path / "nvdcve-1.1-part.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(feed, handle)

    labels = []
    for item in feed["CVE_Items"]:
        if item["cve"]["description"]["description_data"][0]["value"].startswith("** REJECT **"):
            continue
        values = [d["value"] for p in item["cve"]["problemtype"]["problemtype_data"] for d in p["description"]]
        labels.append(values)
    specific = sum(any(v.startswith("CWE-") for v in values) for values in labels)
    placeholder_only = sum(bool(values) and not any(v.startswith("CWE-") for v in values) for values in labels)

    report = map_json("--file", str(path), "--evaluate")
    assert report["evaluated"] == specific
    assert report["excluded_nvd_placeholder_only"] == placeholder_only
    assert report["summary"]["skipped"] == 400 - len(labels)
    assert 0.0 < report["top1_accuracy"] <= report["top3_accuracy"] <= 1.0


@pytest.mark.slow
def test_nvd_2018_evaluate(cli, shared_data: Path) -> None:
    result = cli("map", "--file", str(shared_data / "nvd" / "nvdcve-1.1-2018.json.gz"), "--evaluate", "--progress")
    assert result.returncode == 0, result.stderr
    assert "top-1 accuracy" in result.stdout
    assert "top-3 accuracy" in result.stdout
    assert "16591/16591" in result.stderr
    assert "skipped 973 of 16,591 records (973 rejected)" in result.stderr


def test_api2_response(map_json, samples: Path) -> None:
    document = map_json("--file", str(samples / "nvd-api2" / "api-response-example.json"))
    results = {r["cve_id"]: r for r in document["results"]}
    assert len(results) == 11
    assert results["CVE-2025-31201"]["input_cwes"] == ["NVD-CWE-noinfo", "CWE-1220"]
    assert results["CVE-2025-31201"]["input_cwe_sources"] == ["nvd-primary", "adp:CISA-ADP"]
    assert results["CVE-2025-37899"]["agreement"] is None
    assert document["skipped"][0]["cve_id"] == "CVE-2025-2825"


def test_api2_single(map_json, samples: Path) -> None:
    document = map_json("--file", str(samples / "nvd-api2" / "CVE-2025-29927.json"))
    result = document["results"][0]
    assert result["cve_id"] == "CVE-2025-29927"
    assert result["input_cwes"] == ["CWE-863", "CWE-285"]
    assert result["agreement"] in ("top-1", "top-3", "none")


def test_cve5_folder(cli, samples: Path) -> None:
    result = cli("map", "--file", str(samples / "cve5"), "--jsonl")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stderr
    assert len(rows) == 15
    assert "CVE-2025-2825.json CVE-2025-2825: rejected CVE" in result.stderr
    assert {r["cve_id"]: r["input_cwes"] for r in rows}["CVE-2025-21756"] == ["CWE-416"]


def test_cve5_single(map_json, samples: Path) -> None:
    document = map_json("--file", str(samples / "cve5" / "CVE-2025-48095.json"))
    assert document["results"][0]["input_cwes"] == ["CWE-79"]
    assert document["results"][0]["predictions"][0]["cwe_id"] == "CWE-79"
    assert document["results"][0]["agreement"] == "top-1"


def test_cve5_list(map_json, samples: Path, tmp_path: Path) -> None:
    names = ["CVE-2025-1094.json", "CVE-2025-32433.json", "CVE-2025-49113.json"]
    path = tmp_path / "records.json"
    path.write_text(json.dumps([json.loads((samples / "cve5" / n).read_text(encoding="utf-8")) for n in names]),
                    encoding="utf-8")
    document = map_json("--file", str(path))
    assert [r["locator"] for r in document["results"]] == ["item 1", "item 2", "item 3"]


def test_csv_input_output(cli, shared_data: Path, tmp_path: Path) -> None:
    with (shared_data / "cti-bench" / "cti-rcm.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))[:20]
    path = tmp_path / "cves.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["URL", "Description", "GT"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    result = cli("map", "--file", str(path), "--text-column", "Description", "--id-column", "URL",
                 "--label-column", "GT", "--csv")
    output = list(csv.DictReader(result.stdout.splitlines()))
    assert result.returncode == 0, result.stderr
    assert len(output) == 60
    assert output[0]["cve_id"] == "CVE-2024-23848"
    assert output[0]["input_cwes"] == "CWE-416"


def test_jsonl_input(map_json, tmp_path: Path, uaf_description: str) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"id": "CVE-2024-23848", "text": uaf_description, "cwe": "CWE-416"}) + "\n",
                    encoding="utf-8")
    document = map_json("--file", str(path))
    assert document["results"][0]["cve_id"] == "CVE-2024-23848"
    assert document["results"][0]["input_cwes"] == ["CWE-416"]


def test_label_column_evaluate(map_json, shared_data: Path) -> None:
    report = map_json("--file", str(shared_data / "cti-bench" / "cti-rcm.tsv"), "--text-column", "Description",
                      "--label-column", "GT", "--evaluate")
    assert report["evaluated"] == 1000

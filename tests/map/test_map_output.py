"""`ctiforge map` output formats, CWE usage flags and views, and `ctiforge mapper`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ctiforge.catalog import NVD_VIEW_ID, load_catalog


def test_view_1003(in_process, samples: Path) -> None:
    result = in_process("map", "--file", str(samples / "cve5"), "--view", "1003", "-k", "5", "--json")
    document = json.loads(result.stdout)
    members = set(load_catalog().view_members(NVD_VIEW_ID))
    predicted = {p["cwe_id"] for r in document["results"] for p in r["predictions"]}
    assert predicted <= members


def test_no_prohibited(in_process, samples: Path) -> None:
    document = json.loads(in_process("map", "--file", str(samples / "cve5"), "-k", "10", "--json").stdout)
    usages = {p["usage"] for r in document["results"] for p in r["predictions"]}
    assert "Prohibited" not in usages


def test_discouraged_marked(in_process, samples: Path) -> None:
    path = str(samples / "nvd-api2" / "api-response-example.json")
    document = json.loads(in_process("map", "--file", path, "-k", "10", "--json").stdout)
    table = in_process("map", "--file", path, "-k", "10").stdout
    flagged = [p for r in document["results"] for p in r["predictions"] if p["discouraged"]]
    marked = [line for line in table.splitlines() if line.endswith("[discouraged]")]
    assert flagged, "expected at least one Discouraged CWE among 110 predictions"
    assert len(marked) == len(flagged)
    assert all(p["usage"] == "Discouraged" for p in flagged)


def test_table_shows_input_cwe(in_process, samples: Path) -> None:
    result = in_process("map", "--file", str(samples / "nvd-api2" / "CVE-2025-29927.json"))
    assert "input CWE: CWE-863 (nvd-primary), CWE-285 (cna)" in result.stdout


def test_jsonl_matches_json(in_process, samples: Path) -> None:
    path = str(samples / "cve5")
    document = json.loads(in_process("map", "--file", path, "--json").stdout)
    lines = [json.loads(line) for line in in_process("map", "--file", path, "--jsonl").stdout.splitlines()]
    assert lines == document["results"]


def test_csv_columns(in_process, samples: Path) -> None:
    result = in_process("map", "--file", str(samples / "cve5" / "CVE-2025-3827.json"), "--csv", "-k", "2")
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert rows[0]["input_cwes"] == "CWE-89;CWE-74"
    assert float(rows[0]["probability"]) >= float(rows[1]["probability"])


def test_mapper_info(cli, in_process) -> None:
    text = in_process("mapper", "info")
    as_json = cli("mapper", "info", "--json")
    info = json.loads(as_json.stdout)
    assert as_json.returncode == 0, as_json.stderr
    assert info["classes"] > 100
    assert "classes" in text.stdout


@pytest.mark.slow
def test_mapper_train_and_use(cli, shared_data: Path, tmp_path: Path) -> None:
    feeds = [str(shared_data / "nvd" / f"nvdcve-1.1-{year}.json.gz") for year in (2002, 2003)]
    exclude = tmp_path / "bench.tsv"
    exclude.write_text(
        "URL\tDescription\n"
        "https://nvd.nist.gov/vuln/detail/CVE-2002-0001\tA benchmark description that training must not see.\n",
        encoding="utf-8",
    )
    out = tmp_path / "model"
    trained = cli("mapper", "train", "--nvd", *feeds, "--exclude", str(exclude), "--out", str(out), "--json")
    report = json.loads(trained.stdout)
    assert trained.returncode == 0, trained.stderr
    assert report["inputs"] == feeds
    assert report["mapper"]["excluded_ids_requested"] == 1
    assert report["records"]["labelled"] > 500

    mapped = cli("map", "--model", str(out), "--json", "SQL injection in login.php via the id parameter.")
    info = cli("mapper", "info", "--model", str(out), "--json")
    assert mapped.returncode == 0, mapped.stderr
    assert json.loads(info.stdout)["path"] == str(out)

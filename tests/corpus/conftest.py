"""Fixtures for corpus tests: a small real build with planted benchmark copies."""

from __future__ import annotations

import copy
import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# CTIBench rows copied into the sources on purpose; the build must remove them.
PLANTED_RCM_ROW = 5          # cti-rcm.tsv row copied into a user JSONL file
PLANTED_RCM_2021_ROW = 1     # cti-rcm-2021.tsv row copied into an NVD feed with its CVE ID
PLANTED_TEXT_ONLY_ROW = 7    # cti-rcm-2021.tsv row copied under an unrelated CVE ID


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _run_ctiforge(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CTIFORGE_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "ctiforge", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def _nvd_item(template: dict, cve_id: str, description: str, cwe: str = "CWE-79") -> dict:
    item = copy.deepcopy(template)
    item["cve"]["CVE_data_meta"]["ID"] = cve_id
    item["cve"]["description"]["description_data"] = [{"lang": "en", "value": description}]
    item["cve"]["problemtype"]["problemtype_data"] = [{"description": [{"lang": "en", "value": cwe}]}]
    return item


@pytest.fixture(scope="module")
def planted_sources(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A user JSONL file and an NVD 1.1 feed that contain real CTIBench items, plus clean examples."""
    folder = tmp_path_factory.mktemp("planted")
    rcm = _read_rows(shared_data / "cti-bench" / "cti-rcm.tsv")
    rcm_2021 = _read_rows(shared_data / "cti-bench" / "cti-rcm-2021.tsv")
    copied = rcm[PLANTED_RCM_ROW - 1]
    user = folder / "user.jsonl"
    user.write_text(
        json.dumps({"prompt": copied["Prompt"], "response": f"Mapped.\n\n{copied['GT']}"}) + "\n"
        + json.dumps({"messages": [
            {"role": "user", "content": "Which port does HTTPS use by default?"},
            {"role": "assistant", "content": "443"},
        ]}) + "\n",
        encoding="utf-8",
    )
    with gzip.open(shared_data / "nvd" / "nvdcve-1.1-2002.json.gz", "rt", encoding="utf-8") as handle:
        feed = json.load(handle)
    template = feed["CVE_Items"][0]
    with_id = rcm_2021[PLANTED_RCM_2021_ROW - 1]
    text_only = rcm_2021[PLANTED_TEXT_ONLY_ROW - 1]
    with_id_cve = with_id["URL"].rsplit("/", 1)[-1]
    planted_feed = {**{k: v for k, v in feed.items() if k != "CVE_Items"}, "CVE_Items": [
        # CWE-79 may be used for mapping, so both would become records without decontamination.
        _nvd_item(template, with_id_cve, "A different text that shares nothing with the benchmark item at all."),
        _nvd_item(template, "CVE-2002-99999", text_only["Description"]),
    ]}
    feed_path = folder / "planted-nvd.json"
    feed_path.write_text(json.dumps(planted_feed), encoding="utf-8")
    return {"user": user, "feed": feed_path, "with_id_cve": with_id_cve, "text_only_cve": "CVE-2002-99999",
            "rcm_row": PLANTED_RCM_ROW}


@pytest.fixture(scope="module")
def small_config(shared_data: Path, planted_sources: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config over the 2002 NVD feed, the planted files, the shipped catalog and ATT&CK."""
    folder = tmp_path_factory.mktemp("config")
    config = {
        "seed": 7,
        "sources": {
            "cve": {"paths": [str(shared_data / "nvd" / "nvdcve-1.1-2002.json.gz"), str(planted_sources["feed"])]},
            "attack": str(shared_data / "attack" / "enterprise-attack-v18.1.json.gz"),
            "user": [str(planted_sources["user"])],
        },
        "records": {"capec_questions": {"enabled": False}, "cvss": {"enabled": True, "max_records": 200}},
        "decontamination": {"ctibench_dir": str(shared_data / "cti-bench")},
    }
    path = folder / "corpus.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is valid YAML
    return path


@pytest.fixture(scope="module")
def small_build(small_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of one real `ctiforge corpus build` run."""
    out = tmp_path_factory.mktemp("build") / "corpus"
    result = _run_ctiforge("corpus", "build", "--config", str(small_config), "--out", str(out),
                          home=tmp_path_factory.mktemp("home"))
    assert result.returncode == 0, result.stderr
    return out


def _load_corpus(out: Path) -> list[dict]:
    with (out / "corpus.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


# Test files import nothing from this conftest (pytest runs in importlib mode),
# so the helpers reach them as fixtures.
@pytest.fixture
def read_rows():
    """`read_rows(path)`: the rows of a TSV file as dicts."""
    return _read_rows


@pytest.fixture
def run_ctiforge():
    """`run_ctiforge(*args, home=...)`: run the real CLI with CTIFORGE_HOME set to `home`."""
    return _run_ctiforge


@pytest.fixture
def load_corpus():
    """`load_corpus(out)`: the records of `out/corpus.jsonl`."""
    return _load_corpus

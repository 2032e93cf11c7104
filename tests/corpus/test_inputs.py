"""Where the example config looks for its inputs, path overrides with globs, and warnings for empty sources."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from ctiforge.corpus import load_config

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO_ROOT / "configs" / "corpus.yaml"


@pytest.fixture
def data_layout(shared_data: Path, tmp_path: Path) -> Path:
    """A data folder in the layout the example config documents, with one NVD feed to keep the build short."""
    data = tmp_path / "data"
    (data / "nvd").mkdir(parents=True)
    (data / "nvd" / "nvdcve-1.1-2002.json.gz").symlink_to(shared_data / "nvd" / "nvdcve-1.1-2002.json.gz")
    (data / "attack").symlink_to(shared_data / "attack", target_is_directory=True)
    (data / "cti-bench").symlink_to(shared_data / "cti-bench", target_is_directory=True)
    return data


@pytest.mark.slow
def test_example_config_default_layout(cli, data_layout: Path, tmp_path: Path) -> None:
    # A copy of configs/ beside data/ is the repository layout the config's header describes.
    configs = tmp_path / "configs"
    configs.mkdir()
    shutil.copy(EXAMPLE_CONFIG, configs / "corpus.yaml")
    result = cli("corpus", "build", "--config", str(configs / "corpus.yaml"), "--out", str(tmp_path / "out"),
                 "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)["records"]
    assert records["by_source"]["nvd"] > 0
    assert records["by_source"]["attack"] > 0
    assert records["by_source"]["capec"] > 0


def test_example_config_data_dir_override(data_layout: Path) -> None:
    config = load_config(EXAMPLE_CONFIG, [f"data_dir={data_layout}"])
    assert config.sources.cve.paths == [str(data_layout / "nvd" / "nvdcve-1.1-*.json.gz")]
    assert config.sources.attack == str(data_layout / "attack" / "enterprise-attack-v18.1.json.gz")
    assert config.sources.capec == str(data_layout / "attack" / "capec-2.1.json.gz")
    assert config.decontamination.ctibench_dir == str(data_layout / "cti-bench")


def test_data_dir_relative_override_uses_cwd(data_layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(data_layout.parent)
    config = load_config(EXAMPLE_CONFIG, ["data_dir=data"])
    assert config.decontamination.ctibench_dir == str(data_layout / "cti-bench")


def test_example_config_default_data_dir() -> None:
    config = load_config(EXAMPLE_CONFIG, [])
    assert config.data_dir == str(REPO_ROOT / "data")


def test_path_override_glob_list() -> None:
    config = load_config(EXAMPLE_CONFIG, ["sources.cve.paths=[/data/nvd/nvdcve-1.1-*.json.gz, /data/extra/feed-?.json]"])
    assert config.sources.cve.paths == ["/data/nvd/nvdcve-1.1-*.json.gz", "/data/extra/feed-?.json"]


def test_path_override_leading_star(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(EXAMPLE_CONFIG, ["sources.user=*.jsonl"])
    assert config.sources.user == [str(tmp_path / "*.jsonl")]


@pytest.mark.slow
def test_example_config_path_overrides(cli, shared_data: Path, tmp_path: Path) -> None:
    # The override form from the config's header, with a glob inside the list value.
    result = cli("corpus", "build", "--config", str(EXAMPLE_CONFIG), "--out", str(tmp_path / "out"), "--json",
                 f"sources.cve.paths=[{shared_data / 'nvd'}/nvdcve-1.1-2002.json.g?]",
                 f"sources.attack={shared_data / 'attack' / 'enterprise-attack-v18.1.json.gz'}",
                 f"sources.capec={shared_data / 'attack' / 'capec-2.1.json.gz'}",
                 f"decontamination.ctibench_dir={shared_data / 'cti-bench'}",
                 "records.attack_questions.enabled=false", "records.capec_questions.enabled=false")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["skipped"]["cve"]["read"] > 6000


def test_missing_inputs_name_data_dir(cli, tmp_path: Path) -> None:
    result = cli("corpus", "build", "--config", str(EXAMPLE_CONFIG), "--out", str(tmp_path / "out"),
                 f"data_dir={tmp_path / 'nowhere'}")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"resolve against data_dir {tmp_path / 'nowhere'}" in result.stderr


def _feed(shared_data: Path, path: Path, *, keep) -> Path:
    with gzip.open(shared_data / "nvd" / "nvdcve-1.1-2002.json.gz", "rt", encoding="utf-8") as handle:
        feed = json.load(handle)
    feed["CVE_Items"] = [item for item in feed["CVE_Items"] if keep(item)][:20]
    path.write_text(json.dumps(feed), encoding="utf-8")
    return path


def _without_cwe(item: dict) -> bool:
    labels = [d["value"] for p in item["cve"]["problemtype"]["problemtype_data"] for d in p["description"]]
    return bool(labels) and all(label.startswith("NVD-CWE-") for label in labels)


def test_build_warns_empty_cve_source(cli, shared_data: Path, tmp_path: Path) -> None:
    unlabelled = _feed(shared_data, tmp_path / "unlabelled.json", keep=_without_cwe)
    empty = _feed(shared_data, tmp_path / "empty.json", keep=lambda item: False)
    result = cli("corpus", "build", "--out", str(tmp_path / "out"),
                 f"sources.cve.paths=[{unlabelled}, {empty}]",
                 f"decontamination.ctibench_dir={shared_data / 'cti-bench'}",
                 "records.cwe_questions.kinds=[definition]")
    assert result.returncode == 0, result.stderr
    assert "CVE source gave no training records: 20 CVE records read from 2 file(s)" in result.stderr
    assert "no specific CWE label 20" in result.stderr
    assert f"CVE source file {empty} contains no readable CVE record" in result.stderr
    assert "skipped (cve): 20 of 20 records read: no specific CWE label 20" in result.stderr

"""Importing the published CyberSecQwen run, re-scoring it, and `ctiforge compare`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REFERENCE = "reference-runs/cybersecqwen-4b-multi-trial-5x.json"


@pytest.fixture(scope="module")
def reference_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ctiforge.evaluate import import_reference_run, rescore_run

    out = tmp_path_factory.mktemp("reference") / "cybersecqwen"
    import_reference_run(shared_data / REFERENCE, out=out, data_dir=shared_data / "cti-bench")
    rescore_run(out, data_dir=shared_data / "cti-bench", plots=False)
    return out


@pytest.mark.slow
def test_reference_rcm_last_trial(reference_run):
    report = json.loads((reference_run / "report.json").read_text())
    assert report["tasks"]["cti-rcm"]["summary"]["strict"]["mean"] == pytest.approx(0.667)


@pytest.mark.slow
def test_reference_mcq_last_trial(reference_run):
    report = json.loads((reference_run / "report.json").read_text())
    assert report["tasks"]["cti-mcq"]["summary"]["strict"]["mean"] == pytest.approx(0.5908)


@pytest.mark.slow
def test_reference_keeps_published_trials(reference_run):
    run = json.loads((reference_run / "run.json").read_text())
    assert run["published"]["cti-rcm"]["trial_accuracies"] == [0.664, 0.664, 0.668, 0.669, 0.667]


@pytest.mark.slow
def test_reference_protocol_label(reference_run):
    report = json.loads((reference_run / "report.json").read_text())
    assert report["protocol_label"] == "foundation-sec-ift"


@pytest.mark.slow
def test_reference_catalog_check(reference_run):
    check = json.loads((reference_run / "report.json").read_text())["tasks"]["cti-rcm"]["catalog_check"]
    assert check["predictions"] == 1000
    assert check["prohibited_ids"] == {"CWE-399": 1}


@pytest.mark.slow
def test_import_reference_cli(cli, shared_data, tmp_path):
    out = tmp_path / "imported"
    result = cli("eval", "import-reference", str(shared_data / REFERENCE), "--out", str(out),
                 "--data-dir", str(shared_data / "cti-bench"), "--json", "--no-plots")
    assert result.returncode == 0, result.stderr
    rows = {(row["task"], row["rule"]): row["mean"] for row in json.loads(result.stdout)["results"]}
    assert rows[("cti-rcm", "strict")] == pytest.approx(0.667)
    assert rows[("cti-mcq", "strict")] == pytest.approx(0.5908)


def test_import_reference_rejects_existing_run(cli, shared_data, tmp_path):
    out = tmp_path / "imported"
    out.mkdir()
    (out / "run.json").write_text("{}")
    result = cli("eval", "import-reference", str(shared_data / REFERENCE), "--out", str(out),
                 "--data-dir", str(shared_data / "cti-bench"))
    assert result.returncode == 2
    assert "already contains a run" in result.stderr


def test_compare_matches_published_protocol(cli, reference_run, gold_server, ctibench_dir, tmp_path):
    custom = tmp_path / "custom"
    run = cli("eval", "--model", "scripted-model", "--base-url", gold_server.base_url, "--data-dir", str(ctibench_dir),
              "--run-dir", str(custom), "--tasks", "cti-rcm", "--limit", "30", "--trials", "1", "--no-progress",
              "--no-plots")
    result = cli("compare", str(reference_run), str(custom), "--json")
    payload = json.loads(result.stdout)
    matched = {(row["run"], row["task"], row["published_model"]) for row in payload["published_matching"]}
    unmatched = {(row["run"], row["task"]) for row in payload["unmatched_runs"]}
    paired = payload["paired"][0]
    assert run.returncode == 0, run.stderr
    assert result.returncode == 0, result.stderr
    assert ("cybersecqwen", "cti-rcm", "CyberSecQwen-4B") in matched
    assert ("custom", "cti-rcm") in unmatched
    assert all(row["run"] != "custom" for row in payload["published_matching"])
    assert paired["task"] == "cti-rcm"
    assert paired["items"] == 30
    assert paired["test"] == "mcnemar-exact"
    assert 0.0 <= paired["p_value"] <= 1.0


def test_compare_table_output(cli, reference_run):
    result = cli("compare", str(reference_run), str(reference_run))
    assert result.returncode == 0, result.stderr
    assert "Side by side (strict rule)" in result.stdout
    assert "Published numbers, by protocol" in result.stdout
    assert "cybersecqwen#2" in result.stdout


def test_compare_not_a_run_directory(cli, tmp_path):
    result = cli("compare", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path} is not a run directory: no report.json or run.json found" in result.stderr
    assert "ctiforge eval report" not in result.stderr
    assert "--run-dir RUN_DIR" in result.stderr


def test_compare_unscored_run_advice_works(cli, gold_server, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    cli("eval", "--model", "scripted-model", "--base-url", gold_server.base_url, "--data-dir", str(ctibench_dir),
        "--run-dir", str(run_dir), "--tasks", "cti-rcm", "--limit", "3", "--trials", "1", "--no-progress",
        "--no-plots")
    (run_dir / "report.json").unlink()
    compared = cli("compare", str(run_dir))
    rescored = cli("eval", "report", str(run_dir), "--data-dir", str(ctibench_dir), "--no-plots")
    assert compared.returncode == 2
    assert f"run `ctiforge eval report {run_dir}`" in compared.stderr
    assert rescored.returncode == 0, rescored.stderr
    assert (run_dir / "report.json").is_file()


def test_compare_subset_not_next_to_published(cli, gold_server, ctibench_dir, tmp_path):
    run_dir = tmp_path / "limited"
    # Default settings are the foundation-sec-ift protocol, which has published numbers.
    run = cli("eval", "--model", "scripted-model", "--base-url", gold_server.base_url, "--data-dir", str(ctibench_dir),
              "--run-dir", str(run_dir), "--tasks", "cti-rcm", "--limit", "4", "--no-progress", "--no-plots")
    as_json = cli("compare", str(run_dir), "--json")
    as_text = cli("compare", str(run_dir))
    payload = json.loads(as_json.stdout)
    assert run.returncode == 0, run.stderr
    assert payload["side_by_side"][0]["protocol_label"] == "foundation-sec-ift"
    assert payload["published_matching"] == []
    assert payload["unmatched_runs"][0]["reason"] == "subset: 4 of 1000 items, not comparable"
    assert payload["side_by_side"][0]["subset"] == "subset: 4 of 1000 items, not comparable"
    assert "subset: 4 of 1000 items, not comparable" in as_text.stdout


@pytest.mark.slow
def test_compare_full_reference_is_matched(cli, reference_run):
    payload = json.loads(cli("compare", str(reference_run), "--json").stdout)
    matched = {(row["task"], row["published_model"]) for row in payload["published_matching"]}
    assert ("cti-rcm", "CyberSecQwen-4B") in matched
    assert ("cti-mcq", "Foundation-Sec-8B-Instruct") in matched

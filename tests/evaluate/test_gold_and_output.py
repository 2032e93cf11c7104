"""`ctiforge eval` on tasks without an answer column, empty parses, and progress output."""

from __future__ import annotations

import csv
import json
import shutil
import warnings
from pathlib import Path

import pytest

from ctiforge.benchmarks import get_task
from ctiforge.evaluate._settings import ALL_TASKS
from ctiforge.evaluate._stats import bootstrap_interval, metric_from_rows
from ctiforge.testing.openai_server import ScriptedOpenAIServer, prompt_of

NO_GOLD = "no gold answers (put responses/cti-taa-responses.tsv with a GT column in --data-dir)"


def _eval_args(server_url: str, data_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["eval", "--model", "scripted-model", "--base-url", server_url, "--data-dir", str(data_dir),
            "--run-dir", str(run_dir), "--no-plots", *extra]


def _report(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


def _stored_lines(run_dir: Path, task: str) -> int:
    lines = (run_dir / "responses.jsonl").read_text().splitlines()
    return sum(1 for line in lines if json.loads(line)["task"] == task)


@pytest.fixture(scope="module")
def taa_gold_by_prompt(ctibench_dir: Path) -> dict[str, str]:
    """Prompt of every cti-taa item -> the gold actor from the GT column of the published responses file."""
    with (ctibench_dir / "responses" / "cti-taa-responses.tsv").open(encoding="utf-8", newline="") as handle:
        golds = [row["GT"].strip() for row in csv.DictReader(handle, delimiter="\t")]
    items = get_task("cti-taa").load(ctibench_dir)
    return {item.prompt.strip(): gold for item, gold in zip(items, golds, strict=True)}


@pytest.fixture
def dataset_only_dir(ctibench_dir: Path, tmp_path: Path) -> Path:
    """A copy of the six CTIBench TSVs without the responses folder."""
    folder = tmp_path / "cti-bench"
    folder.mkdir()
    for name in ALL_TASKS:
        shutil.copy(ctibench_dir / f"{name}.tsv", folder)
    return folder


def test_taa_gold_from_responses_file(cli, ctibench_dir, taa_gold_by_prompt, tmp_path):
    run_dir = tmp_path / "run"
    with ScriptedOpenAIServer(lambda body: taa_gold_by_prompt.get(prompt_of(body), "APT1")) as server:
        result = cli(*_eval_args(server.base_url, ctibench_dir, run_dir, "--tasks", "cti-taa", "--limit", "6",
                                 "--trials", "1"))
    assert result.returncode == 0, result.stderr
    entry = _report(run_dir)["tasks"]["cti-taa"]
    assert entry["not_scored"] is None
    assert entry["summary"]["strict"]["mean"] == 1.0
    assert entry["items"][0]["gold"] == taa_gold_by_prompt[get_task("cti-taa").load(ctibench_dir)[0].prompt.strip()]


def test_taa_without_gold_writes_report(cli, gold_server, dataset_only_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = cli(*_eval_args(gold_server.base_url, dataset_only_dir, run_dir, "--tasks", "all", "--limit", "2",
                             "--trials", "1"))
    report = _report(run_dir)
    assert result.returncode == 0, result.stderr
    assert report["tasks"]["cti-taa"]["not_scored"] == NO_GOLD
    assert report["tasks"]["cti-taa"]["summary"] == {}
    assert report["tasks"]["cti-taa"]["items"][0]["trials"][0]["text"]
    assert report["tasks"]["cti-rcm"]["summary"]["strict"]["mean"] == 1.0
    assert f"not scored: {NO_GOLD}" in result.stdout
    assert f"not scored: {NO_GOLD}" in (run_dir / "report.md").read_text()
    assert _stored_lines(run_dir, "cti-taa") == 2


def test_taa_without_gold_resume_and_compare(cli, gold_server, dataset_only_dir, tmp_path):
    run_dir = tmp_path / "run"
    first = cli(*_eval_args(gold_server.base_url, dataset_only_dir, run_dir, "--tasks", "cti-taa", "--limit", "3",
                            "--trials", "1"))
    sent = gold_server.total_requests
    resumed = cli("eval", "--resume", str(run_dir), "--data-dir", str(dataset_only_dir), "--no-plots")
    compared = cli("compare", str(run_dir))
    assert first.returncode == 0, first.stderr
    assert resumed.returncode == 0, resumed.stderr
    assert gold_server.total_requests == sent
    assert "3 reused" in resumed.stderr
    assert _stored_lines(run_dir, "cti-taa") == 3
    assert compared.returncode == 0, compared.stderr
    assert f"not scored: {NO_GOLD}" in compared.stdout


def test_taa_gold_row_count_mismatch(cli, gold_server, dataset_only_dir, tmp_path):
    (dataset_only_dir / "responses").mkdir()
    (dataset_only_dir / "responses" / "cti-taa-responses.tsv").write_text("GT\tmodel\nAPT28\tX\nAPT29\tX\n")
    result = cli(*_eval_args(gold_server.base_url, dataset_only_dir, tmp_path / "run", "--tasks", "cti-taa",
                             "--limit", "2", "--trials", "1"))
    assert result.returncode == 2
    assert "cti-taa-responses.tsv: 2 rows but cti-taa has 50 items" in result.stderr
    assert "Traceback" not in result.stderr
    assert gold_server.total_requests == 0


def test_unparseable_responses_no_warning(cli, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    with ScriptedOpenAIServer(lambda body: "I cannot tell.\nSorry.") as server:
        result = cli(*_eval_args(server.base_url, ctibench_dir, run_dir, "--tasks", "cti-vsp,cti-rcm",
                                 "--limit", "3", "--trials", "2"))
    summary = _report(run_dir)["tasks"]["cti-vsp"]["summary"]["strict"]
    assert result.returncode == 0, result.stderr
    assert "RuntimeWarning" not in result.stderr
    assert summary["mean"] is None
    assert summary["ci95"] is None
    assert summary["parse_rate"] == 0.0


def test_bootstrap_all_nan_is_none():
    rows = [[{"abs_error": None}, {"abs_error": None}]] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        interval = bootstrap_interval(metric_from_rows("mad", rows), 2)
    assert interval is None


def test_progress_hidden_without_terminal(cli, gold_server, ctibench_dir, tmp_path):
    result = cli(*_eval_args(gold_server.base_url, ctibench_dir, tmp_path / "run", "--tasks", "cti-rcm",
                             "--limit", "3", "--trials", "1"))
    assert result.returncode == 0, result.stderr
    assert "req/s" not in result.stderr


def test_progress_flag_shows_bar(cli, gold_server, ctibench_dir, tmp_path):
    result = cli(*_eval_args(gold_server.base_url, ctibench_dir, tmp_path / "run", "--tasks", "cti-rcm",
                             "--limit", "3", "--trials", "1", "--progress"))
    assert result.returncode == 0, result.stderr
    assert "3/3" in result.stderr


def test_progress_default_in_help(cli):
    result = cli("eval", "--help")
    assert "only when stderr is a terminal" in " ".join(result.stdout.split())

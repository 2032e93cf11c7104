"""`ctiforge eval` end to end against the scripted server: reports, resume, kill, bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctiforge.benchmarks import get_task
from ctiforge.testing.openai_server import ScriptedOpenAIServer, request_key

from .conftest import mixed_answer  # noqa: F401  (importlib mode resolves the package-relative import)


def _eval_args(server_url: str, data_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["eval", "--model", "scripted-model", "--base-url", server_url, "--data-dir", str(data_dir),
            "--run-dir", str(run_dir), "--no-progress", "--no-plots", *extra]


def _summary(run_dir: Path) -> dict:
    report = json.loads((run_dir / "report.json").read_text())
    return {task: entry["summary"] for task, entry in report["tasks"].items()}


@pytest.mark.slow
def test_eval_writes_reports(cli, gold_server, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = cli(*_eval_args(gold_server.base_url, ctibench_dir, run_dir,
                             "--tasks", "cti-rcm,cti-mcq", "--limit", "40", "--trials", "2", "--plots"))
    assert result.returncode == 0, result.stderr
    summary = _summary(run_dir)
    assert summary["cti-rcm"]["strict"]["mean"] == 1.0
    assert summary["cti-mcq"]["strict"]["mean"] == 1.0
    assert (run_dir / "report.md").read_text().startswith("# Evaluation of scripted-model")
    assert (run_dir / "plots" / "cti-rcm-top-cwes.png").stat().st_size > 0
    assert (run_dir / "plots" / "cti-mcq-letters.png").stat().st_size > 0
    assert gold_server.total_requests == 160


def test_eval_rerun_sends_nothing(cli, gold_server, ctibench_dir, tmp_path):
    args = _eval_args(gold_server.base_url, ctibench_dir, tmp_path / "run", "--tasks", "cti-rcm", "--limit", "20")
    first = cli(*args)
    sent = gold_server.total_requests
    second = cli(*args)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert sent == 100
    assert gold_server.total_requests == sent
    assert "100 reused" in second.stderr


def test_eval_json_summary(cli, gold_server, ctibench_dir, tmp_path):
    result = cli(*_eval_args(gold_server.base_url, ctibench_dir, tmp_path / "run",
                             "--tasks", "cti-rcm", "--limit", "5", "--trials", "1", "--json"))
    payload = json.loads(result.stdout)
    assert payload["results"][0]["task"] == "cti-rcm"
    assert payload["results"][0]["mean"] == 1.0


def test_eval_base_protocol_uses_completions(cli, gold_server, ctibench_dir, tmp_path):
    gold_server.record_bodies = True
    result = cli(*_eval_args(gold_server.base_url, ctibench_dir, tmp_path / "run", "--tasks", "cti-mcq",
                             "--protocol", "base", "--limit", "4", "--trials", "1", "--temperature", "0"))
    bodies = gold_server.bodies
    assert result.returncode == 0, result.stderr
    assert len(bodies) == 4
    assert all("prompt" in body and "messages" not in body for body in bodies)
    assert all(body["stop"] for body in bodies)
    assert all(body["temperature"] == 0.0 for body in bodies)


def test_eval_api_key_not_stored(cli, gold_server, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("-vv", *_eval_args(gold_server.base_url, ctibench_dir, run_dir, "--tasks", "cti-rcm", "--limit", "3",
                                    "--trials", "1"), env={"CTIFORGE_API_KEY": "sk-do-not-store"})
    stored = "".join(path.read_text(errors="replace") for path in run_dir.rglob("*") if path.suffix in (".json", ".jsonl", ".md"))
    assert result.returncode == 0, result.stderr
    assert "sk-do-not-store" not in stored
    assert "sk-do-not-store" not in result.stderr


def _received_keys(run_dir: Path) -> set[tuple[str, int]]:
    received = set()
    for line in (run_dir / "responses.jsonl").read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("status") == "ok":
            received.add((record["item"], record["trial"]))
    return received


@pytest.mark.slow
def test_kill_and_resume(ctibench_dir, gold_by_prompt, tmp_path):
    task = get_task("cti-rcm")
    items = {item.item_id: item for item in task.load(ctibench_dir)[:60]}
    with ScriptedOpenAIServer(mixed_answer(gold_by_prompt), delay_s=0.02) as server:
        killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
        extra = ("--tasks", "cti-rcm", "--limit", "60", "--trials", "3", "--concurrency", "4")
        command = [sys.executable, "-m", "ctiforge", *_eval_args(server.base_url, ctibench_dir, killed_dir, *extra)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        deadline = time.monotonic() + 60
        while server.total_requests < 70 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        received_before = _received_keys(killed_dir)
        requests_before = server.total_requests

        resumed = subprocess.run(command, capture_output=True, text=True)
        for item_id, trial in received_before:
            prompt = task.build_prompt(items[item_id], protocol="ift")
            key = request_key({"messages": prompt.messages, "seed": trial})
            assert server.counts[key] == 1, f"{item_id} trial {trial} was requested again after it was received"

        clean = subprocess.run([sys.executable, "-m", "ctiforge",
                                *_eval_args(server.base_url, ctibench_dir, clean_dir, *extra)],
                               capture_output=True, text=True)
    assert 0 < len(received_before) < 180
    assert requests_before < 180
    assert resumed.returncode == 0, resumed.stderr
    assert clean.returncode == 0, clean.stderr
    assert _received_keys(killed_dir) == _received_keys(clean_dir)
    assert _summary(killed_dir) == _summary(clean_dir)
    assert 0.4 < _summary(clean_dir)["cti-rcm"]["strict"]["mean"] < 0.9


def test_torn_last_line_is_requested_again(cli, gold_server, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = _eval_args(gold_server.base_url, ctibench_dir, run_dir, "--tasks", "cti-rcm", "--limit", "5", "--trials", "1")
    assert cli(*args).returncode == 0
    responses = run_dir / "responses.jsonl"
    lines = responses.read_bytes().splitlines(keepends=True)
    responses.write_bytes(b"".join(lines[:-1]) + lines[-1][:25])
    before = gold_server.total_requests
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert gold_server.total_requests == before + 1
    assert _summary(run_dir)["cti-rcm"]["strict"]["mean"] == 1.0
    assert responses.read_bytes().startswith(b"".join(lines[:-1]))


def test_different_config_is_rejected(cli, gold_server, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = _eval_args(gold_server.base_url, ctibench_dir, run_dir, "--tasks", "cti-rcm", "--limit", "3", "--trials", "1")
    assert cli(*args).returncode == 0
    stored = (run_dir / "responses.jsonl").read_bytes()
    result = cli(*args, "--temperature", "0.7", "--max-tokens", "64")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 2  # the "run directory" line and the error line
    assert "--temperature is 0.3 there but 0.7 now" in result.stderr
    assert "--max-tokens is 512 there but 64 now" in result.stderr
    assert "new --run-dir" in result.stderr
    assert (run_dir / "responses.jsonl").read_bytes() == stored


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_keeps_stored(cli, gold_server, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    assert cli(*_eval_args(gold_server.base_url, ctibench_dir, run_dir, "--tasks", "cti-rcm", "--limit", "3",
                           "--trials", "1")).returncode == 0
    stored = (run_dir / "responses.jsonl").read_bytes()
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    result = cli(*_eval_args(url, ctibench_dir, run_dir, "--tasks", "cti-rcm", "--limit", "4", "--trials", "1"))
    assert result.returncode == 2
    assert f"cannot reach the server at --base-url {url}" in result.stderr
    assert "Traceback" not in result.stderr
    assert (run_dir / "responses.jsonl").read_bytes() == stored


def test_wrong_model_is_one_line(cli, gold_server, ctibench_dir, tmp_path):
    args = _eval_args(gold_server.base_url, ctibench_dir, tmp_path / "run", "--tasks", "cti-rcm", "--limit", "3")
    typo = list(args)
    typo[typo.index("scripted-model")] = "qwen-typo"
    result = cli(*typo)
    fixed = cli(*args)
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2
    assert len(error_lines) == 1
    assert "model 'qwen-typo' not found" in error_lines[0]
    assert "the server lists: scripted-model" in error_lines[0]
    assert fixed.returncode == 0, fixed.stderr


def test_non_json_server_is_one_line(cli, ctibench_dir, tmp_path):
    with ScriptedOpenAIServer(faults=lambda key, nth: "nonjson") as server:
        result = cli(*_eval_args(server.base_url, ctibench_dir, tmp_path / "run", "--tasks", "cti-rcm", "--limit", "3"))
    assert result.returncode == 2
    assert "returned a non-JSON response" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_completions_are_one_line(cli, ctibench_dir, tmp_path):
    run_dir = tmp_path / "run"
    with ScriptedOpenAIServer(faults=lambda key, nth: "empty" if key != "/v1/models" else None) as server:
        result = cli(*_eval_args(server.base_url, ctibench_dir, run_dir, "--tasks", "cti-rcm", "--limit", "3",
                                 "--trials", "1"))
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2
    assert len(error_lines) == 1
    assert "empty completion" in error_lines[0]
    assert "--max-tokens" in error_lines[0]
    assert len((run_dir / "responses.jsonl").read_text().splitlines()) == 3


def test_wrong_tsv_columns(cli, gold_server, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "cti-rcm.tsv").write_text("Question\tAnswer\nwhat\tCWE-79\n")
    result = cli(*_eval_args(gold_server.base_url, data_dir, tmp_path / "run", "--tasks", "cti-rcm"))
    assert result.returncode == 2
    assert "cti-rcm.tsv" in result.stderr
    assert "URL, Description, Prompt, GT" in result.stderr


def test_unknown_task(cli, gold_server, ctibench_dir, tmp_path):
    result = cli(*_eval_args(gold_server.base_url, ctibench_dir, tmp_path / "run", "--tasks", "cti-foo"))
    assert result.returncode == 2
    assert "unknown task(s) cti-foo" in result.stderr


def test_missing_data_dir(cli, gold_server, tmp_path):
    result = cli("eval", "--model", "scripted-model", "--base-url", gold_server.base_url, "--run-dir",
                 str(tmp_path / "run"), env={"CTIFORGE_CTIBENCH_DIR": ""})
    assert result.returncode == 2
    assert "--data-dir" in result.stderr

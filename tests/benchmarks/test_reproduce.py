"""Reproduce published figures: the CTIBench paper's table and two third-party reference runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctiforge.benchmarks import get_task, read_responses

# Figures measured on qwen3-4b-instruct-2507-baseline.json and documented in docs/scoring.md.
SHAPED_COUNT = 1011
SHAPED_STRICT_CORRECT = 318
SHAPED_LENIENT_CORRECT = 695
BASELINE_LENIENT_ACCURACY = 0.618

# (task, model, metric, published value); rates in percent, MAD in CVSS points.
PUBLISHED = [
    ("cti-mcq", "ChatGPT-4", "accuracy", 71.0),
    ("cti-rcm", "ChatGPT-4", "accuracy", 72.0),
    ("cti-vsp", "ChatGPT-4", "mad", 1.31),
    ("cti-taa", "ChatGPT-4", "correct", 52.0),
    ("cti-taa", "ChatGPT-4", "plausible", 86.0),
    ("cti-mcq", "ChatGPT-3.5", "accuracy", 54.1),
    ("cti-rcm", "ChatGPT-3.5", "accuracy", 67.2),
    ("cti-vsp", "ChatGPT-3.5", "mad", 1.57),
    ("cti-mcq", "Gemini-1.5", "accuracy", 65.4),
    ("cti-rcm", "Gemini-1.5", "accuracy_parseable", 66.6),
    ("cti-rcm", "Gemini-1.5", "accuracy", 61.5),
    ("cti-vsp", "Gemini-1.5", "mad", 1.09),
    ("cti-mcq", "LLAMA3-70B", "accuracy", 65.8),
    ("cti-rcm", "LLAMA3-70B", "accuracy", 65.9),
    ("cti-vsp", "LLAMA3-70B", "mad", 1.83),
    ("cti-mcq", "LLAMA3-8B", "accuracy", 61.3),
    ("cti-rcm", "LLAMA3-8B", "accuracy", 44.7),
    ("cti-vsp", "LLAMA3-8B", "mad", 1.91),
]


@pytest.mark.parametrize(("task_name", "model", "metric", "published"), PUBLISHED)
def test_ctibench_published(responses_dir: Path, task_name: str, model: str, metric: str, published: float) -> None:
    task = get_task(task_name)
    (response_set,) = read_responses(responses_dir / f"{task_name}-responses.tsv", task, column=model)
    value = task.score(response_set.items, response_set.responses, "ctibench").metrics[metric]
    measured = value if metric == "mad" else 100 * value
    # Published figures are rounded to one decimal (rates) or two (MAD).
    tolerance = 0.005 if metric == "mad" else 0.05
    assert measured == pytest.approx(published, abs=tolerance)


def test_taa_strict_drops_nan_link(responses_dir: Path) -> None:
    task = get_task("cti-taa")
    (response_set,) = read_responses(responses_dir / "cti-taa-responses.tsv", task, column="ChatGPT-4")
    metrics = task.score(response_set.items, response_set.responses, "strict").metrics
    assert metrics["plausible"] == pytest.approx(0.84)
    assert metrics["correct"] == pytest.approx(0.52)


def _last_trial(run: dict, task_name: str) -> list[dict]:
    return run["subsets"][task_name]["trials"][-1]["predictions"]


@pytest.mark.parametrize("task_name", ["cti-rcm", "cti-mcq"])
@pytest.mark.parametrize("run_name", ["cybersecqwen_run", "qwen_baseline_run"])
def test_reference_parsed_equals_pred(request: pytest.FixtureRequest, run_name: str, task_name: str) -> None:
    run = request.getfixturevalue(run_name)
    task = get_task(task_name)
    compared = 0
    for record in _last_trial(run, task_name):
        if len(record["pred_raw"]) >= 1000:
            # The published outputs are cut at 1,000 characters, so the final answer may be gone.
            continue
        parsed = task.parse(record["pred_raw"], "strict")
        assert parsed.value == record["pred"], f"idx {record['idx']}: {record['pred_raw'][-120:]!r}"
        compared += 1
    assert compared > 0.8 * len(_last_trial(run, task_name))


@pytest.mark.parametrize(("task_name", "expected"), [("cti-rcm", 0.667), ("cti-mcq", 0.5908)])
def test_reference_totals(cybersecqwen_run: dict, task_name: str, expected: float) -> None:
    task = get_task(task_name)
    records = _last_trial(cybersecqwen_run, task_name)
    correct = 0
    for record in records:
        if len(record["pred_raw"]) >= 1000:
            # A cut output keeps the run's own verdict.
            correct += bool(record["correct"])
        else:
            correct += task.parse(record["pred_raw"], "strict").value == record["gold"]
    assert correct / len(records) == pytest.approx(expected, abs=1e-9)
    assert cybersecqwen_run["subsets"][task_name]["trials"][-1]["accuracy_total"] == pytest.approx(expected)


def test_reference_run_file_scores(reference_runs: Path) -> None:
    # Scoring the file as a whole: cut outputs count as they parse (mostly unparseable).
    task = get_task("cti-mcq")
    (response_set,) = read_responses(reference_runs / "cybersecqwen-4b-multi-trial-5x.json", task)
    strict = task.score(response_set.items, response_set.responses, "strict").metrics
    lenient = task.score(response_set.items, response_set.responses, "lenient").metrics
    assert strict["accuracy"] == pytest.approx(0.5684)
    assert lenient["accuracy"] == pytest.approx(0.5876)


def test_baseline_strict_accuracy(qwen_baseline_run: dict) -> None:
    task = get_task("cti-mcq")
    records = _last_trial(qwen_baseline_run, "cti-mcq")
    correct = sum(
        bool(record["correct"]) if len(record["pred_raw"]) >= 1000
        else task.parse(record["pred_raw"], "strict").value == record["gold"]
        for record in records
    )
    assert correct / len(records) == pytest.approx(qwen_baseline_run["subsets"]["cti-mcq"]["mean_accuracy"])


def test_baseline_letter_newline_letter(qwen_baseline_run: dict) -> None:
    task = get_task("cti-mcq")
    records = _last_trial(qwen_baseline_run, "cti-mcq")
    shaped = [record for record in records if task.parse(record["pred_raw"], "lenient").step == "first_line_letter"]
    strict_correct = sum(task.parse(record["pred_raw"], "strict").value == record["gold"] for record in shaped)
    lenient_correct = sum(task.parse(record["pred_raw"], "lenient").value == record["gold"] for record in shaped)
    assert len(shaped) == SHAPED_COUNT
    assert strict_correct == SHAPED_STRICT_CORRECT
    assert lenient_correct == SHAPED_LENIENT_CORRECT


def test_baseline_lenient_accuracy(qwen_baseline_run: dict) -> None:
    task = get_task("cti-mcq")
    records = _last_trial(qwen_baseline_run, "cti-mcq")
    result = task.score(
        task.items_from_gold([record["gold"] for record in records]),
        [record["pred_raw"] for record in records],
        "lenient",
    )
    assert result.metrics["accuracy"] == pytest.approx(BASELINE_LENIENT_ACCURACY)

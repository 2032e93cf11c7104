"""Fixtures for the evaluation tests: CTIBench items and a scripted OpenAI-compatible server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ctiforge.benchmarks import get_task
from ctiforge.testing.openai_server import ScriptedOpenAIServer, prompt_of


@pytest.fixture(scope="session")
def ctibench_dir(shared_data: Path) -> Path:
    return shared_data / "cti-bench"


@pytest.fixture(scope="session")
def rcm_items(ctibench_dir: Path) -> list:
    return get_task("cti-rcm").load(ctibench_dir)


@pytest.fixture(scope="session")
def gold_by_prompt(ctibench_dir: Path) -> dict[str, str]:
    """Prompt text of every cti-rcm and cti-mcq item -> its gold answer."""
    answers = {}
    for name in ("cti-rcm", "cti-mcq"):
        task = get_task(name)
        for item in task.load(ctibench_dir):
            answers[task.build_prompt(item, protocol="ift").messages[-1]["content"]] = str(item.gold)
    return answers


def mixed_answer(gold_by_prompt: dict[str, str]):
    """Build a responder that answers gold for about two thirds of (prompt, seed) pairs, deterministically."""

    def respond(body: dict) -> str:
        prompt = prompt_of(body)
        gold = gold_by_prompt.get(prompt, "CWE-79")
        digest = hashlib.sha256(f"{prompt}|{body.get('seed')}".encode()).digest()[0]
        if digest % 3 == 0 and gold.startswith("CWE"):
            gold = "CWE-20"
        elif digest % 3 == 0:
            gold = "B" if gold == "A" else "A"
        return f"Reasoning about the description.\n\n{gold}"

    return respond


@pytest.fixture
def gold_server(gold_by_prompt):
    """A scripted server that answers every RCM and MCQ prompt with its gold answer."""
    with ScriptedOpenAIServer(lambda body: f"Because.\n\n{gold_by_prompt.get(prompt_of(body), 'CWE-79')}") as server:
        yield server


@pytest.fixture
def mixed_server(gold_by_prompt):
    """A scripted server whose answers are right for about two thirds of the prompts."""
    with ScriptedOpenAIServer(mixed_answer(gold_by_prompt)) as server:
        yield server

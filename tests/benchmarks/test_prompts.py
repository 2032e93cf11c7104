"""Prompt building for the ift and base protocols."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctiforge.benchmarks import TASK_NAMES, Item, get_task
from ctiforge.errors import ConfigError


@pytest.fixture(scope="module")
def loaded(cti_bench: Path) -> dict[str, list[Item]]:
    return {name: get_task(name).load(cti_bench) for name in TASK_NAMES}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_ift_prompt_is_dataset_prompt(loaded: dict[str, list[Item]], name: str) -> None:
    item = loaded[name][0]
    prompt = get_task(name).build_prompt(item, protocol="ift")
    assert prompt.messages == [{"role": "user", "content": item.prompt.strip()}]
    assert prompt.text == item.prompt.strip()
    assert prompt.stop == []
    assert prompt.exemplar_ids == []


def test_mcq_base_layout(loaded: dict[str, list[Item]]) -> None:
    items = loaded["cti-mcq"]
    prompt = get_task("cti-mcq").build_prompt(items[0], protocol="base", pool=items)
    blocks = prompt.text.split("\n\n")
    assert blocks[0] == "The following are multiple choice questions about computer security."
    assert len(blocks) == 7
    assert blocks[-1] == (
        "Which of the following mitigations involves preventing applications from running that haven't been "
        "downloaded from legitimate repositories?\nA. Audit\nB. Execution Prevention\n"
        "C. Operating System Configuration\nD. User Account Control\nAnswer:"
    )
    for block in blocks[1:-1]:
        assert block.splitlines()[-1] in {"Answer: A", "Answer: B", "Answer: C", "Answer: D"}
    assert prompt.stop == ["\n\n"]


def test_rcm_base_layout(loaded: dict[str, list[Item]]) -> None:
    items = loaded["cti-rcm"]
    prompt = get_task("cti-rcm").build_prompt(items[0], protocol="base", pool=items)
    blocks = prompt.text.split("\n\n")
    assert len(blocks) == 6
    assert all(block.startswith("CVE Description: ") for block in blocks)
    assert all(block.splitlines()[-1].startswith("Answer: CWE-") for block in blocks[:-1])
    assert prompt.text.endswith("cec-api.c.\nAnswer:")


@pytest.mark.parametrize("name", ["cti-mcq", "cti-rcm", "cti-rcm-2021", "cti-vsp", "cti-ate", "cti-taa"])
def test_base_ends_with_answer(loaded: dict[str, list[Item]], name: str) -> None:
    items = loaded[name]
    prompt = get_task(name).build_prompt(items[1], protocol="base", pool=items)
    assert prompt.text.endswith("Answer:")
    assert prompt.protocol == "base"
    assert prompt.messages[0]["content"] == prompt.text


@pytest.mark.parametrize("name", ["cti-mcq", "cti-rcm", "cti-vsp", "cti-ate"])
def test_base_excludes_target(loaded: dict[str, list[Item]], name: str) -> None:
    items = loaded[name]
    task = get_task(name)
    for index in range(0, len(items), max(1, len(items) // 40)):
        prompt = task.build_prompt(items[index], protocol="base", pool=items, trial=index % 3)
        assert items[index].item_id not in prompt.exemplar_ids
        assert len(set(prompt.exemplar_ids)) == 5


def test_base_seeded_and_varies_by_trial(loaded: dict[str, list[Item]]) -> None:
    items = loaded["cti-rcm"]
    task = get_task("cti-rcm")
    first = task.build_prompt(items[5], protocol="base", pool=items, seed=0, trial=0)
    again = task.build_prompt(items[5], protocol="base", pool=items, seed=0, trial=0)
    next_trial = task.build_prompt(items[5], protocol="base", pool=items, seed=0, trial=1)
    other_seed = task.build_prompt(items[5], protocol="base", pool=items, seed=1, trial=0)
    assert first == again
    assert first.exemplar_ids != next_trial.exemplar_ids
    assert first.exemplar_ids != other_seed.exemplar_ids


def test_base_pinned_exemplars(loaded: dict[str, list[Item]]) -> None:
    # Pins the draw so a change to the sampler, which changes every base-protocol result, is noticed.
    items = loaded["cti-rcm"]
    prompt = get_task("cti-rcm").build_prompt(items[3], protocol="base", pool=items, seed=0, trial=1)
    assert prompt.exemplar_ids == ["CVE-2023-51969", "CVE-2024-25003", "CVE-2023-48344", "CVE-2023-39853", "CVE-2023-52454"]


def test_taa_base_zero_shot(loaded: dict[str, list[Item]]) -> None:
    prompt = get_task("cti-taa").build_prompt(loaded["cti-taa"][0], protocol="base")
    assert prompt.exemplar_ids == []
    assert "Threat report: SEQRITE Labs APT-Team" in prompt.text


def test_base_without_pool() -> None:
    item = Item(task="cti-rcm", index=0, item_id="cti-rcm-0", prompt="p", gold="CWE-79", fields={"Description": "d"})
    with pytest.raises(ConfigError, match="pool="):
        get_task("cti-rcm").build_prompt(item, protocol="base")


def test_base_pool_too_small(loaded: dict[str, list[Item]]) -> None:
    items = loaded["cti-ate"][:4]
    with pytest.raises(ConfigError, match="needs 5 exemplars but the pool has only 3"):
        get_task("cti-ate").build_prompt(items[0], protocol="base", pool=items)


def test_unknown_protocol(loaded: dict[str, list[Item]]) -> None:
    with pytest.raises(ConfigError, match="use one of: ift, base"):
        get_task("cti-mcq").build_prompt(loaded["cti-mcq"][0], protocol="chat")

"""Answer extraction: every rule and step on hand-written and odd responses."""

from __future__ import annotations

import pytest

from ctiforge.benchmarks import (
    extract_actor,
    extract_attack_ids,
    extract_cvss_vector,
    extract_cwe,
    extract_mcq_answer,
    get_task,
)
from ctiforge.errors import ConfigError

MCQ_CASES = [
    # (response, rule, expected letter, expected step)
    ("Answer: B", "strict", "B", "answer_colon"),
    ("answer: (C) because ...", "strict", "C", "answer_colon"),
    ("**Answer:** D", "strict", "D", "answer_colon"),
    ("I think the answer is A.", "strict", "A", "answer_is"),
    ("Reasoning...\n\nC", "strict", "C", "last_line_letter"),
    ("Reasoning...\n**(B)**", "strict", "B", "last_line_letter"),
    ("Option A is wrong. Option C is right.\n\nC is the best choice.", "strict", "A", "option"),
    ("B\nD", "strict", "D", "last_line_letter"),
    ("Answer: Because the control blocks execution.", "strict", None, None),
    ("I am not sure.", "strict", None, None),
    ("", "strict", None, None),
    ("B\nD", "lenient", "B", "first_line_letter"),
    ("C\n\nD\nA", "lenient", "C", "first_line_letter"),
    ("Answer: A", "lenient", "A", "answer_colon"),
    ("Looking at it, I pick B for this one", "lenient", "B", "final_line_letter"),
    ("The best option is C.\nIt blocks execution.", "lenient", "C", "phrase"),
    ("I would choose D here.\nIt is the safest.", "lenient", "D", "phrase"),
    ("I'm unsure.", "lenient", None, None),
    (" b ", "ctibench", "B", "whole_response"),
    ("X", "ctibench", "X", "whole_response"),
    ("Answer: B", "ctibench", None, None),
    ("E", "ctibench", None, None),
]


@pytest.mark.parametrize(("response", "rule", "letter", "step"), MCQ_CASES)
def test_mcq_extract(response: str, rule: str, letter: str | None, step: str | None) -> None:
    parsed = extract_mcq_answer(response, rule)
    assert parsed.value == letter
    assert parsed.step == step
    assert parsed.rule == rule
    assert parsed.raw_len == len(response)


CWE_CASES = [
    ("This maps to CWE-79.\n\nCWE-416", "strict", "CWE-416", "last_cwe"),
    ("cwe-89", "strict", "CWE-89", "last_cwe"),
    ("CWE-0079", "strict", "CWE-79", "last_cwe"),
    ("CWE-416 ID: 416", "strict", "CWE-416", "last_cwe"),
    ("CWE 79", "strict", None, None),
    ("NVD-CWE-Other", "strict", None, None),
    ("Mapped to CWE 79 (XSS).\nFinal: CWE79", "lenient", "CWE-79", "last_line"),
    ("CWE-20 is possible.\nCWE_787\n", "lenient", "CWE-787", "last_line"),
    ("The weakness is an out-of-bounds write.\n787", "lenient", "CWE-787", "bare_number"),
    ("NVD-CWE-noinfo", "lenient", None, None),
    (" CWE-416 ", "ctibench", "CWE-416", "whole_response"),
    ("Error", "ctibench", None, None),
    ("CWE-416: Use After Free", "ctibench", None, None),
]


@pytest.mark.parametrize(("response", "rule", "cwe", "step"), CWE_CASES)
def test_cwe_extract(response: str, rule: str, cwe: str | None, step: str | None) -> None:
    parsed = extract_cwe(response, rule)
    assert parsed.value == cwe
    assert parsed.step == step


VECTOR = "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
VSP_CASES = [
    (VECTOR, "strict", f"CVSS:3.1/{VECTOR}", "vector"),
    (f"Summary...\nCVSS:3.0/{VECTOR}", "strict", f"CVSS:3.0/{VECTOR}", "vector"),
    (f"CVSS:3.1/{VECTOR}/E:P/RL:O", "strict", f"CVSS:3.1/{VECTOR}", "vector"),
    ("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Q", "strict", None, None),
    ("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "strict", None, None),
    (VECTOR.lower(), "strict", None, None),
    (VECTOR.lower(), "lenient", f"CVSS:3.1/{VECTOR}", "vector"),
    ("Final: AV:N, AC:L, PR:N, UI:N, S:U, C:H, I:H, A:H", "lenient", f"CVSS:3.1/{VECTOR}", "metrics_on_line"),
    ("CVSS:3.0 A:H I:H C:H S:U UI:N PR:N AC:L AV:N", "lenient", f"CVSS:3.0/{VECTOR}", "metrics_on_line"),
    ("AV:X, AC:L, PR:N, UI:N, S:U, C:H, I:H, A:H", "lenient", None, None),
    (f" {VECTOR}\n", "ctibench", f"CVSS:3.0/{VECTOR}", "whole_response"),
    (f"CVSS:3.1/{VECTOR}", "ctibench", f"CVSS:3.0/{VECTOR}", "whole_response"),
    (f"Vector: {VECTOR}", "ctibench", None, None),
]


@pytest.mark.parametrize(("response", "rule", "vector", "step"), VSP_CASES)
def test_vsp_extract(response: str, rule: str, vector: str | None, step: str | None) -> None:
    parsed = extract_cvss_vector(response, rule)
    assert parsed.value == vector
    assert parsed.step == step


def test_ate_strict_last_line() -> None:
    response = "T1059 (Command and Scripting Interpreter) fits; T1566 does not.\n\nT1059, T1105.002, T1105, T1027"
    parsed = extract_attack_ids(response)
    assert parsed.value == ["T1059", "T1105", "T1027"]
    assert parsed.step == "last_line"


def test_ate_lenient_anywhere() -> None:
    parsed = extract_attack_ids("Uses t1059.001 and T1566.\nDone.", "lenient")
    assert parsed.value == ["T1059", "T1566"]
    assert parsed.step == "anywhere"


def test_ate_no_ids_unparseable() -> None:
    assert extract_attack_ids("No techniques found; T12 is not an ID.").value is None


TAA_CASES = [
    ("APT36 ", "ctibench", "APT36", "whole_response"),
    ("X", "ctibench", None, None),
    ("The actor is APT29.\nReasoning follows.", "ctibench", None, None),
    ("Transparent Tribe", "strict", "Transparent Tribe", "whole_response"),
    ("Based on the TTPs, this is most likely Fancy Bear.\nThe malware overlaps...", "strict", "Fancy Bear", "known_name"),
    ("Based on the tooling, APT-C-36 (Blind Eagle) fits.\nMore text.", "strict", "APT-C-36", "known_name"),
    ("I cannot attribute this report.\nNot enough data.", "strict", None, None),
    ("Threat actor: Rattlesnake.\nIt targets the region.", "lenient", "Rattlesnake", "labelled"),
]


@pytest.mark.parametrize(("response", "rule", "actor", "step"), TAA_CASES)
def test_taa_extract(response: str, rule: str, actor: str | None, step: str | None) -> None:
    parsed = extract_actor(response, rule)
    assert parsed.value == actor
    assert parsed.step == step


@pytest.mark.parametrize("name", ["cti-mcq", "cti-rcm", "cti-vsp", "cti-ate", "cti-taa"])
def test_parse_none_response(name: str) -> None:
    parsed = get_task(name).parse(None)
    assert parsed.value is None
    assert parsed.raw_len == 0


@pytest.mark.parametrize("name", ["cti-mcq", "cti-rcm", "cti-vsp", "cti-ate", "cti-taa"])
def test_parse_huge_response(name: str) -> None:
    # A runaway generation: megabytes of repeated text must parse quickly and safely.
    response = "The answer might be " * 50_000
    parsed = get_task(name).parse(response)
    assert parsed.raw_len == len(response)


def test_parse_unknown_rule() -> None:
    with pytest.raises(ConfigError, match="use one of: strict, lenient"):
        get_task("cti-ate").parse("T1059", "ctibench")


def test_parse_default_rule() -> None:
    assert get_task("cti-rcm").parse("CWE-79").rule == "strict"

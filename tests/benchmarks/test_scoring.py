"""Metrics of `Task.score` on small hand-checked cases."""

from __future__ import annotations

import itertools
import math

import pytest

from ctiforge.benchmarks import base_score, get_task
from ctiforge.benchmarks._vsp import BASE_METRICS
from ctiforge.errors import DataFormatError


def test_accuracy_counts_unparseable_wrong() -> None:
    task = get_task("cti-mcq")
    items = task.items_from_gold(["A", "B", "C", "D"])
    result = task.score(items, ["A", "Answer: B", "no idea", None], "strict")
    assert result.metrics["accuracy"] == 0.5
    assert result.metrics["accuracy_parseable"] == 1.0
    assert result.metrics["parse_rate"] == 0.5
    assert result.unparseable == [2, 3]
    assert result.rule == "strict"


def test_per_item_rows() -> None:
    task = get_task("cti-rcm")
    result = task.score(task.items_from_gold(["CWE-79"]), ["It is CWE-79."])
    assert result.per_item == [
        {"item_id": "cti-rcm-0", "index": 0, "gold": "CWE-79", "parsed": "CWE-79", "step": "last_cwe", "correct": True}
    ]


def test_vsp_mad_over_parseable() -> None:
    task = get_task("cti-vsp")
    gold = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    items = task.items_from_gold([gold, gold])
    result = task.score(items, ["AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", "garbage"], "strict")
    assert result.metrics["mad"] == pytest.approx(9.8 - 9.1)
    assert result.metrics["parse_rate"] == 0.5
    assert result.per_item[0]["pred_score"] == 9.1


def test_vsp_no_parseable_is_nan() -> None:
    task = get_task("cti-vsp")
    result = task.score(task.items_from_gold(["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"]), ["?"])
    assert math.isnan(result.metrics["mad"])


def test_cvss_30_and_31_agree() -> None:
    # The ctibench rule scores predictions as CVSS 3.0 against 3.1 gold vectors.
    # The two versions give the same base score for every one of the 2,592 base
    # vectors, so that convention does not move the MAD.
    for combination in itertools.product(*(allowed for allowed in BASE_METRICS.values())):
        vector = "/".join(f"{key}:{value}" for key, value in zip(BASE_METRICS, combination))
        assert base_score(f"CVSS:3.0/{vector}") == base_score(f"CVSS:3.1/{vector}"), vector


def test_ate_micro_macro() -> None:
    task = get_task("cti-ate")
    items = task.items_from_gold(["T1059, T1105", "T1027"])
    result = task.score(items, ["T1059, T1566", "Nothing found"], "strict")
    # Item 0: tp 1, fp 1, fn 1. Item 1: unparseable, fn 1.
    assert result.metrics["micro_precision"] == pytest.approx(0.5)
    assert result.metrics["micro_recall"] == pytest.approx(1 / 3)
    assert result.metrics["micro_f1"] == pytest.approx(0.4)
    assert result.metrics["macro_f1"] == pytest.approx(0.25)
    assert result.unparseable == [1]


def test_taa_correct_and_plausible() -> None:
    task = get_task("cti-taa")
    items = task.items_from_gold(["APT29", "APT29", "APT29", "APT29"])
    result = task.score(items, ["Cozy Bear", "Turla", "APT41", "X"], "strict")
    assert [row["correct"] for row in result.per_item] == [True, False, False, False]
    assert [row["plausible"] for row in result.per_item] == [True, True, False, False]
    assert result.metrics["correct"] == 0.25
    assert result.metrics["plausible"] == 0.5


def test_taa_spelling_variants_match() -> None:
    task = get_task("cti-taa")
    result = task.score(task.items_from_gold(["APT-C-36", "APT33"]), ["apt c 36", "APT 33"], "strict")
    assert result.metrics["correct"] == 1.0


def test_score_length_mismatch() -> None:
    task = get_task("cti-rcm")
    with pytest.raises(DataFormatError, match="1 responses for 2 items"):
        task.score(task.items_from_gold(["CWE-79", "CWE-89"]), ["CWE-79"])


def test_score_missing_gold(cti_bench) -> None:
    task = get_task("cti-taa")
    items = task.load(cti_bench)
    with pytest.raises(DataFormatError, match="no gold answer"):
        task.score(items, ["APT29"] * len(items))


@pytest.mark.parametrize(("name", "metric", "higher"), [
    ("cti-mcq", "accuracy", True),
    ("cti-rcm-2021", "accuracy", True),
    ("cti-vsp", "mad", False),
    ("cti-ate", "micro_f1", True),
    ("cti-taa", "correct", True),
])
def test_primary_metric(name: str, metric: str, higher: bool) -> None:
    task = get_task(name)
    assert task.primary_metric == metric
    assert task.higher_is_better is higher
    result = task.score(task.items_from_gold([]), [])
    assert metric in result.metrics

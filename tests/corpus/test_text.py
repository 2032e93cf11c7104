"""Shingle containment, normalisation and answer-letter balance."""

from __future__ import annotations

from collections import Counter

from ctiforge.corpus._records import MultipleChoice, TrainingRecord, assign_letters
from ctiforge.corpus._text import ShingleIndex, Vocabulary, normalize_text

ITEM = ("A buffer overflow in the packet parser of ExampleServer 2.1 allows remote attackers to execute "
        "arbitrary code via a crafted length field in a handshake message.")


def _index(threshold_items: list[str]) -> ShingleIndex:
    return ShingleIndex(threshold_items, shingle_size=5, vocabulary=Vocabulary())


def test_containment_wrapped_item() -> None:
    wrapped = f"Analyze the following CVE description and map it to a CWE.  CVE Description: {ITEM} "
    matches = _index([ITEM]).match([wrapped], threshold=0.5, min_shingles=5)
    assert [(m.query, m.item) for m in matches] == [(0, 0)]
    assert matches[0].score == 1.0


def test_containment_unrelated_text() -> None:
    other = "Cross-site scripting in the search page of ExampleCMS lets attackers inject web script via the q parameter."
    assert _index([ITEM]).match([other], threshold=0.3, min_shingles=5) == []


def test_containment_short_quote_of_item() -> None:
    # A query that quotes a small part of a long item carries little of it.
    quote = "allows remote attackers to execute arbitrary code"
    matches = _index([ITEM]).match([quote], threshold=0.0001, min_shingles=1)
    assert matches
    assert matches[0].score < 0.3


def test_normalize_text_case_and_space() -> None:
    assert normalize_text("  Buffer\tOVERFLOW\n in X ") == "buffer overflow in x"


def test_letters_balanced() -> None:
    records = [
        TrainingRecord(id=f"q{i}", source="test", kind="mcq",
                       choice=MultipleChoice(f"Question {i}?", "right", ["w1", "w2", "w3"], "Because."))
        for i in range(10)
    ]
    histogram = assign_letters(records, seed=1)
    assert sorted(histogram.values()) == [2, 2, 3, 3]
    for record in records:
        assert record.response.splitlines()[-1] == record.answer_letter
        assert f"{record.answer_letter}) right" in record.prompt
    assert Counter(r.answer_letter for r in records) == Counter(histogram)

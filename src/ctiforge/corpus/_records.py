"""Training records in chat format, and the prompt templates they share.

The CVE-to-CWE, CVSS and multiple-choice prompts follow the instruction
wording of the CTIBench prompts. A model trained on these records thus learns
the answer format that CTIBench grades: a CWE ID, a CVSS vector or one letter
alone on the last line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ctiforge.corpus._decontam import Query

LETTERS = ("A", "B", "C", "D")

MAPPING_INSTRUCTION = (
    "Analyze the following CVE description and map it to the appropriate CWE. Provide a brief justification "
    "for your choice. Ensure the last line of your response contains only the CWE ID."
)

CVSS_INSTRUCTION = (
    "Analyze the following CVE description and calculate the CVSS v3.1 Base Score. Determine the values for "
    "each base metric: AV, AC, PR, UI, S, C, I, and A. Summarize each metric's value and provide the final "
    "CVSS v3.1 vector string. Valid options for each metric are as follows: "
    "- **Attack Vector (AV)**: Network (N), Adjacent (A), Local (L), Physical (P) "
    "- **Attack Complexity (AC)**: Low (L), High (H) "
    "- **Privileges Required (PR)**: None (N), Low (L), High (H) "
    "- **User Interaction (UI)**: None (N), Required (R) "
    "- **Scope (S)**: Unchanged (U), Changed (C) "
    "- **Confidentiality (C)**: None (N), Low (L), High (H) "
    "- **Integrity (I)**: None (N), Low (L), High (H) "
    "- **Availability (A)**: None (N), Low (L), High (H) "
    "Ensure the final line of your response contains only the CVSS v3 Vector String in the following format: "
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
)

MCQ_INSTRUCTION = (
    "You are given a multiple-choice question (MCQ) about cyber threat intelligence. Choose the best of the "
    "four options. Return your answer as a single uppercase letter: A, B, C, or D."
)
MCQ_CLOSING = (
    "**Important:** The last line of your answer should contain only the single letter corresponding to the "
    "best option, with no additional text."
)


@dataclass
class MultipleChoice:
    """A question with one correct option and three distractors, before the letters are assigned."""

    question: str
    correct: str
    distractors: list[str]
    explanation: str


@dataclass
class TrainingRecord:
    """One chat example with its origin.

    Multiple-choice records keep `choice` until `assign_letters` renders the
    prompt, so that the answer letters can be balanced after decontamination.
    `messages`, when set, replaces the prompt/response pair (user records
    keep their own turns).
    """

    id: str
    source: str
    kind: str
    prompt: str = ""
    response: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    query: Query = field(default_factory=lambda: Query(texts=[]))
    choice: MultipleChoice | None = None
    answer_letter: str | None = None
    messages: list[dict[str, str]] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the record in the chat JSONL shape that `ctiforge train` reads."""
        provenance = dict(self.provenance)
        if self.answer_letter:
            provenance["answer_letter"] = self.answer_letter
        messages = self.messages or [
            {"role": "user", "content": self.prompt},
            {"role": "assistant", "content": self.response},
        ]
        return {
            "messages": messages,
            "source": self.source,
            "kind": self.kind,
            "id": self.id,
            "provenance": provenance,
        }


def mcq_record(*, id: str, source: str, kind: str, choice: MultipleChoice, provenance: dict[str, Any],
               query: Query | None = None) -> TrainingRecord:
    """Make a multiple-choice record whose decontamination texts are the question and the correct option."""
    query = query or Query(texts=[choice.question])
    return TrainingRecord(id=id, source=source, kind=kind, provenance=provenance, query=query, choice=choice)


def assign_letters(records: list[TrainingRecord], *, seed: int) -> dict[str, int]:
    """Place each multiple-choice record's correct option at a balanced letter and render its prompt.

    The correct letters are A, B, C, D repeated in a seeded random order, so
    the counts differ by at most one. Returns the letter histogram.
    """
    rng = random.Random(f"{seed}:letters")
    questions = [record for record in records if record.choice is not None]
    letters = [LETTERS[position % len(LETTERS)] for position in range(len(questions))]
    rng.shuffle(letters)
    histogram = {letter: 0 for letter in LETTERS}
    for record, letter in zip(questions, letters):
        choice = record.choice
        assert choice is not None
        distractors = list(choice.distractors)
        rng.shuffle(distractors)
        options = distractors[:]
        options.insert(LETTERS.index(letter), choice.correct)
        rendered = " ".join(f"{label}) {text}" for label, text in zip(LETTERS, options))
        record.prompt = f"{MCQ_INSTRUCTION}  **Question:** {choice.question}  **Options:** {rendered}  {MCQ_CLOSING}"
        record.response = f"{choice.explanation}\n\n{letter}"
        record.answer_letter = letter
        histogram[letter] += 1
    return histogram


def pick_distractors(correct: set[str], pool: list[str], rng: random.Random, count: int = 3) -> list[str] | None:
    """Pick `count` distinct options from `pool` that are not correct answers, or None if too few exist."""
    seen_correct = {text.casefold() for text in correct}
    candidates = sorted({text for text in pool if text.casefold() not in seen_correct})
    if len(candidates) < count:
        return None
    return rng.sample(candidates, count)

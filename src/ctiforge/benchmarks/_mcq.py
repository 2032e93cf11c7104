"""cti-mcq: multiple-choice questions about ATT&CK, CAPEC and threat intelligence."""

from __future__ import annotations

import re
from typing import Any, Sequence

from ctiforge.benchmarks._task import AccuracyTask
from ctiforge.benchmarks._types import Item, Parsed
from ctiforge.errors import ConfigError, DataFormatError

LETTERS = "ABCD"
MCQ_RULES = ("strict", "lenient", "ctibench")
BASE_PREFIX = "The following are multiple choice questions about computer security."

# Steps of the strict rule, tried in order. The first step that matches wins.
# Each pattern ends with (?![A-Za-z0-9]) so "Answer: Because" or "Option Delta"
# never yields a letter.
_ANSWER_COLON = re.compile(r"(?i:answer)\s*:\s*\**\s*\(?([A-D])\)?(?![A-Za-z0-9])")
_ANSWER_IS = re.compile(r"(?i:answer\s+is)\s*:?\s*\**\s*\(?([A-D])\)?(?![A-Za-z0-9])")
_LONE_LETTER = re.compile(r"[\s*_`(\[]*([A-D])[\s*_`)\].:]*")
_OPTION = re.compile(r"(?i:option)\s*\(?([A-D])\)?(?![A-Za-z0-9])")
# Steps that only the lenient rule adds.
_STANDALONE = re.compile(r"(?<![A-Za-z0-9'’])([A-D])(?![A-Za-z0-9'’])")
_PHRASE = re.compile(
    r"(?i:(?:best|correct|right|final|most\s+(?:appropriate|accurate|likely))\s+"
    r"(?:option|answer|choice)(?:\s+(?:is|would\s+be|here\s+is))?)\s*:?\s*\**\s*\(?([A-D])\)?(?![A-Za-z0-9])"
)
_CHOICE_IS = re.compile(r"(?i:(?:choose|select|pick|go\s+with))\s+(?i:option\s+)?\(?([A-D])\)?(?![A-Za-z0-9])")


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match else None


def _last(pattern: re.Pattern[str], text: str) -> str | None:
    found = None
    for match in pattern.finditer(text):
        found = match.group(1)
    return found


def _nonempty_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _strict_steps(text: str) -> tuple[str | None, str | None]:
    # Each step takes the first match. The recorded answers of the reference
    # runs require this for the "option" step (a response that reviews
    # "Option A" to "Option D" and ends "C is the best choice." was recorded
    # as A). They contain too few "Answer:" responses to pin the other steps.
    letter = _first(_ANSWER_COLON, text)
    if letter:
        return letter, "answer_colon"
    letter = _first(_ANSWER_IS, text)
    if letter:
        return letter, "answer_is"
    lines = _nonempty_lines(text)
    if lines:
        match = _LONE_LETTER.fullmatch(lines[-1])
        if match:
            return match.group(1), "last_line_letter"
    letter = _first(_OPTION, text)
    if letter:
        return letter, "option"
    return None, None


def extract_mcq_answer(text: str | None, rule: str = "strict") -> Parsed:
    """Extract the chosen letter (A-D) from a multiple-choice response.

    Rules (the step names are recorded in `Parsed.step`):

    ``strict``, the Foundation-Sec cascade, first match wins:
      1. ``answer_colon``: the first "Answer: X" or "Answer: (X)", any case for "answer".
      2. ``answer_is``: the first "answer is X".
      3. ``last_line_letter``: the last non-empty line is only a letter, optionally in
         brackets, bold or followed by "." or ":".
      4. ``option``: the first "Option X", even when the response reviews every option.

    ``lenient``:
      0. ``first_line_letter``: the response is two or more lines that are each one
         letter ("B\\nD"): the first one is the answer and the rest is a runaway
         continuation, a shape small instruction models produce.
      1-4. the strict cascade.
      5. ``final_line_letter``: the first stand-alone capital A-D on the last non-empty line.
      6. ``phrase``: the last "best/correct/final option is X", "I choose X" and similar.

    ``ctibench``: the whole response, stripped and upper-cased, is one of A, B, C, D or X
    (X is the benchmark's "do not know" answer and is never correct). This is the
    benchmark notebook's comparison, which strips and upper-cases both sides.
    """
    if rule not in MCQ_RULES:
        raise ConfigError(f"cti-mcq has no answer rule {rule!r}; use one of: {', '.join(MCQ_RULES)}")
    if not isinstance(text, str):
        return Parsed(None, rule, None, 0)
    raw_len = len(text)

    if rule == "ctibench":
        answer = text.strip().upper()
        if len(answer) == 1 and answer in LETTERS + "X":
            return Parsed(answer, rule, "whole_response", raw_len)
        return Parsed(None, rule, None, raw_len)

    if rule == "lenient":
        lines = _nonempty_lines(text)
        if len(lines) >= 2 and all(_LONE_LETTER.fullmatch(line) for line in lines):
            return Parsed(_LONE_LETTER.fullmatch(lines[0]).group(1), rule, "first_line_letter", raw_len)

    letter, step = _strict_steps(text)
    if letter:
        return Parsed(letter, rule, step, raw_len)
    if rule == "strict":
        return Parsed(None, rule, None, raw_len)

    lines = _nonempty_lines(text)
    if lines:
        match = _STANDALONE.search(lines[-1])
        if match:
            return Parsed(match.group(1), rule, "final_line_letter", raw_len)
    for pattern in (_PHRASE, _CHOICE_IS):
        letter = _last(pattern, text)
        if letter:
            return Parsed(letter, rule, "phrase", raw_len)
    return Parsed(None, rule, None, raw_len)


class McqTask(AccuracyTask):
    """cti-mcq: 2,500 four-option questions whose gold answer is a letter."""

    name = "cti-mcq"
    file_name = "cti-mcq.tsv"
    rules = MCQ_RULES
    required_columns = ("URL", "Question", "Option A", "Option B", "Option C", "Option D", "Prompt", "GT")

    def normalize_gold(self, text: str, *, where: str) -> Any:
        # The published file has one lower-case gold letter ("b"), and the notebook upper-cases it.
        letter = text.strip().upper()
        if letter not in tuple(LETTERS):
            raise DataFormatError(f"{where}: gold answer {text!r} is not one of A, B, C, D")
        return letter

    def _extract(self, response: str, rule: str) -> Parsed:
        return extract_mcq_answer(response, rule)

    def _exemplar_key(self, item: Item) -> str:
        return item.fields.get("Question", "").strip()

    def _base_text(self, item: Item, exemplars: Sequence[Item]) -> str:
        blocks = [BASE_PREFIX]
        blocks.extend(f"{_question_block(exemplar)}\nAnswer: {exemplar.gold}" for exemplar in exemplars)
        blocks.append(f"{_question_block(item)}\nAnswer:")
        return "\n\n".join(blocks)


def _question_block(item: Item) -> str:
    fields = item.fields
    missing = [name for name in ("Question", "Option A", "Option B", "Option C", "Option D") if name not in fields]
    if missing:
        raise DataFormatError(
            f"cti-mcq item {item.item_id} lacks {', '.join(missing)}; the base protocol needs items loaded from cti-mcq.tsv"
        )
    lines = [" ".join(fields["Question"].split())]
    lines.extend(f"{letter}. {' '.join(fields['Option ' + letter].split())}" for letter in LETTERS)
    return "\n".join(lines)

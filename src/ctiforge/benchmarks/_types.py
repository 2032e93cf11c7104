"""Result and record types shared by every CTIBench task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Item:
    """One row of a CTIBench TSV file."""

    task: str
    """Task name, e.g. ``"cti-rcm"``."""
    index: int
    """Zero-based row number in the file, header excluded."""
    item_id: str
    """Stable identifier: the CVE ID from the URL column when there is one, else ``f"{task}-{index}"``."""
    prompt: str
    """The dataset's ``Prompt`` column, unchanged."""
    gold: Any
    """Normalised gold answer: a letter (MCQ), ``CWE-N`` (RCM), a CVSS vector (VSP), a
    list of parent technique IDs (ATE), an actor name (TAA), or None when the file has none."""
    fields: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Every column of the row, unchanged."""
    cve_id: str | None = None
    """CVE ID taken from the URL column, or None."""
    url: str | None = None
    """The URL column, or None when the file has no such column."""


@dataclass(frozen=True)
class Prompt:
    """A prompt in both the chat form and the completion form."""

    messages: list[dict[str, str]]
    """Chat messages (``role``/``content``) for chat-completion backends."""
    text: str
    """The same prompt as one string for text-completion backends."""
    stop: list[str]
    """Stop sequences; empty for the ``ift`` protocol."""
    protocol: str
    """``"ift"`` (zero-shot instruction) or ``"base"`` (few-shot completion)."""
    exemplar_ids: list[str]
    """``item_id`` of each few-shot exemplar, in prompt order."""


@dataclass(frozen=True)
class Parsed:
    """The answer extracted from one model response."""

    value: Any
    """The extracted answer (str or list of str), or None when the response is unparseable."""
    rule: str
    """Name of the extraction rule that was applied."""
    step: str | None
    """Name of the rule's step that matched, or None when nothing matched."""
    raw_len: int
    """Length of the response in characters (0 for a missing response)."""

    @property
    def ok(self) -> bool:
        """Whether an answer was extracted."""
        return self.value is not None


@dataclass
class TaskScore:
    """Metrics of one set of responses on one task under one extraction rule."""

    task: str
    rule: str
    metrics: dict[str, float]
    """Aggregate metrics; always contains ``n``, ``parse_rate`` and the task's primary metric."""
    per_item: list[dict[str, Any]]
    """One dict per item: ``item_id``, ``index``, ``gold``, ``parsed``, ``step`` and the task's
    per-item measures (``correct``, ``abs_error``, ``tp``/``fp``/``fn``, ``plausible``)."""
    unparseable: list[int]
    """Positions (into the scored items) of responses that no step of the rule could parse."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of this score."""
        return {
            "task": self.task,
            "rule": self.rule,
            "metrics": dict(self.metrics),
            "per_item": [dict(row) for row in self.per_item],
            "unparseable": list(self.unparseable),
        }

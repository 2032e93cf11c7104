"""Records from the user's own JSONL files (`prompt`/`response` or chat `messages`)."""

from __future__ import annotations

import logging
from pathlib import Path

from ctiforge.corpus._decontam import Query, cve_ids_in
from ctiforge.corpus._jsonl import InvalidLine, read_chat_jsonl
from ctiforge.corpus._records import TrainingRecord

logger = logging.getLogger(__name__)


def build_user_records(paths: list[Path], *, skip_invalid: bool) -> tuple[list[TrainingRecord], list[tuple[Path, InvalidLine]]]:
    """Read user examples unchanged; every message is checked against the benchmarks."""
    records: list[TrainingRecord] = []
    skipped: list[tuple[Path, InvalidLine]] = []
    for position, path in enumerate(paths):
        examples, invalid = read_chat_jsonl(path, skip_invalid=skip_invalid)
        skipped.extend((path, bad) for bad in invalid)
        for example in examples:
            texts = [message["content"] for message in example.messages]
            ids: set[str] = set()
            for text in texts:
                ids |= cve_ids_in(text)
            raw_kind = example.raw.get("kind")
            records.append(TrainingRecord(
                id=f"user:{position}:{path.name}:{example.line}",
                source="user",
                kind=raw_kind if isinstance(raw_kind, str) and raw_kind else "user",
                prompt=example.prompt,
                response=example.response,
                messages=example.messages,
                provenance={"file": path.name, "line": example.line},
                query=Query(texts=texts, cve_ids=ids),
            ))
    return records, skipped

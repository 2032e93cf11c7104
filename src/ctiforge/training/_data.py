"""Chat JSONL to token sequences with assistant-only labels, packing and batching.

Labels come from rendering the tokenizer's own chat template turn by turn, not
from `{% generation %}` markers: Qwen3's, Llama 3's and Gemma's templates have
no such markers, so trl's `assistant_only_loss` cannot use them. The tokens a
template adds for assistant turn k are the difference between the rendering
of messages[:k] with the generation prompt and the rendering of messages[:k+1].
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
_MAX_LISTED_PROBLEMS = 10
_ROLES = {"system", "user", "assistant"}


@dataclass(frozen=True)
class ChatExample:
    """One training example read from a chat JSONL line."""

    line_number: int
    messages: list[dict[str, str]]
    example_id: str | None = None


@dataclass
class EncodedExample:
    """Token ids of one example and its labels (IGNORE_INDEX outside assistant turns)."""

    input_ids: list[int]
    labels: list[int]


@dataclass
class PackedSequence:
    """Examples laid end to end; `lengths` keeps the boundaries for the attention mask."""

    input_ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class EncodingStats:
    """Counts from encoding a file, for the run manifest and the log."""

    examples: int
    sequences: int
    tokens: int
    assistant_tokens: int
    truncated: int
    skipped_without_answer: int


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_messages(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "'messages' must be a non-empty list"
    for index, message in enumerate(value):
        if not isinstance(message, dict):
            return f"messages[{index}] is not an object"
        if message.get("role") not in _ROLES:
            return f"messages[{index}].role is {message.get('role')!r}, expected one of {sorted(_ROLES)}"
        if not isinstance(message.get("content"), str):
            return f"messages[{index}].content is not a string"
    if not any(message["role"] == "assistant" for message in value):
        return "no assistant message to learn from"
    return None


def read_chat_jsonl(path: Path) -> list[ChatExample]:
    """Read and check every line of a chat JSONL file.

    Raises DataFormatError naming the file and the line numbers of all broken
    lines, so a user fixes them in one pass.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"training file not found: {path}; build one with `ctiforge corpus build`")

    examples: list[ChatExample] = []
    problems: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {line_number}: invalid JSON ({exc.msg})")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {line_number}: expected a JSON object")
                continue
            problem = _check_messages(record.get("messages"))
            if problem:
                problems.append(f"line {line_number}: {problem}")
                continue
            messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
            examples.append(ChatExample(line_number, messages, record.get("id")))

    if problems:
        listed = "; ".join(problems[:_MAX_LISTED_PROBLEMS])
        more = len(problems) - _MAX_LISTED_PROBLEMS
        suffix = f"; and {more} more" if more > 0 else ""
        raise DataFormatError(
            f"{path} has {len(problems)} invalid line(s): {listed}{suffix}; "
            'each line must be {"messages": [{"role": ..., "content": ...}, ...]}'
        )
    if not examples:
        raise DataFormatError(f"{path} contains no examples")
    return examples


def _render(tokenizer: Any, messages: list[dict[str, str]], *, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def encode_chat(tokenizer: Any, example: ChatExample, *, source: str = "") -> EncodedExample:
    """Tokenize one conversation with its chat template; only assistant turns keep labels.

    Raises DataFormatError when the template renders an earlier turn
    differently once later turns are added, because the labels would then
    not line up with the text the model sees.
    """
    if getattr(tokenizer, "chat_template", None) is None:
        raise DataFormatError("the tokenizer has no chat template; use an instruct model or set one in tokenizer_config")

    segments: list[tuple[str, bool]] = []
    rendered = ""
    for turn, message in enumerate(example.messages):
        if message["role"] == "assistant":
            prompt = _render(tokenizer, example.messages[:turn], generation_prompt=True) if turn else ""
            if turn and not prompt.startswith(rendered):
                _raise_unstable(source, example)
            segments.append((prompt[len(rendered):], False))
            rendered = prompt
        full = _render(tokenizer, example.messages[: turn + 1], generation_prompt=False)
        if not full.startswith(rendered):
            _raise_unstable(source, example)
        segments.append((full[len(rendered):], message["role"] == "assistant"))
        rendered = full

    input_ids: list[int] = []
    labels: list[int] = []
    for text, trained in segments:
        if not text:
            continue
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids.extend(ids)
        labels.extend(ids if trained else [IGNORE_INDEX] * len(ids))
    return EncodedExample(input_ids, labels)


def _raise_unstable(source: str, example: ChatExample) -> None:
    raise DataFormatError(
        f"{source} line {example.line_number}: the chat template renders earlier turns differently "
        "when later turns follow, so assistant tokens cannot be located; split the conversation "
        "into single-turn examples"
    )


def encode_examples(
    tokenizer: Any, examples: list[ChatExample], *, max_length: int, packing: bool, source: str = ""
) -> tuple[list[PackedSequence], EncodingStats]:
    """Encode, truncate to `max_length` and (with `packing`) fill sequences greedily in file order.

    Examples left with no assistant token after truncation are skipped and
    counted, because they would add no loss.
    """
    sequences: list[PackedSequence] = []
    current = PackedSequence()
    truncated = skipped = tokens = assistant_tokens = 0

    for example in examples:
        encoded = encode_chat(tokenizer, example, source=source)
        if len(encoded.input_ids) > max_length:
            truncated += 1
            encoded = EncodedExample(encoded.input_ids[:max_length], encoded.labels[:max_length])
        trained = sum(1 for label in encoded.labels if label != IGNORE_INDEX)
        if trained == 0:
            skipped += 1
            continue
        tokens += len(encoded.input_ids)
        assistant_tokens += trained

        length = len(encoded.input_ids)
        if not packing or len(current.input_ids) + length > max_length:
            if current.input_ids:
                sequences.append(current)
            current = PackedSequence()
        current.input_ids.extend(encoded.input_ids)
        current.labels.extend(encoded.labels)
        current.lengths.append(length)
    if current.input_ids:
        sequences.append(current)

    if truncated:
        logger.warning("%s: %d example(s) longer than max_length=%d were truncated", source, truncated, max_length)
    if skipped:
        logger.warning("%s: skipped %d example(s) with no assistant token within max_length", source, skipped)
    stats = EncodingStats(len(examples), len(sequences), tokens, assistant_tokens, truncated, skipped)
    return sequences, stats


class SequenceDataset:
    """A map-style dataset over encoded sequences for `transformers.Trainer`."""

    def __init__(self, sequences: list[PackedSequence]) -> None:
        self.sequences = sequences

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> PackedSequence:
        return self.sequences[index]


class ChatCollator:
    """Turn a list of `PackedSequence` into model inputs.

    With packing, the batch becomes one row with position ids restarting at 0
    for each example and no attention mask. transformers then builds a
    block-diagonal causal mask for sdpa and eager attention and variable-length
    calls for flash_attention_2, so no example attends to another. Without
    packing, rows are right-padded and carry an attention mask.
    """

    def __init__(self, *, pad_token_id: int, packing: bool) -> None:
        self.pad_token_id = pad_token_id
        self.packing = packing

    def __call__(self, batch: list[PackedSequence]) -> dict[str, Any]:
        import torch

        if self.packing:
            input_ids: list[int] = []
            labels: list[int] = []
            position_ids: list[int] = []
            for sequence in batch:
                input_ids.extend(sequence.input_ids)
                labels.extend(sequence.labels)
                for length in sequence.lengths:
                    position_ids.extend(range(length))
            return {
                "input_ids": torch.tensor([input_ids], dtype=torch.long),
                "labels": torch.tensor([labels], dtype=torch.long),
                "position_ids": torch.tensor([position_ids], dtype=torch.long),
            }

        width = max(len(sequence.input_ids) for sequence in batch)
        rows, label_rows, masks = [], [], []
        for sequence in batch:
            padding = width - len(sequence.input_ids)
            rows.append(sequence.input_ids + [self.pad_token_id] * padding)
            label_rows.append(sequence.labels + [IGNORE_INDEX] * padding)
            masks.append([1] * len(sequence.input_ids) + [0] * padding)
        return {
            "input_ids": torch.tensor(rows, dtype=torch.long),
            "labels": torch.tensor(label_rows, dtype=torch.long),
            "attention_mask": torch.tensor(masks, dtype=torch.long),
        }

"""Reading chat or prompt/response JSONL files line by line, with errors that name the line."""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

_ROLES = ("system", "user", "assistant")
GZIP_MAGIC = b"\x1f\x8b"


def _lines(handle: IO[bytes], path: Path) -> Iterator[bytes]:
    """Yield the raw lines of a file, raising `DataFormatError` for a damaged gzip stream."""
    try:
        yield from handle
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path} is gzip-compressed but cannot be decompressed ({exc}); "
                              "the file is truncated or damaged") from None


@dataclass(frozen=True)
class ChatExample:
    """One example of a JSONL file as a list of chat messages, with the line it came from."""

    line: int
    messages: list[dict[str, str]]
    raw: dict[str, Any]

    @property
    def prompt(self) -> str:
        """The text of all system and user messages, joined by blank lines."""
        return "\n\n".join(m["content"] for m in self.messages if m["role"] != "assistant")

    @property
    def response(self) -> str:
        """The text of the last assistant message, or "" when there is none."""
        answers = [m["content"] for m in self.messages if m["role"] == "assistant"]
        return answers[-1] if answers else ""

    @property
    def final_line(self) -> str:
        """The last non-empty line of the response, stripped. Graded answers put their label there."""
        lines = [line.strip() for line in self.response.splitlines() if line.strip()]
        return lines[-1] if lines else ""


@dataclass(frozen=True)
class InvalidLine:
    """A line that could not be read, with the reason."""

    line: int
    reason: str


def _messages_of(value: Any) -> list[dict[str, str]]:
    if isinstance(value, dict) and "messages" in value:
        messages = value["messages"]
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list")
        out = []
        for position, message in enumerate(messages):
            if not isinstance(message, dict):
                raise ValueError(f"message {position} is not an object")
            role, content = message.get("role"), message.get("content")
            if role not in _ROLES:
                raise ValueError(f"message {position} has role {role!r}; expected one of {', '.join(_ROLES)}")
            if not isinstance(content, str):
                raise ValueError(f"message {position} has no string 'content'")
            out.append({"role": role, "content": content})
        return out
    if isinstance(value, dict) and "prompt" in value and "response" in value:
        prompt, response = value["prompt"], value["response"]
        if not isinstance(prompt, str) or not isinstance(response, str):
            raise ValueError("'prompt' and 'response' must be strings")
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    if isinstance(value, dict):
        raise ValueError("expected keys 'prompt' and 'response', or 'messages'")
    raise ValueError(f"expected a JSON object, found {type(value).__name__}")


def read_chat_jsonl(path: Path, *, skip_invalid: bool) -> tuple[list[ChatExample], list[InvalidLine]]:
    """Read every example of a JSONL file with `prompt`/`response` or chat `messages` objects.

    Blank lines are ignored. Without `skip_invalid`, any invalid line raises
    one `DataFormatError` that lists the first ten invalid line numbers.
    """
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise DataFormatError(f"corpus file not found: {path}; check the path") from None
    except IsADirectoryError:
        raise DataFormatError(f"{path} is a folder; expected a JSONL file") from None
    handle: IO[bytes] = raw
    if raw.peek(2)[:2] == GZIP_MAGIC:
        # A gzip-compressed JSONL file is read as its decompressed lines.
        handle = gzip.GzipFile(fileobj=raw, mode="rb")

    examples: list[ChatExample] = []
    invalid: list[InvalidLine] = []
    with raw, handle:
        for line_number, raw_line in enumerate(_lines(handle, path), start=1):
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError:
                invalid.append(InvalidLine(line_number, "not valid UTF-8"))
                continue
            if not line.strip():
                continue
            try:
                value = json.loads(line)
                messages = _messages_of(value)
            except json.JSONDecodeError as exc:
                invalid.append(InvalidLine(line_number, f"invalid JSON ({exc.msg} at column {exc.colno})"))
                continue
            except ValueError as exc:
                invalid.append(InvalidLine(line_number, str(exc)))
                continue
            examples.append(ChatExample(line_number, messages, value))

    if invalid and not skip_invalid:
        shown = "; ".join(f"line {bad.line}: {bad.reason}" for bad in invalid[:10])
        more = f" and {len(invalid) - 10} more" if len(invalid) > 10 else ""
        raise DataFormatError(
            f"{path}: {len(invalid)} invalid line(s): {shown}{more}; fix them or pass --skip-invalid to skip them"
        )
    for bad in invalid:
        logger.warning("%s: skipped line %d: %s", path, bad.line, bad.reason)
    return examples, invalid

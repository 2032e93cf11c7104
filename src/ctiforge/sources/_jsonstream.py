"""Incremental reading of large JSON documents with the standard library's decoder.

The 2018 NVD 1.1 feed is 76 MB of JSON, and `json.load` keeps the whole text
and every parsed record in memory at once. `iter_json_items` reads the
top-level structure by hand and decodes one array element at a time with
`json.JSONDecoder.raw_decode`. Memory then stays near one record plus a read
buffer of about a million characters.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_CHUNK_CHARS = 1 << 20


class JsonSyntaxError(ValueError):
    """The document is not valid JSON; `offset` is the character offset of the problem."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (character {offset})")
        self.offset = offset


@dataclass
class JsonItem:
    """One decoded value and where it sits.

    `container` is "list" for an element of a top-level array, the key name for
    an element of an array streamed from a top-level object, or "document" for a
    whole top-level object that contains none of the streamed keys.
    """

    container: str
    index: int
    value: Any


@dataclass
class JsonDocument:
    """The scalar and small members of the top-level object read so far."""

    header: dict[str, Any] = field(default_factory=dict)


class _Buffer:
    """Text decoded from a byte stream, consumed left to right."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        # Invalid UTF-8 bytes become lone surrogates, so the reader can skip the
        # one record that contains them instead of failing the whole file.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self.text = ""
        self.pos = 0
        self.consumed = 0
        self.eof = False
        self._started = False

    def fill(self, min_chars: int = _CHUNK_CHARS) -> bool:
        """Read at least `min_chars` more characters; return False at end of input."""
        if self.eof:
            return False
        self.consumed += self.pos
        parts = [self.text[self.pos:]]
        added = 0
        while added < min_chars:
            raw = self._stream.read(max(min_chars - added, _CHUNK_CHARS))
            final = not raw
            chunk = self._decoder.decode(raw, final=final)
            if not self._started and chunk:
                chunk = chunk.removeprefix("\ufeff")
                self._started = True
            parts.append(chunk)
            added += len(chunk)
            if final:
                self.eof = True
                break
        self.text = "".join(parts)
        self.pos = 0
        return added > 0 or not self.eof

    def peek(self) -> str | None:
        """Skip whitespace and return the next character, or None at end of input."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return None

    def expect(self, chars: str) -> str:
        """Consume the next non-blank character, which must be one of `chars`."""
        char = self.peek()
        if char is None or char not in chars:
            found = "end of input" if char is None else repr(char)
            expected = " or ".join(repr(c) for c in chars)
            raise JsonSyntaxError(f"expected {expected}, found {found}", self.consumed + self.pos)
        self.pos += 1
        return char

    def decode_value(self) -> Any:
        """Decode one complete JSON value at the current position."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.fill(max(_CHUNK_CHARS, len(self.text))):
                    continue
                raise JsonSyntaxError(exc.msg, self.consumed + exc.pos) from None
            # A number that ends exactly at the end of the buffer may continue in
            # the next chunk, so decode it again with more text.
            if end == len(self.text) and not self.eof:
                self.fill()
                continue
            self.pos = end
            return value


def iter_json_items(
    stream: IO[bytes], *, array_keys: tuple[str, ...], document: JsonDocument | None = None
) -> Iterator[JsonItem]:
    """Yield the elements of a top-level array, or of the first streamed array of an object.

    For a top-level object, members named in `array_keys` whose value is an
    array are streamed element by element, and other members are decoded whole
    into `document.header`. An object with none of `array_keys` is yielded once
    as a "document" item. Raises `JsonSyntaxError` for invalid JSON, after the
    elements before the error have been yielded.
    """
    buffer = _Buffer(stream)
    document = document if document is not None else JsonDocument()
    first = buffer.peek()
    if first is None:
        raise JsonSyntaxError("the file is empty", 0)
    if first == "[":
        buffer.pos += 1
        yield from _iter_array(buffer, "list")
        _expect_end(buffer)
        return
    if first != "{":
        raise JsonSyntaxError(f"expected a JSON object or array, found {first!r}", buffer.consumed + buffer.pos)

    buffer.pos += 1
    streamed = False
    if buffer.peek() == "}":
        buffer.pos += 1
    else:
        while True:
            key = buffer.decode_value()
            if not isinstance(key, str):
                raise JsonSyntaxError("expected an object key", buffer.consumed + buffer.pos)
            buffer.expect(":")
            if key in array_keys and buffer.peek() == "[":
                buffer.pos += 1
                streamed = True
                yield from _iter_array(buffer, key)
            else:
                document.header[key] = buffer.decode_value()
            if buffer.expect(",}") == "}":
                break
    _expect_end(buffer)
    if not streamed:
        yield JsonItem("document", 0, document.header)


def _iter_array(buffer: _Buffer, container: str) -> Iterator[JsonItem]:
    if buffer.peek() == "]":
        buffer.pos += 1
        return
    index = 0
    while True:
        yield JsonItem(container, index, buffer.decode_value())
        index += 1
        if buffer.expect(",]") == "]":
            return


def _expect_end(buffer: _Buffer) -> None:
    char = buffer.peek()
    if char is not None:
        raise JsonSyntaxError(f"unexpected {char!r} after the end of the JSON value", buffer.consumed + buffer.pos)

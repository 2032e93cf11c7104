"""cti-taa: attribute a redacted threat report to a threat actor, judged through alias maps."""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any, Sequence

from ctiforge.benchmarks._task import DEFAULT_SHOTS, Task
from ctiforge.benchmarks._types import Item, Parsed, Prompt
from ctiforge.errors import ConfigError, DataFormatError

TAA_RULES = ("strict", "lenient", "ctibench")
# The published maps use the text "nan" (a missing value written out by pandas)
# as the alias list of groups that have none.
MISSING = "nan"
ABSTAIN = "x"
BASE_INSTRUCTION = (
    "In the following threat report, the name of the responsible threat actor has been replaced with "
    "[PLACEHOLDER]. Name the threat actor."
)
# A one-line response of at most this many words is read as a bare actor name.
_MAX_NAME_WORDS = 6
_LABELLED = re.compile(
    r"(?i:threat\s+actor(?:\s+group)?(?:\s+(?:is|responsible(?:\s+is)?))?\s*:|attributed\s+to|"
    r"responsible\s+(?:threat\s+actor\s+)?is|most\s+likely)\s*(?:the\s+)?\**\s*([A-Za-z0-9][\w .\-/]{0,60}?)\s*\**(?=[.,;:()\n]|\s+(?:group|based|due|because|which|as)\b|$)"
)


def normalize_actor(name: str) -> str:
    """Return the comparison key of an actor name: lower case, letters and digits only.

    "APT-C-36", "apt c 36" and "APT C-36" share one key, as do "APT33" and "APT 33".
    """
    return re.sub(r"[^a-z0-9]", "", name.lower())


class AliasGraph:
    """Undirected graphs over actor-name keys built from the alias and related-group maps."""

    def __init__(self, aliases: dict[str, list[str]], related: dict[str, list[str]], *, keep_missing: bool) -> None:
        self.alias_edges = self._edges([aliases], keep_missing=keep_missing)
        self.related_edges = self._edges([aliases, related], keep_missing=keep_missing)
        self.names = {name for name in self.related_edges if name != MISSING}
        self._alias_groups = _components(self.alias_edges)
        self._related_groups = _components(self.related_edges)

    @staticmethod
    def _edges(maps: Sequence[dict[str, list[str]]], *, keep_missing: bool) -> dict[str, set[str]]:
        edges: dict[str, set[str]] = {}
        for mapping in maps:
            for key, values in mapping.items():
                source = normalize_actor(key)
                edges.setdefault(source, set())
                for value in values:
                    target = MISSING if value.strip().lower() == MISSING else normalize_actor(value)
                    if not target or (target == MISSING and not keep_missing):
                        continue
                    # Both maps are made symmetric: "a lists b" links b back to a.
                    edges[source].add(target)
                    edges.setdefault(target, set()).add(source)
        return edges

    def correct(self, predicted: str, gold: str) -> bool:
        """Return whether the names are equal or connected through aliases."""
        a, b = normalize_actor(predicted), normalize_actor(gold)
        return a == b or (a in self._alias_groups and self._alias_groups[a] is self._alias_groups.get(b))

    def plausible(self, predicted: str, gold: str) -> bool:
        """Return whether the names are equal or connected through aliases and related groups."""
        a, b = normalize_actor(predicted), normalize_actor(gold)
        return a == b or (a in self._related_groups and self._related_groups[a] is self._related_groups.get(b))


def _components(edges: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    group_of: dict[str, frozenset[str]] = {}
    for start in edges:
        if start in group_of:
            continue
        seen = {start}
        stack = [start]
        while stack:
            for neighbour in edges[stack.pop()]:
                if neighbour not in seen:
                    seen.add(neighbour)
                    stack.append(neighbour)
        group = frozenset(seen)
        for name in group:
            group_of[name] = group
    return group_of


def _load_map(name: str) -> dict[str, list[str]]:
    text = resources.files("ctiforge").joinpath("data", "cti-bench", name).read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def alias_graph(*, keep_missing: bool = False) -> AliasGraph:
    """Return the graph of the shipped CTIBench maps (``taa-aliases.json``, ``taa-related.json``).

    With `keep_missing`, the "nan" placeholder stays a node, which links every
    group whose list is "nan" with every other such group; see `TaaTask`.
    """
    return AliasGraph(_load_map("taa-aliases.json"), _load_map("taa-related.json"), keep_missing=keep_missing)


@functools.cache
def _known_names() -> tuple[frozenset[str], frozenset[str]]:
    """Return the comparison keys of every name in the maps, and every prefix of those keys."""
    keys: set[str] = set()
    for mapping in (_load_map("taa-aliases.json"), _load_map("taa-related.json")):
        for key, values in mapping.items():
            for name in (key, *values):
                if name.strip().lower() != MISSING and normalize_actor(name):
                    keys.add(normalize_actor(name))
    prefixes = {key[:end] for key in keys for end in range(1, len(key) + 1)}
    return frozenset(keys), frozenset(prefixes)


_WORD = re.compile(r"[A-Za-z0-9]+")


def _first_known_name(text: str) -> str | None:
    """Return the earliest (then longest) span of `text` whose words form a known actor name.

    Words are compared by their joined comparison key, so "APT 33", "APT-33" and
    "apt33" all match "APT33". A one-word name made of letters only must start
    with a capital in the text, because several aliases are English words
    ("lead", "snake", "zinc") that prose uses in lower case.
    """
    keys, prefixes = _known_names()
    words = list(_WORD.finditer(text))
    for start, first in enumerate(words):
        key = ""
        found_end = None
        for end in range(start, len(words)):
            key += words[end].group(0).lower()
            if key not in prefixes:
                break
            if key not in keys:
                continue
            word = first.group(0)
            if end == start and word.isalpha() and not word[0].isupper():
                continue
            found_end = end
        if found_end is not None:
            return text[first.start() : words[found_end].end()]
    return None


def extract_actor(text: str | None, rule: str = "strict") -> Parsed:
    """Extract the attributed threat actor's name from a response.

    Rules (step names in `Parsed.step`):

    ``ctibench``: ``whole_response``, the stripped one-line response is the name.

    Under every rule, "X" (the benchmark's "do not know") and an empty response
    are unparseable.

    ``strict``:
      1. ``whole_response``: a one-line response of at most six words is the name.
      2. ``known_name``: the first name from the alias or related-group maps that
         the response mentions.

    ``lenient``: the strict steps, then ``labelled``: the name after "Threat actor:",
    "attributed to", "responsible is" or "most likely", up to punctuation.
    """
    if rule not in TAA_RULES:
        raise ConfigError(f"cti-taa has no answer rule {rule!r}; use one of: {', '.join(TAA_RULES)}")
    if not isinstance(text, str):
        return Parsed(None, rule, None, 0)
    raw_len = len(text)
    stripped = text.strip().strip("*`\"'").strip()
    if normalize_actor(stripped) in ("", ABSTAIN):
        return Parsed(None, rule, None, raw_len)
    one_line = "\n" not in stripped
    if rule == "ctibench":
        return Parsed(stripped, rule, "whole_response", raw_len) if one_line else Parsed(None, rule, None, raw_len)
    if one_line and len(stripped.split()) <= _MAX_NAME_WORDS:
        return Parsed(stripped, rule, "whole_response", raw_len)

    name = _first_known_name(text)
    if name is not None:
        return Parsed(name, rule, "known_name", raw_len)
    if rule == "lenient":
        match = _LABELLED.search(text)
        if match and normalize_actor(match.group(1)) not in ("", ABSTAIN):
            return Parsed(match.group(1).strip(), rule, "labelled", raw_len)
    return Parsed(None, rule, None, raw_len)


class TaaTask(Task):
    """cti-taa: 50 redacted threat reports, each answered with an actor judged correct or plausible.

    The dataset TSV has no answer column. The gold actors come from the responses
    file's GT column (see `items_from_gold`) or from a GT column added to the TSV.

    A prediction is *correct* when it is connected to the gold actor through the
    alias map and *plausible* when connected through the alias and related-group
    maps together, both made symmetric. The ``strict`` and ``lenient`` rules drop
    the maps' "nan" placeholder. The ``ctibench`` rule keeps it as a node, which
    joins the eleven groups whose list is "nan". Only with that link do the
    published ChatGPT-4 responses reach the 86% plausible of the CTIBench paper
    (NeurIPS 2024 datasets track). Without it they score 84%, and the
    one difference is the Confucius report answered "APT36".
    """

    name = "cti-taa"
    file_name = "cti-taa.tsv"
    rules = TAA_RULES
    primary_metric = "correct"
    required_columns = ("URL", "Text", "Prompt")

    def normalize_gold(self, text: str, *, where: str) -> Any:
        return " ".join(text.split()) or None

    def _extract(self, response: str, rule: str) -> Parsed:
        return extract_actor(response, rule)

    def build_prompt(
        self,
        item: Item,
        *,
        protocol: str = "ift",
        pool: Sequence[Item] | None = None,
        seed: int = 0,
        trial: int = 0,
        shots: int = DEFAULT_SHOTS,
    ) -> Prompt:
        """Build the prompt; the ``base`` layout is zero-shot because the dataset has no gold answers to show."""
        if protocol != "base":
            return super().build_prompt(item, protocol=protocol, pool=pool, seed=seed, trial=trial, shots=shots)
        if "Text" not in item.fields:
            raise DataFormatError(
                f"cti-taa item {item.item_id} has no Text; the base protocol needs items loaded from cti-taa.tsv"
            )
        report = " ".join(item.fields["Text"].split())
        text = f"{BASE_INSTRUCTION}\n\nThreat report: {report}\nAnswer:"
        return Prompt(messages=[{"role": "user", "content": text}], text=text, stop=["\n"], protocol="base", exemplar_ids=[])

    def _graph(self, rule: str) -> AliasGraph:
        return alias_graph(keep_missing=rule == "ctibench")

    def _score_item(self, item: Item, parsed: Parsed) -> dict[str, Any]:
        if parsed.value is None:
            return {"correct": False, "plausible": False}
        graph = self._graph(parsed.rule)
        correct = graph.correct(parsed.value, item.gold)
        return {"correct": correct, "plausible": correct or graph.plausible(parsed.value, item.gold)}

    def _aggregate(self, per_item: list[dict[str, Any]], parsed: list[Parsed]) -> dict[str, float]:
        n = len(per_item)
        return {
            "correct": sum(row["correct"] for row in per_item) / n if n else 0.0,
            "plausible": sum(row["plausible"] for row in per_item) / n if n else 0.0,
        }

"""cti-vsp: predict the CVSS v3 base vector of a CVE description; scored by mean absolute deviation."""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Sequence

from cvss import CVSS3
from cvss.exceptions import CVSSError

from ctiforge.benchmarks._task import CveDescriptionPrompt, Task
from ctiforge.benchmarks._types import Item, Parsed
from ctiforge.errors import ConfigError, DataFormatError

VSP_RULES = ("strict", "lenient", "ctibench")
BASE_METRICS: dict[str, str] = {
    "AV": "NALP",
    "AC": "LH",
    "PR": "NLH",
    "UI": "NR",
    "S": "UC",
    "C": "NLH",
    "I": "NLH",
    "A": "NLH",
}
# Version assumed for a vector written without the "CVSS:3.x/" prefix: the
# dataset's prompt asks for a CVSS v3.1 vector.
DEFAULT_VERSION = "3.1"
# The benchmark notebook scores predictions as "CVSS:3.0/" + response.
CTIBENCH_VERSION = "3.0"

_VECTOR = re.compile(
    r"(?:CVSS:(3\.[01])/)?"
    r"AV:([NALP])/AC:([LH])/PR:([NLH])/UI:([NR])/S:([UC])/C:([NLH])/I:([NLH])/A:([NLH])"
    r"(?![A-Za-z0-9])"
)
_VECTOR_ANY_CASE = re.compile(_VECTOR.pattern, re.IGNORECASE)
_METRIC = re.compile(r"(?<![A-Za-z])(AV|AC|PR|UI|S|C|I|A)\s*:\s*([A-Za-z])(?![A-Za-z])", re.IGNORECASE)
_VERSION = re.compile(r"CVSS\s*:\s*(3\.[01])", re.IGNORECASE)


def _vector(version: str, values: Sequence[str]) -> str:
    metrics = "/".join(f"{key}:{value.upper()}" for key, value in zip(BASE_METRICS, values))
    return f"CVSS:{version}/{metrics}"


def _metrics_on_line(line: str) -> list[str] | None:
    found: dict[str, str] = {}
    for key, value in _METRIC.findall(line):
        found[key.upper()] = value.upper()
    if set(found) != set(BASE_METRICS):
        return None
    if any(found[key] not in allowed for key, allowed in BASE_METRICS.items()):
        return None
    return [found[key] for key in BASE_METRICS]


def extract_cvss_vector(text: str | None, rule: str = "strict") -> Parsed:
    """Extract a CVSS v3 base vector, returned as ``CVSS:3.x/AV:../AC:../PR:../UI:../S:../C:../I:../A:..``.

    Every base metric must be present with a value the CVSS v3 specification allows;
    anything else is unparseable. The version comes from a ``CVSS:3.0/`` or
    ``CVSS:3.1/`` prefix in the response, else 3.1 (the version the prompt asks for).

    Rules (step names in `Parsed.step`):

    ``strict``: ``vector``, the last vector in canonical order (AV/AC/PR/UI/S/C/I/A),
    upper case, with or without the version prefix; temporal metrics after it are ignored.

    ``lenient``:
      1. ``vector``: as strict, in any letter case.
      2. ``metrics_on_line``: the last line naming all eight metrics as ``KEY:VALUE``,
         in any order and with any separators ("AV:N, AC:L, ...").

    ``ctibench``: ``whole_response``, the stripped response is one vector in canonical
    order and nothing else; it is scored as ``"CVSS:3.0/" + vector`` as the benchmark
    notebook does, so a version prefix in the response is replaced by 3.0.
    """
    if rule not in VSP_RULES:
        raise ConfigError(f"cti-vsp has no answer rule {rule!r}; use one of: {', '.join(VSP_RULES)}")
    if not isinstance(text, str):
        return Parsed(None, rule, None, 0)
    raw_len = len(text)

    if rule == "ctibench":
        match = _VECTOR.fullmatch(text.strip())
        if match:
            return Parsed(_vector(CTIBENCH_VERSION, match.groups()[1:]), rule, "whole_response", raw_len)
        return Parsed(None, rule, None, raw_len)

    pattern = _VECTOR if rule == "strict" else _VECTOR_ANY_CASE
    last = None
    for match in pattern.finditer(text):
        last = match
    if last is not None:
        return Parsed(_vector(last.group(1) or DEFAULT_VERSION, last.groups()[1:]), rule, "vector", raw_len)
    if rule == "strict":
        return Parsed(None, rule, None, raw_len)

    for line in reversed(text.splitlines()):
        values = _metrics_on_line(line)
        if values is not None:
            version = _VERSION.search(line)
            return Parsed(_vector(version.group(1) if version else DEFAULT_VERSION, values), rule, "metrics_on_line", raw_len)
    return Parsed(None, rule, None, raw_len)


# There are 2,592 base vectors per version, so every one fits in the cache.
@functools.lru_cache(maxsize=8192)
def base_score(vector: str) -> float:
    """Return the CVSS v3 base score of a vector that carries its ``CVSS:3.x/`` prefix."""
    return float(CVSS3(vector).scores()[0])


class VspTask(CveDescriptionPrompt, Task):
    """cti-vsp: 1,000 CVEs with their NVD CVSS v3.1 vector; the metric is mean absolute deviation (MAD)."""

    name = "cti-vsp"
    file_name = "cti-vsp.tsv"
    rules = VSP_RULES
    primary_metric = "mad"
    higher_is_better = False
    required_columns = ("URL", "Description", "Prompt", "GT")

    def normalize_gold(self, text: str, *, where: str) -> Any:
        match = _VECTOR.fullmatch(text.strip())
        if not match:
            raise DataFormatError(f"{where}: gold answer {text!r} is not a CVSS v3 base vector")
        return _vector(match.group(1) or DEFAULT_VERSION, match.groups()[1:])

    def _extract(self, response: str, rule: str) -> Parsed:
        return extract_cvss_vector(response, rule)

    def _score_item(self, item: Item, parsed: Parsed) -> dict[str, Any]:
        gold_score = base_score(item.gold)
        if parsed.value is None:
            return {"gold_score": gold_score, "pred_score": None, "abs_error": None, "exact": False}
        try:
            pred_score = base_score(parsed.value)
        except CVSSError:
            # The extractor validates every metric, so this means the cvss
            # package rejects a vector the specification allows.
            return {"gold_score": gold_score, "pred_score": None, "abs_error": None, "exact": False}
        exact = parsed.value.split("/", 1)[1] == item.gold.split("/", 1)[1]
        return {"gold_score": gold_score, "pred_score": pred_score, "abs_error": abs(pred_score - gold_score), "exact": exact}

    def _aggregate(self, per_item: list[dict[str, Any]], parsed: list[Parsed]) -> dict[str, float]:
        errors = [row["abs_error"] for row in per_item if row["abs_error"] is not None]
        scored = len(errors)
        return {
            "n_parseable": scored,
            "mad": sum(errors) / scored if scored else math.nan,
            "exact_vector": sum(row["exact"] for row in per_item) / scored if scored else math.nan,
        }

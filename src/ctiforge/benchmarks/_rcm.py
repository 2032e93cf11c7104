"""cti-rcm and cti-rcm-2021: map a CVE description to its root-cause CWE."""

from __future__ import annotations

import re
from typing import Any

from ctiforge.benchmarks._task import AccuracyTask, CveDescriptionPrompt
from ctiforge.benchmarks._types import Parsed
from ctiforge.errors import ConfigError, DataFormatError

RCM_RULES = ("strict", "lenient", "ctibench")

_STRICT_CWE = re.compile(r"CWE-(\d+)", re.IGNORECASE)
# The lenient form also accepts "CWE 79", "CWE79", "CWE_79", "CWE: 79" and "CWE‑79"
# (non-breaking hyphen), but not "NVD-CWE-Other" because digits must follow.
_LENIENT_CWE = re.compile(r"(?<![A-Za-z])CWE\s*[-‐‑–_:]?\s*(\d+)(?![\d])", re.IGNORECASE)
_WHOLE_CWE = re.compile(r"CWE-(\d+)", re.IGNORECASE)


def _cwe(digits: str) -> str:
    return f"CWE-{int(digits)}"


def extract_cwe(text: str | None, rule: str = "strict") -> Parsed:
    """Extract a CWE ID (normalised to ``CWE-<N>`` without leading zeros) from a response.

    Rules (step names in `Parsed.step`):

    ``strict``: ``last_cwe``, the last ``CWE-<digits>`` anywhere, any case.

    ``lenient``:
      1. ``last_line``: the last CWE ID on the last non-empty line that contains one,
         written ``CWE-79``, ``CWE 79``, ``CWE79``, ``CWE_79`` or ``CWE: 79``. The
         dataset's prompt asks for the ID on the last line.
      2. ``bare_number``: the last non-empty line is only a number ("79"), read as CWE-79.

    ``ctibench``: ``whole_response``, the stripped response is exactly ``CWE-<digits>``
    (any case), the benchmark notebook's comparison of the answer column with the gold column.
    """
    if rule not in RCM_RULES:
        raise ConfigError(f"cti-rcm has no answer rule {rule!r}; use one of: {', '.join(RCM_RULES)}")
    if not isinstance(text, str):
        return Parsed(None, rule, None, 0)
    raw_len = len(text)

    if rule == "ctibench":
        match = _WHOLE_CWE.fullmatch(text.strip())
        if match:
            return Parsed(_cwe(match.group(1)), rule, "whole_response", raw_len)
        return Parsed(None, rule, None, raw_len)

    if rule == "strict":
        found = None
        for match in _STRICT_CWE.finditer(text):
            found = match.group(1)
        if found is None:
            return Parsed(None, rule, None, raw_len)
        return Parsed(_cwe(found), rule, "last_cwe", raw_len)

    lines = [line for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        matches = _LENIENT_CWE.findall(line)
        if matches:
            return Parsed(_cwe(matches[-1]), rule, "last_line", raw_len)
    if lines:
        bare = lines[-1].strip().strip("*`.").strip()
        if bare.isdigit():
            return Parsed(_cwe(bare), rule, "bare_number", raw_len)
    return Parsed(None, rule, None, raw_len)


class RcmTask(CveDescriptionPrompt, AccuracyTask):
    """cti-rcm: 1,000 CVEs (mostly 2023-2024) mapped to one CWE each."""

    name = "cti-rcm"
    file_name = "cti-rcm.tsv"
    rules = RCM_RULES
    required_columns = ("URL", "Description", "Prompt", "GT")

    def normalize_gold(self, text: str, *, where: str) -> Any:
        match = _WHOLE_CWE.fullmatch(text.strip())
        if not match:
            raise DataFormatError(f"{where}: gold answer {text!r} is not a CWE ID such as CWE-79")
        return _cwe(match.group(1))

    def _extract(self, response: str, rule: str) -> Parsed:
        return extract_cwe(response, rule)


class Rcm2021Task(RcmTask):
    """cti-rcm-2021: 1,000 CVEs published in 2021 (IDs from CVE-2011 to CVE-2021)."""

    name = "cti-rcm-2021"
    file_name = "cti-rcm-2021.tsv"

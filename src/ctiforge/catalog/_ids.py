"""One normaliser for the CWE ID forms that people, feeds and models write."""

from __future__ import annotations

import re

from ctiforge.errors import UnknownIdError

NVD_OTHER = "NVD-CWE-Other"
NVD_NOINFO = "NVD-CWE-noinfo"

# Hyphen-like characters that models and word processors put in place of "-":
# hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus sign.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_CWE_PATTERN = re.compile(rf"(?:cwe\s*[{_DASHES}_:]?\s*)?0*([1-9][0-9]{{0,5}})", re.IGNORECASE)
_NVD_PATTERN = re.compile(rf"nvd[{_DASHES}]cwe[{_DASHES}](other|noinfo)", re.IGNORECASE)

ACCEPTED_FORMS = "CWE-79, cwe-79, CWE 79, CWE79, 79, NVD-CWE-Other or NVD-CWE-noinfo"


def normalize_cwe_id(value: str | int) -> str:
    """Return the canonical form ("CWE-79", NVD_OTHER or NVD_NOINFO) of a CWE ID.

    Accepts "CWE-79", "cwe-79", "CWE 79", "CWE79", "CWE_79", "CWE:79", "79",
    leading zeros ("CWE-079"), surrounding whitespace, Unicode dashes and a
    positive int. NVD's two labels are accepted in any case. The result is not
    checked against a catalog: use `Catalog.get` for that.

    Raises:
        UnknownIdError: the text is not a CWE ID in any of these forms.
    """
    if isinstance(value, bool):
        raise UnknownIdError(f"{value!r} is not a CWE ID; accepted forms: {ACCEPTED_FORMS}")
    if isinstance(value, int):
        if value < 1:
            raise UnknownIdError(f"{value} is not a CWE ID: CWE numbers start at 1")
        return f"CWE-{value}"
    if not isinstance(value, str):
        raise UnknownIdError(f"{value!r} is not a CWE ID; accepted forms: {ACCEPTED_FORMS}")

    text = value.strip()
    nvd = _NVD_PATTERN.fullmatch(text)
    if nvd is not None:
        return NVD_OTHER if nvd.group(1).lower() == "other" else NVD_NOINFO
    match = _CWE_PATTERN.fullmatch(text)
    if match is None:
        raise UnknownIdError(f"{value!r} is not a CWE ID; accepted forms: {ACCEPTED_FORMS}")
    return f"CWE-{int(match.group(1))}"


def parse_cwe_id(value: str | int) -> str | None:
    """Return the canonical form of a CWE ID like `normalize_cwe_id`, or None if it is not one."""
    try:
        return normalize_cwe_id(value)
    except UnknownIdError:
        return None


def is_nvd_label(cwe_id: str) -> bool:
    """Return whether a canonical ID is one of NVD's two labels rather than a CWE number."""
    return cwe_id in (NVD_OTHER, NVD_NOINFO)


def cwe_number(cwe_id: str) -> int:
    """Return the number of a canonical "CWE-<n>" ID."""
    return int(cwe_id[4:])

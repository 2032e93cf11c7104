"""The CWE ID normaliser: every accepted form, and rejection of everything else."""

from __future__ import annotations

import pytest

from ctiforge.catalog import NVD_NOINFO, NVD_OTHER, normalize_cwe_id, parse_cwe_id
from ctiforge.errors import UnknownIdError

ACCEPTED = [
    ("CWE-79", "CWE-79"),
    ("cwe-79", "CWE-79"),
    ("CWE 79", "CWE-79"),
    ("CWE79", "CWE-79"),
    ("79", "CWE-79"),
    (" CWE-079 ", "CWE-79"),
    ("Cwe_787", "CWE-787"),
    ("CWE:787", "CWE-787"),
    ("CWE\u2011787", "CWE-787"),
    ("CWE \u2013 787", "CWE-787"),
    ("\tcwe-1333\n", "CWE-1333"),
    (79, "CWE-79"),
    ("NVD-CWE-Other", NVD_OTHER),
    ("nvd-cwe-other", NVD_OTHER),
    ("NVD-CWE-OTHER", NVD_OTHER),
    ("NVD-CWE-noinfo", NVD_NOINFO),
    (" nvd-cwe-NOINFO ", NVD_NOINFO),
]

REJECTED = [
    "",
    "   ",
    "CWE",
    "CWE-",
    "CWE-0",
    "0",
    "-79",
    "CWE-79a",
    "CWE-79, CWE-89",
    "CAPEC-63",
    "CVE-2021-44228",
    "T1059",
    "NVD-CWE",
    "NVD-CWE-unknown",
    "cross-site scripting",
    "CWE-1234567",
    "7.9",
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_normalize_accepted_form(text: str | int, expected: str) -> None:
    assert normalize_cwe_id(text) == expected


@pytest.mark.parametrize("text", REJECTED)
def test_normalize_rejects_non_id(text: str) -> None:
    with pytest.raises(UnknownIdError):
        normalize_cwe_id(text)


def test_normalize_error_names_text_and_forms() -> None:
    with pytest.raises(UnknownIdError) as raised:
        normalize_cwe_id("CAPEC-63")
    message = str(raised.value)
    assert "'CAPEC-63'" in message
    assert "CWE-79" in message
    assert NVD_NOINFO in message


@pytest.mark.parametrize("value", [0, -5, True, None, 7.0])
def test_normalize_rejects_non_text_values(value: object) -> None:
    with pytest.raises(UnknownIdError):
        normalize_cwe_id(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_parse_accepted_form(text: str | int, expected: str) -> None:
    assert parse_cwe_id(text) == expected


@pytest.mark.parametrize("text", REJECTED)
def test_parse_returns_none_for_non_id(text: str) -> None:
    assert parse_cwe_id(text) is None


def test_nvd_label_constants() -> None:
    assert (NVD_OTHER, NVD_NOINFO) == ("NVD-CWE-Other", "NVD-CWE-noinfo")

"""Turn one decoded NVD or CVE JSON record into a `CveRecord` or a `SkippedRecord`.

Field names follow the NVD JSON 1.1 feed schema, the NVD CVE API 2.0 schema
(`cve_api_json_2.0.schema`) and the CVE JSON 5 record format of the CVE
Program (`CVE_Record_Format`, data versions 5.0 to 5.2).
"""

from __future__ import annotations

import re
from typing import Any

from ctiforge.sources._records import CveRecord, SkippedRecord, find_cwes, merge_labels, normalise_cwe

# NVD API 2.0 identifies some label sources by UUID instead of e-mail address.
KNOWN_SOURCE_IDS: dict[str, str] = {
    "134c704f-9b21-4f2e-91b3-4a467353bcc0": "adp:CISA-ADP",
    "af854a3a-2127-422b-91ae-364da2661108": "adp:CVE",
}
NVD_SOURCE = "nvd@nist.gov"

# Invalid UTF-8 bytes decode to these lone surrogates (errors="surrogateescape").
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
_REJECTED_PREFIX = "** REJECT **"


def classify(value: Any) -> str | None:
    """Return the format name of one decoded record, or None for any other JSON value."""
    if not isinstance(value, dict):
        return None
    inner = value.get("cve")
    if isinstance(inner, dict):
        if "CVE_data_meta" in inner:
            return "nvd-json-1.1"
        if "id" in inner:
            return "nvd-api-2.0"
    if "cveMetadata" in value or value.get("dataType") == "CVE_RECORD":
        return "cve-json-5"
    if "id" in value and ("descriptions" in value or "vulnStatus" in value):
        return "nvd-api-2.0"
    return None


def extract(fmt: str, value: dict[str, Any], *, source: str, locator: str, max_chars: int) -> CveRecord | SkippedRecord:
    """Build the record for one decoded value of format `fmt` (see `classify`)."""
    if fmt == "nvd-json-1.1":
        return _from_nvd_feed(value, source=source, locator=locator, max_chars=max_chars)
    if fmt == "nvd-api-2.0":
        cve = value["cve"] if isinstance(value.get("cve"), dict) else value
        return _from_nvd_api(cve, source=source, locator=locator, max_chars=max_chars)
    return _from_cve5(value, source=source, locator=locator, max_chars=max_chars)


def finish_text(
    text: str, *, source: str, locator: str, cve_id: str | None, max_chars: int
) -> tuple[str, bool] | SkippedRecord:
    """Check a description and cut it to `max_chars`; return (text, truncated) or the skip."""
    bad = _UNDECODABLE.search(text)
    if bad is not None:
        byte = ord(bad.group()) - 0xDC00
        return SkippedRecord(
            source, locator, cve_id,
            f"text is not valid UTF-8 (byte 0x{byte:02x} at character {bad.start() + 1}); save the file as UTF-8",
            "not-utf8",
        )
    stripped = text.strip()
    if not stripped:
        reason = "text is empty" if not text else "text contains only whitespace"
        return SkippedRecord(source, locator, cve_id, reason, "empty")
    if len(stripped) > max_chars:
        return stripped[:max_chars], True
    return stripped, False


def _english(entries: Any, key: str = "value") -> tuple[str | None, list[str]]:
    """Return the first English text of a list of {"lang", key} entries and the languages seen."""
    languages: list[str] = []
    if not isinstance(entries, list):
        return None, languages
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        lang = str(entry.get("lang", ""))
        languages.append(lang)
        text = entry.get(key)
        if lang.lower().split("-")[0] == "en" and isinstance(text, str):
            return text, languages
    return None, languages


def _no_english(source: str, locator: str, cve_id: str | None, languages: list[str]) -> SkippedRecord:
    if languages:
        reason = f"no English description (languages found: {', '.join(languages)})"
    else:
        reason = "no description"
    return SkippedRecord(source, locator, cve_id, reason, "no-english")


def _valid_id(value: Any) -> str | None:
    if isinstance(value, str) and _CVE_ID.match(value.strip()):
        return value.strip()
    return None


def _build(
    *, source: str, locator: str, cve_id: str | None, text: str, labels: list[tuple[str, str]],
    vector: str | None, published: str | None, state: str, max_chars: int,
) -> CveRecord | SkippedRecord:
    finished = finish_text(text, source=source, locator=locator, cve_id=cve_id, max_chars=max_chars)
    if isinstance(finished, SkippedRecord):
        return finished
    description, truncated = finished
    cwes, cwe_sources = merge_labels(labels)
    return CveRecord(
        source=source, locator=locator, cve_id=cve_id, description=description,
        cwes=cwes, cwe_sources=cwe_sources, cvss_v3_vector=vector, published=published,
        state=state, truncated=truncated,
    )


def _from_nvd_feed(item: dict[str, Any], *, source: str, locator: str, max_chars: int) -> CveRecord | SkippedRecord:
    cve = item.get("cve", {})
    cve_id = _valid_id(cve.get("CVE_data_meta", {}).get("ID"))
    text, languages = _english(cve.get("description", {}).get("description_data"))
    if text is None:
        return _no_english(source, locator, cve_id, languages)
    if text.startswith(_REJECTED_PREFIX):
        return SkippedRecord(source, locator, cve_id, "rejected CVE (the description starts with '** REJECT **')", "rejected")

    labels: list[tuple[str, str]] = []
    for problem in cve.get("problemtype", {}).get("problemtype_data", []) or []:
        for entry in problem.get("description", []) or []:
            label = normalise_cwe(str(entry.get("value", "")))
            if label:
                labels.append((label, "nvd"))

    vector = item.get("impact", {}).get("baseMetricV3", {}).get("cvssV3", {}).get("vectorString")
    return _build(
        source=source, locator=locator, cve_id=cve_id, text=text, labels=labels,
        vector=vector, published=item.get("publishedDate"), state="PUBLISHED", max_chars=max_chars,
    )


def _api_source_name(source_id: str, record_source: str | None, weakness_type: str) -> str:
    if source_id == NVD_SOURCE:
        return "nvd-primary" if weakness_type == "Primary" else "nvd-secondary"
    if source_id in KNOWN_SOURCE_IDS:
        return KNOWN_SOURCE_IDS[source_id]
    if record_source is not None and source_id == record_source:
        return "cna"
    return f"other:{source_id}"


def _from_nvd_api(cve: dict[str, Any], *, source: str, locator: str, max_chars: int) -> CveRecord | SkippedRecord:
    cve_id = _valid_id(cve.get("id"))
    status = str(cve.get("vulnStatus", ""))
    if status.lower() == "rejected":
        return SkippedRecord(source, locator, cve_id, "rejected CVE (vulnStatus is 'Rejected')", "rejected")
    text, languages = _english(cve.get("descriptions"))
    if text is None:
        return _no_english(source, locator, cve_id, languages)

    record_source = cve.get("sourceIdentifier")
    labels: list[tuple[str, str]] = []
    for weakness in cve.get("weaknesses", []) or []:
        name = _api_source_name(str(weakness.get("source", "")), record_source, str(weakness.get("type", "")))
        for entry in weakness.get("description", []) or []:
            label = normalise_cwe(str(entry.get("value", "")))
            if label:
                labels.append((label, name))

    return _build(
        source=source, locator=locator, cve_id=cve_id, text=text, labels=labels,
        vector=_api_vector(cve.get("metrics", {})), published=cve.get("published"),
        state="PUBLISHED", max_chars=max_chars,
    )


def _api_vector(metrics: Any) -> str | None:
    """Pick the CVSS v3 vector, preferring v3.1 over v3.0 and NVD's Primary score over others."""
    if not isinstance(metrics, dict):
        return None
    for key in ("cvssMetricV31", "cvssMetricV30"):
        entries = [m for m in metrics.get(key, []) or [] if isinstance(m, dict)]
        entries.sort(key=lambda m: m.get("type") != "Primary")
        for entry in entries:
            vector = entry.get("cvssData", {}).get("vectorString")
            if vector:
                return vector
    return None


def _cve5_labels(container: dict[str, Any], name: str) -> list[tuple[str, str]]:
    labels: list[tuple[str, str]] = []
    for problem in container.get("problemTypes", []) or []:
        for entry in problem.get("descriptions", []) or []:
            if not isinstance(entry, dict):
                continue
            # Some CNAs give the CWE only in the free-text description, with no cweId.
            found = [normalise_cwe(str(entry["cweId"]))] if entry.get("cweId") else []
            if not any(found):
                found = find_cwes(str(entry.get("description", "")))
            labels.extend((label, name) for label in found if label)
    return labels


def _cve5_vector(containers: list[dict[str, Any]]) -> str | None:
    for container in containers:
        for metric in container.get("metrics", []) or []:
            for key in ("cvssV3_1", "cvssV3_0"):
                vector = (metric.get(key) or {}).get("vectorString") if isinstance(metric, dict) else None
                if vector:
                    return vector
    return None


def _from_cve5(record: dict[str, Any], *, source: str, locator: str, max_chars: int) -> CveRecord | SkippedRecord:
    meta = record.get("cveMetadata", {}) or {}
    cve_id = _valid_id(meta.get("cveId"))
    state = str(meta.get("state", "PUBLISHED")).upper()
    containers = record.get("containers", {}) or {}
    cna = containers.get("cna", {}) or {}
    if state == "REJECTED":
        return SkippedRecord(source, locator, cve_id, "rejected CVE (cveMetadata.state is REJECTED)", "rejected")
    text, languages = _english(cna.get("descriptions"))
    if text is None:
        return _no_english(source, locator, cve_id, languages)

    labels = _cve5_labels(cna, "cna")
    adps = [adp for adp in containers.get("adp", []) or [] if isinstance(adp, dict)]
    for adp in adps:
        short_name = (adp.get("providerMetadata") or {}).get("shortName") or "unknown"
        labels.extend(_cve5_labels(adp, f"adp:{short_name}"))

    return _build(
        source=source, locator=locator, cve_id=cve_id, text=text, labels=labels,
        vector=_cve5_vector([cna, *adps]), published=meta.get("datePublished"),
        state=state, max_chars=max_chars,
    )

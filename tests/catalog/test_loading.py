"""Loading catalogs from files: schema versions, plain XML, memoisation and the JSON cache."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ctiforge.catalog import SHIPPED_CATALOG, Catalog, load_catalog
from ctiforge.catalog._cache import PARSER_VERSION, prebuilt_path, write_prebuilt


def _cache_file(home: Path, source: Path) -> Path:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return home / "catalog" / f"cwe-{digest}.json.gz"


def test_shipped_catalog_path_exists() -> None:
    assert SHIPPED_CATALOG.is_file()


def test_load_is_memoised(catalog: Catalog) -> None:
    assert load_catalog() is catalog


def test_explicit_shipped_path_shares_memo(catalog: Catalog) -> None:
    assert load_catalog(str(SHIPPED_CATALOG)) is catalog


def test_small_catalog_version(small_catalog_xml: Path) -> None:
    assert load_catalog(small_catalog_xml).version == "4.1"


def test_small_catalog_entries(small_catalog_xml: Path) -> None:
    catalog = load_catalog(small_catalog_xml)
    assert sorted(catalog.entries) == ["CWE-1003", "CWE-1215", "CWE-1284", "CWE-20", "CWE-9"]


def test_small_catalog_entry_fields(small_catalog_xml: Path) -> None:
    entry = load_catalog(small_catalog_xml).get(1284)
    assert entry.parents == {699: ["CWE-1215"], 1000: ["CWE-20"]}
    assert entry.extended_description == "First paragraph.\nSecond paragraph."
    assert entry.observed_examples == ["CVE-2022-21668"]
    assert entry.related_capec == ["CAPEC-100"]
    assert entry.mapping_usage is None


def test_small_catalog_nvd_view(small_catalog_xml: Path) -> None:
    catalog = load_catalog(small_catalog_xml)
    assert catalog.view_members(1003) == ["CWE-20"]
    assert catalog.nvd_ancestor(1284) == "CWE-20"


def test_small_catalog_replacement(small_catalog_xml: Path) -> None:
    assert load_catalog(small_catalog_xml).get(9).replaced_by == ["CWE-1284"]


def test_small_catalog_category_children(small_catalog_xml: Path) -> None:
    assert load_catalog(small_catalog_xml).get(1215).children == {699: ["CWE-1284"]}


def test_shipped_prebuilt_is_current() -> None:
    prebuilt = prebuilt_path(SHIPPED_CATALOG)
    with gzip.open(prebuilt, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    hint = "regenerate it with: python -m ctiforge.catalog._prebuild"
    assert data["source_sha256"] == hashlib.sha256(SHIPPED_CATALOG.read_bytes()).hexdigest(), hint
    assert data["parser_version"] == PARSER_VERSION, hint


def test_plain_xml_matches_prebuilt(catalog: Catalog, tmp_path: Path) -> None:
    # Parsing the extracted XML must give exactly the entries of the shipped
    # prebuilt file that the `catalog` fixture loaded.
    with zipfile.ZipFile(SHIPPED_CATALOG) as archive:
        archive.extractall(tmp_path)
    plain = load_catalog(tmp_path / "cwec_v4.14.xml")
    assert plain.version == catalog.version
    assert list(plain) == list(catalog)


def test_prebuilt_beside_source_used(small_catalog_xml: Path, isolated_home: Path) -> None:
    prebuilt = write_prebuilt(small_catalog_xml)
    with gzip.open(prebuilt, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    data["entries"][0]["name"] = "Name read from the prebuilt file"
    with gzip.open(prebuilt, "wt", encoding="utf-8") as handle:
        json.dump(data, handle)

    names = {entry.name for entry in load_catalog(small_catalog_xml)}
    assert "Name read from the prebuilt file" in names
    assert not (isolated_home / "catalog").exists()


def test_stale_prebuilt_ignored(small_catalog_xml: Path, small_catalog_text: str) -> None:
    write_prebuilt(small_catalog_xml)
    small_catalog_xml.write_text(
        small_catalog_text.replace("Improper Input Validation", "Renamed Input Validation Entry"), encoding="utf-8"
    )
    assert load_catalog(small_catalog_xml).get(20).name == "Renamed Input Validation Entry"


def test_prebuilt_is_reproducible(small_catalog_xml: Path) -> None:
    first = write_prebuilt(small_catalog_xml).read_bytes()
    assert write_prebuilt(small_catalog_xml).read_bytes() == first


def test_cache_written_under_home(small_catalog_xml: Path, isolated_home: Path) -> None:
    load_catalog(small_catalog_xml)
    assert _cache_file(isolated_home, small_catalog_xml).is_file()


def test_cache_read_for_same_bytes(small_catalog_xml: Path, isolated_home: Path, tmp_path: Path) -> None:
    load_catalog(small_catalog_xml)
    cache_file = _cache_file(isolated_home, small_catalog_xml)
    with gzip.open(cache_file, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    for item in data["entries"]:
        if item["id"] == "CWE-20":
            item["name"] = "Name read from the cache"
    with gzip.open(cache_file, "wt", encoding="utf-8") as handle:
        json.dump(data, handle)

    copy = tmp_path / "copy" / "cwec_v4.1.xml"
    copy.parent.mkdir()
    shutil.copyfile(small_catalog_xml, copy)
    assert load_catalog(copy).get(20).name == "Name read from the cache"


@pytest.mark.parametrize(
    "damage",
    [b"not gzip at all", gzip.compress(b"{not json"), gzip.compress(b'{"entries": [{"bogus": 1}]}'),
     gzip.compress(b"[1, 2, 3]"), b""],
    ids=["not-gzip", "bad-json", "wrong-shape", "json-list", "empty"],
)
def test_corrupted_cache_rebuilt(small_catalog_xml: Path, isolated_home: Path, tmp_path: Path,
                                 damage: bytes, caplog: pytest.LogCaptureFixture) -> None:
    load_catalog(small_catalog_xml)
    cache_file = _cache_file(isolated_home, small_catalog_xml)
    cache_file.write_bytes(damage)

    copy = tmp_path / "copy.xml"
    shutil.copyfile(small_catalog_xml, copy)
    with caplog.at_level(logging.INFO, logger="ctiforge.catalog"):
        catalog = load_catalog(copy)
    assert "ignoring" in caplog.text
    assert catalog.get(20).name == "Improper Input Validation"
    with gzip.open(cache_file, "rt", encoding="utf-8") as handle:
        assert len(json.load(handle)["entries"]) == 5


def test_cache_of_other_parser_version_rebuilt(small_catalog_xml: Path, isolated_home: Path,
                                               tmp_path: Path) -> None:
    load_catalog(small_catalog_xml)
    cache_file = _cache_file(isolated_home, small_catalog_xml)
    with gzip.open(cache_file, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    data["parser_version"] = -1
    data["entries"][0]["name"] = "stale"
    with gzip.open(cache_file, "wt", encoding="utf-8") as handle:
        json.dump(data, handle)

    copy = tmp_path / "copy.xml"
    shutil.copyfile(small_catalog_xml, copy)
    assert "stale" not in {entry.name for entry in load_catalog(copy)}


def test_unwritable_cache_still_loads(small_catalog_xml: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("CTIFORGE_HOME", str(blocker))
    assert len(load_catalog(small_catalog_xml)) == 5


def test_changed_file_reloaded(small_catalog_xml: Path, small_catalog_text: str) -> None:
    assert load_catalog(small_catalog_xml).get(20).name == "Improper Input Validation"
    small_catalog_xml.write_text(
        small_catalog_text.replace("Improper Input Validation", "Renamed Input Validation Entry"), encoding="utf-8"
    )
    assert load_catalog(small_catalog_xml).get(20).name == "Renamed Input Validation Entry"


def test_catalog_import_avoids_torch() -> None:
    code = (
        "import sys\n"
        "from ctiforge.catalog import load_catalog\n"
        "from ctiforge._cli import cwe\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""

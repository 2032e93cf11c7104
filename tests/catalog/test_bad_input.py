"""Hostile, damaged and wrong catalog files: one-line DataFormatError, exit status 2 in the CLI."""

from __future__ import annotations

import os
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ctiforge.catalog import SHIPPED_CATALOG, load_catalog
from ctiforge.errors import DataFormatError

CWE_ROOT = '<Weakness_Catalog Name="CWE" Version="4.14" xmlns="http://cwe.mitre.org/cwe-7">'

def _external_entity(tmp_path: Path, target: Path | None = None) -> Path:
    if target is None:
        target = tmp_path / "secret.txt"
        target.write_text("TOP-SECRET-CONTENT")
    path = tmp_path / "external-entity.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE Weakness_Catalog [<!ENTITY secret SYSTEM "{target.as_uri()}">]>\n'
        f"{CWE_ROOT}<Weaknesses>"
        '<Weakness ID="1" Name="&secret;" Abstraction="Base" Structure="Simple" Status="Draft">'
        "<Description>&secret;</Description></Weakness></Weaknesses></Weakness_Catalog>\n"
    )
    return path


def _external_dtd(tmp_path: Path, target: Path | None = None) -> Path:
    if target is None:
        target = tmp_path / "evil.dtd"
        target.write_text('<!ENTITY name "from the external DTD">')
    path = tmp_path / "external-dtd.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE Weakness_Catalog SYSTEM "{target.as_uri()}">\n'
        f"{CWE_ROOT}<Weaknesses/></Weakness_Catalog>\n"
    )
    return path


def _parameter_entity(tmp_path: Path, target: Path | None = None) -> Path:
    if target is None:
        target = tmp_path / "evil-parameter.dtd"
        target.write_text('<!ENTITY name "from a parameter entity">')
    path = tmp_path / "parameter-entity.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE Weakness_Catalog [<!ENTITY % remote SYSTEM "{target.as_uri()}"> %remote;]>\n'
        f"{CWE_ROOT}<Weaknesses/></Weakness_Catalog>\n"
    )
    return path


def _entity_bomb(tmp_path: Path) -> Path:
    # Ten levels of ten references: 10**9 copies of "lol" (3 GB) if expanded.
    levels = ['<!ENTITY lol0 "lol">']
    levels += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    path = tmp_path / "entity-bomb.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<!DOCTYPE Weakness_Catalog [{''.join(levels)}]>\n"
        f"{CWE_ROOT}<Weaknesses>"
        '<Weakness ID="1" Name="bomb" Abstraction="Base" Structure="Simple" Status="Draft">'
        "<Description>&lol9;</Description></Weakness></Weaknesses></Weakness_Catalog>\n"
    )
    return path


def _hostile_in_zip(tmp_path: Path) -> Path:
    inner = _entity_bomb(tmp_path)
    path = tmp_path / "cwec_v4.14.xml.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(inner, "cwec_v4.14.xml")
    return path


HOSTILE: dict[str, Callable[[Path], Path]] = {
    "external-entity": _external_entity,
    "external-dtd": _external_dtd,
    "parameter-entity": _parameter_entity,
    "entity-bomb": _entity_bomb,
    "bomb-in-zip": _hostile_in_zip,
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_xml_rejected(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path)
    with pytest.raises(DataFormatError, match="DTD") as raised:
        load_catalog(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("make", [_external_entity, _external_dtd, _parameter_entity],
                         ids=["external-entity", "external-dtd", "parameter-entity"])
def test_hostile_xml_opens_no_other_file(tmp_path: Path, make: Callable[..., Path]) -> None:
    # The external reference points at a FIFO. Opening a FIFO for reading
    # blocks until a writer appears, so a parser that follows the reference,
    # in Python or in C, hangs in the worker thread instead of returning.
    fifo = tmp_path / "target.fifo"
    os.mkfifo(fifo)
    path = make(tmp_path, fifo)
    outcome: dict[str, BaseException] = {}

    def load() -> None:
        try:
            load_catalog(path)
        except Exception as exc:  # noqa: BLE001 - checked below
            outcome["error"] = exc

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=30)
    opened = worker.is_alive()
    if opened:
        # Open the writing end so that the blocked reader gets end-of-file and returns.
        os.close(os.open(fifo, os.O_WRONLY))
        worker.join(timeout=10)
    assert not opened, f"loading {path.name} opened the file its external reference names"
    assert isinstance(outcome.get("error"), DataFormatError)


def test_external_entity_content_not_leaked(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError) as raised:
        load_catalog(_external_entity(tmp_path))
    assert "TOP-SECRET-CONTENT" not in str(raised.value)


def test_entity_bomb_memory_bounded(tmp_path: Path) -> None:
    path = _entity_bomb(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError):
            load_catalog(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def _truncated_zip(tmp_path: Path) -> Path:
    data = SHIPPED_CATALOG.read_bytes()
    path = tmp_path / "truncated.xml.zip"
    path.write_bytes(data[: len(data) // 2])
    return path


def _damaged_zip(tmp_path: Path) -> Path:
    # The central directory at the end stays intact, so the archive opens
    # and the damage shows while decompressing.
    data = bytearray(SHIPPED_CATALOG.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(4096)
    path = tmp_path / "damaged.xml.zip"
    path.write_bytes(bytes(data))
    return path


def _zip_without_xml(tmp_path: Path) -> Path:
    path = tmp_path / "no-xml.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("README.txt", "no catalog in here")
    return path


def _zip_with_two_xml(tmp_path: Path) -> Path:
    path = tmp_path / "two-xml.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.xml", "<a/>")
        archive.writestr("b.xml", "<b/>")
    return path


def _non_cwe_xml(tmp_path: Path) -> Path:
    path = tmp_path / "feed.xml"
    path.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>news</title></channel></rss>')
    return path


def _other_mitre_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "capec.xml"
    path.write_text(
        '<?xml version="1.0"?><Attack_Pattern_Catalog Name="CAPEC" Version="3.9" '
        'xmlns="http://capec.mitre.org/capec-3"><Attack_Patterns/></Attack_Pattern_Catalog>'
    )
    return path


def _non_utf8(tmp_path: Path, small_catalog_text: str) -> Path:
    path = tmp_path / "latin1.xml"
    path.write_bytes(small_catalog_text.replace("does not validate input", "valide l'entr\u00e9e").encode("latin-1"))
    return path


def _truncated_xml(tmp_path: Path, small_catalog_text: str) -> Path:
    path = tmp_path / "truncated.xml"
    path.write_text(small_catalog_text[: len(small_catalog_text) // 2], encoding="utf-8")
    return path


def _duplicate_id(tmp_path: Path, small_catalog_text: str) -> Path:
    path = tmp_path / "duplicate.xml"
    path.write_text(small_catalog_text.replace('<Weakness ID="9"', '<Weakness ID="20"'), encoding="utf-8")
    return path


def _empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    return path


def _no_entries(tmp_path: Path) -> Path:
    path = tmp_path / "no-entries.xml"
    path.write_text(f'<?xml version="1.0"?>{CWE_ROOT}<Weaknesses/></Weakness_Catalog>')
    return path


def _tsv_file(tmp_path: Path) -> Path:
    path = tmp_path / "some.tsv"
    path.write_text("GT\tmodel\nCWE-79\tCWE-79\n", encoding="utf-8")
    return path


def _missing_file(tmp_path: Path) -> Path:
    return tmp_path / "cwec_v9.99.xml.zip"


def _folder(tmp_path: Path) -> Path:
    return tmp_path


# Each case: builder, and a phrase the message must contain besides the path.
BAD_FILES: dict[str, tuple[Callable[..., Path], str]] = {
    "truncated-zip": (_truncated_zip, "not a readable zip archive"),
    "damaged-zip": (_damaged_zip, "could not be decompressed"),
    "zip-without-xml": (_zip_without_xml, "contains no .xml file"),
    "zip-with-two-xml": (_zip_with_two_xml, "several XML files"),
    "non-cwe-xml": (_non_cwe_xml, "not a CWE catalog"),
    "other-mitre-catalog": (_other_mitre_catalog, "not a CWE catalog"),
    "non-utf8": (_non_utf8, "not UTF-8"),
    "truncated-xml": (_truncated_xml, "not well-formed XML"),
    "empty-file": (_empty_file, "not well-formed XML"),
    "tsv-file": (_tsv_file, "is not a CWE catalog XML file (it starts with 'GT\\tmodel"),
    "no-entries": (_no_entries, "without any entries"),
    "duplicate-id": (_duplicate_id, "defines CWE-20 more than once"),
    "missing-file": (_missing_file, "not found"),
    "folder": (_folder, "is not a file"),
}


def _build(make: Callable[..., Path], tmp_path: Path, small_catalog_text: str) -> Path:
    if make in (_non_utf8, _truncated_xml, _duplicate_id):
        return make(tmp_path, small_catalog_text)
    return make(tmp_path)


@pytest.mark.parametrize(("make", "phrase"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_raises_data_format_error(tmp_path: Path, small_catalog_text: str,
                                           make: Callable[..., Path], phrase: str) -> None:
    path = _build(make, tmp_path, small_catalog_text)
    with pytest.raises(DataFormatError) as raised:
        load_catalog(path)
    message = str(raised.value)
    assert str(path) in message
    assert phrase in message
    assert "\n" not in message


def test_tsv_file_not_called_damaged(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError) as raised:
        load_catalog(_tsv_file(tmp_path))
    message = str(raised.value)
    assert "truncated or damaged" not in message
    assert "pass MITRE's cwec_v4.x.xml or .xml.zip" in message


def test_truncated_xml_position_once(tmp_path: Path, small_catalog_text: str) -> None:
    with pytest.raises(DataFormatError) as raised:
        load_catalog(_truncated_xml(tmp_path, small_catalog_text))
    message = str(raised.value)
    assert message.count("line ") == 1, message
    assert "truncated or damaged" in message


def test_non_utf8_names_offset(tmp_path: Path, small_catalog_text: str) -> None:
    path = _non_utf8(tmp_path, small_catalog_text)
    offset = path.read_bytes().index(b"\xe9")
    with pytest.raises(DataFormatError, match=f"invalid byte at offset {offset}"):
        load_catalog(path)


CLI_CASES = {**{name: (make, "DTD") for name, make in HOSTILE.items()}, **BAD_FILES}


@pytest.mark.parametrize(("make", "phrase"), CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_bad_catalog_exits_2(cli, tmp_path: Path, small_catalog_text: str,
                                 make: Callable[..., Path], phrase: str) -> None:
    path = _build(make, tmp_path, small_catalog_text)
    result = cli("cwe", "--catalog", str(path), "show", "CWE-79")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr

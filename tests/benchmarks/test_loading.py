"""Loading the six CTIBench TSVs into items, and the errors for bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ctiforge.benchmarks import TASK_NAMES, get_task
from ctiforge.errors import DataFormatError, UnknownIdError

ROW_COUNTS = {
    "cti-mcq": 2500,
    "cti-rcm": 1000,
    "cti-rcm-2021": 1000,
    "cti-vsp": 1000,
    "cti-ate": 60,
    "cti-taa": 50,
}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_load_row_count(cti_bench: Path, name: str) -> None:
    assert len(get_task(name).load(cti_bench)) == ROW_COUNTS[name]


def test_load_file_path_equals_folder(cti_bench: Path) -> None:
    task = get_task("cti-rcm")
    assert task.load(cti_bench / "cti-rcm.tsv") == task.load(cti_bench)


def test_rcm_item_fields(cti_bench: Path) -> None:
    item = get_task("cti-rcm").load(cti_bench)[0]
    assert item.index == 0
    assert item.item_id == "CVE-2024-23848"
    assert item.cve_id == "CVE-2024-23848"
    assert item.url == "https://nvd.nist.gov/vuln/detail/CVE-2024-23848"
    assert item.gold == "CWE-416"
    assert item.prompt.startswith("Analyze the following CVE description")
    assert set(item.fields) == {"URL", "Description", "Prompt", "GT"}


def test_item_ids_unique(cti_bench: Path) -> None:
    for name in TASK_NAMES:
        items = get_task(name).load(cti_bench)
        assert len({item.item_id for item in items}) == len(items), name


def test_mcq_item_without_cve(cti_bench: Path) -> None:
    item = get_task("cti-mcq").load(cti_bench)[7]
    assert item.cve_id is None
    assert item.item_id == "cti-mcq-7"


def test_mcq_gold_upper_case(cti_bench: Path) -> None:
    # The published file has one gold letter in lower case.
    golds = {item.gold for item in get_task("cti-mcq").load(cti_bench)}
    assert golds == {"A", "B", "C", "D"}


def test_vsp_gold_vector(cti_bench: Path) -> None:
    item = get_task("cti-vsp").load(cti_bench)[0]
    assert item.gold == "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H"


def test_ate_gold_parent_ids(cti_bench: Path) -> None:
    items = get_task("cti-ate").load(cti_bench)
    assert items[0].gold == ["T1071", "T1573", "T1083", "T1070"]
    assert all("." not in technique for item in items for technique in item.gold)


def test_taa_has_no_gold(cti_bench: Path) -> None:
    assert all(item.gold is None for item in get_task("cti-taa").load(cti_bench))


def test_unknown_task_lists_names() -> None:
    with pytest.raises(UnknownIdError, match="cti-mcq, cti-rcm, cti-rcm-2021, cti-vsp, cti-ate, cti-taa"):
        get_task("cti-xyz")


def test_missing_column_message(cti_bench: Path, tmp_path: Path) -> None:
    lines = (cti_bench / "cti-rcm.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    renamed = tmp_path / "cti-rcm.tsv"
    renamed.write_text(lines[0].replace("GT", "Answer") + "".join(lines[1:5]), encoding="utf-8")
    with pytest.raises(DataFormatError) as caught:
        get_task("cti-rcm").load(renamed)
    message = str(caught.value)
    assert str(renamed) in message
    assert "missing column(s) GT" in message
    assert "'Answer'" in message


def test_non_utf8_names_line(cti_bench: Path, tmp_path: Path) -> None:
    data = (cti_bench / "cti-rcm.tsv").read_bytes().split(b"\n")
    data[3] = data[3].replace(b"CVE", b"CVE\xff", 1)
    broken = tmp_path / "cti-rcm.tsv"
    broken.write_bytes(b"\n".join(data))
    with pytest.raises(DataFormatError, match=r"line 4 is not valid UTF-8"):
        get_task("cti-rcm").load(broken)


def test_folder_without_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no cti-vsp.tsv in folder"):
        get_task("cti-vsp").load(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not found"):
        get_task("cti-vsp").load(tmp_path / "absent.tsv")


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "cti-mcq.tsv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataFormatError, match="is empty"):
        get_task("cti-mcq").load(empty)


def test_bad_gold_names_row(cti_bench: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cti-rcm.tsv"
    shutil.copy(cti_bench / "cti-rcm.tsv", copy)
    text = copy.read_text(encoding="utf-8").replace("\tCWE-257\n", "\tNVD-CWE-Other\n", 1)
    copy.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"row 2: gold answer 'NVD-CWE-Other'"):
        get_task("cti-rcm").load(copy)


def test_extra_cells_names_row(tmp_path: Path) -> None:
    bad = tmp_path / "cti-rcm.tsv"
    bad.write_text(
        "URL\tDescription\tPrompt\tGT\n"
        "https://nvd.nist.gov/vuln/detail/CVE-2024-0001\td\tp\tCWE-79\n"
        "https://nvd.nist.gov/vuln/detail/CVE-2024-0002\td\tp\tCWE-79\textra\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFormatError, match=r"row 2 \(line 3\) has 5 cells but the header has 4 columns"):
        get_task("cti-rcm").load(bad)


def test_short_row_names_row(tmp_path: Path) -> None:
    bad = tmp_path / "cti-rcm.tsv"
    bad.write_text(
        "URL\tDescription\tPrompt\tGT\n"
        "https://nvd.nist.gov/vuln/detail/CVE-2024-0001\td\tp\tCWE-79\n"
        "https://nvd.nist.gov/vuln/detail/CVE-2024-0002\td\tp\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFormatError, match=r"row 2 \(line 3\) has 3 cells but the header has 4 columns"):
        get_task("cti-rcm").load(bad)


def test_byte_order_mark_ignored(tmp_path: Path) -> None:
    marked = tmp_path / "cti-rcm.tsv"
    marked.write_text(
        "\ufeffURL\tDescription\tPrompt\tGT\r\nhttps://nvd.nist.gov/vuln/detail/CVE-2024-0001\td\tp\tCWE-79\r\n",
        encoding="utf-8",
    )
    (item,) = get_task("cti-rcm").load(marked)
    assert item.cve_id == "CVE-2024-0001"
    assert item.gold == "CWE-79"

"""`ctiforge cwe show` and `ctiforge cwe search`, run as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path


def test_show_text(cli) -> None:
    result = cli("cwe", "show", "CWE-787")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "CWE-787: Out-of-bounds Write"
    assert "abstraction:     Base" in result.stdout
    assert "status:          Draft" in result.stdout
    assert "mapping usage:   Allowed" in result.stdout
    assert "NVD view 1003:   member" in result.stdout
    assert "parents (1000):  CWE-119 Improper Restriction" in result.stdout
    assert "children (1000): CWE-121, CWE-122, CWE-123, CWE-124" in result.stdout
    assert "The product writes data past the end" in result.stdout


def test_show_accepts_loose_id(cli) -> None:
    result = cli("cwe", "show", "cwe 787")
    assert result.stdout.splitlines()[0] == "CWE-787: Out-of-bounds Write"


def test_show_variant_names_nvd_ancestor(cli) -> None:
    result = cli("cwe", "show", "121")
    assert "not a member; nearest member ancestor CWE-787 Out-of-bounds Write" in result.stdout


def test_show_deprecated_replacement(cli) -> None:
    result = cli("cwe", "show", "CWE-132")
    assert "replaced by:   CWE-170 Improper Null Termination" in result.stdout


def test_show_json(cli) -> None:
    result = cli("cwe", "show", "CWE-787", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id"] == "CWE-787"
    assert data["abstraction"] == "Base"
    assert data["mapping_usage"] == "Allowed"
    assert data["in_nvd_view"] is True
    assert data["parents"]["1000"] == ["CWE-119"]
    assert data["nvd_ancestor"] == "CWE-787"
    assert data["catalog_version"] == "4.14"


def test_show_unknown_id_suggests(cli) -> None:
    result = cli("cwe", "show", "CWE-7870")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: CWE-7870 is not in the CWE 4.14 catalog; did you mean")
    assert "CWE-787 (Out-of-bounds Write)" in result.stderr
    assert result.stderr.count("\n") == 1


def test_show_unknown_id_without_neighbours(cli) -> None:
    result = cli("cwe", "show", "CWE-99999")
    assert result.returncode == 2
    assert "ctiforge cwe search" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_words_point_to_search(cli) -> None:
    result = cli("cwe", "show", "buffer overflow")
    assert result.returncode == 2
    assert "ctiforge cwe search 'buffer overflow'" in result.stderr


def test_show_nvd_label(cli) -> None:
    result = cli("cwe", "show", "NVD-CWE-Other")
    assert result.returncode == 2
    assert result.stderr.startswith("error: NVD-CWE-Other is an NVD label")


def test_search_text(cli) -> None:
    result = cli("cwe", "search", "out-of-bounds write")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rank", "id", "score", "usage", "name"]
    assert lines[1].split()[:2] == ["1", "CWE-787"]
    assert lines[1].endswith("Out-of-bounds Write")
    assert len(lines) == 11


def test_search_limit(cli) -> None:
    result = cli("cwe", "search", "injection", "--limit", "3")
    assert len(result.stdout.splitlines()) == 4


def test_search_json(cli) -> None:
    result = cli("cwe", "search", "out-of-bounds write", "--limit", "2", "--json")
    rows = json.loads(result.stdout)
    assert [row["id"] for row in rows] == ["CWE-787", "CWE-125"]
    assert rows[0]["rank"] == 1
    assert rows[0]["score"] >= rows[1]["score"]
    assert rows[0]["mapping_usage"] == "Allowed"


def test_search_no_match(cli) -> None:
    result = cli("cwe", "search", "zzqxv")
    assert result.returncode == 0
    assert result.stdout == ""
    assert "no CWE 4.14 entry matches" in result.stderr


def test_search_no_match_json(cli) -> None:
    result = cli("cwe", "search", "zzqxv", "--json")
    assert json.loads(result.stdout) == []


def test_search_empty_query(cli) -> None:
    result = cli("cwe", "search", "  ")
    assert result.returncode == 2
    assert "query is empty" in result.stderr


def test_search_limit_zero(cli) -> None:
    result = cli("cwe", "search", "injection", "--limit", "0")
    assert result.returncode == 2
    assert "--limit" in result.stderr


def test_catalog_option(cli, small_catalog_xml: Path) -> None:
    result = cli("cwe", "--catalog", str(small_catalog_xml), "show", "1284", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["catalog_version"] == "4.1"
    assert data["nvd_ancestor"] == "CWE-20"


def test_catalog_option_unknown_id(cli, small_catalog_xml: Path) -> None:
    result = cli("cwe", "--catalog", str(small_catalog_xml), "show", "787")
    assert result.returncode == 2
    assert result.stderr.startswith("error: CWE-787 is not in the CWE 4.1 catalog")


def test_group_help_lists_commands(cli) -> None:
    result = cli("cwe", "--help")
    assert result.returncode == 0
    assert "show" in result.stdout
    assert "search" in result.stdout
    assert "--catalog" in result.stdout


def test_show_uses_prebuilt_catalog(cli, isolated_home: Path) -> None:
    # The autouse fixture gives this run an empty CTIFORGE_HOME. The shipped
    # prebuilt file serves the load, so no cache is written there.
    result = cli("cwe", "show", "79")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CWE-79: Improper Neutralization of Input During Web Page Generation")
    assert not (isolated_home / "catalog").exists()

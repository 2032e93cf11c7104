"""Fixtures for the catalog tests: the shipped catalog and a small CWE file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ctiforge.catalog import SHIPPED_CATALOG, Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The shipped CWE 4.14 catalog, loaded once per session.

    It loads from the prebuilt file shipped beside the zip. The temporary
    CTIFORGE_HOME catches the cache that a stale prebuilt file would cause.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CTIFORGE_HOME", str(tmp_path_factory.mktemp("catalog-home")))
        return load_catalog()


@pytest.fixture(scope="session")
def shipped_zip() -> Path:
    """The CWE 4.14 zip shipped inside the package."""
    return SHIPPED_CATALOG


# A small catalog in the CWE 4.0-4.x schema 6 namespace, with one entry of
# each kind, a deprecated entry and the NVD view.
SMALL_CATALOG = textwrap.dedent("""\
    <?xml version="1.0" encoding="UTF-8"?>
    <Weakness_Catalog Name="CWE" Version="4.1" Date="2020-02-24"
        xmlns="http://cwe.mitre.org/cwe-6" xmlns:xhtml="http://www.w3.org/1999/xhtml">
      <Weaknesses>
        <Weakness ID="20" Name="Improper Input Validation" Abstraction="Class" Structure="Simple" Status="Stable">
          <Description>The product does not validate input.</Description>
          <Mapping_Notes><Usage>Discouraged</Usage><Rationale>Too general.</Rationale></Mapping_Notes>
        </Weakness>
        <Weakness ID="1284" Name="Improper Validation of Specified Quantity in Input" Abstraction="Base"
            Structure="Simple" Status="Incomplete">
          <Description>The product receives a quantity and does not validate it.</Description>
          <Extended_Description><xhtml:p>First paragraph.</xhtml:p><xhtml:p>Second
            paragraph.</xhtml:p></Extended_Description>
          <Related_Weaknesses>
            <Related_Weakness Nature="ChildOf" CWE_ID="20" View_ID="1000" Ordinal="Primary"/>
          </Related_Weaknesses>
          <Observed_Examples>
            <Observed_Example><Reference>CVE-2022-21668</Reference></Observed_Example>
            <Observed_Example><Reference>BUGTRAQ:1234</Reference></Observed_Example>
          </Observed_Examples>
          <Related_Attack_Patterns><Related_Attack_Pattern CAPEC_ID="100"/></Related_Attack_Patterns>
        </Weakness>
        <Weakness ID="9" Name="DEPRECATED: Old Input Checks" Abstraction="Base" Structure="Simple" Status="Deprecated">
          <Description>This entry has been deprecated. All content has been transferred to CWE-1284.</Description>
        </Weakness>
      </Weaknesses>
      <Categories>
        <Category ID="1215" Name="Data Validation Issues" Status="Draft">
          <Summary>Weaknesses in this category are related to data validation.</Summary>
          <Relationships><Has_Member CWE_ID="1284" View_ID="699"/></Relationships>
          <Mapping_Notes><Usage>Prohibited</Usage></Mapping_Notes>
        </Category>
      </Categories>
      <Views>
        <View ID="1003" Name="Weaknesses for Simplified Mapping of Published Vulnerabilities" Type="Graph"
            Status="Incomplete">
          <Objective>NVD mapping view.</Objective>
          <Members><Has_Member CWE_ID="20" View_ID="1003"/></Members>
        </View>
      </Views>
    </Weakness_Catalog>
    """)


@pytest.fixture
def small_catalog_text() -> str:
    """The text of the small CWE 4.1 catalog."""
    return SMALL_CATALOG


@pytest.fixture
def small_catalog_xml(tmp_path: Path) -> Path:
    """A valid CWE 4.1 XML file with five entries, written to a temporary folder."""
    path = tmp_path / "cwec_v4.1.xml"
    path.write_text(SMALL_CATALOG, encoding="utf-8")
    return path

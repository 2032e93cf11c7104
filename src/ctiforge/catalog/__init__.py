"""MITRE's CWE catalog: entries, views, ID normalisation and search.

    from ctiforge.catalog import load_catalog, normalize_cwe_id

    catalog = load_catalog()                  # the CWE 4.14 copy shipped with ctiforge
    entry = catalog.get("cwe 787")            # CweEntry for CWE-787, Out-of-bounds Write
    entry.mapping_usage, entry.in_nvd_view    # ("Allowed", True)
    catalog.nvd_ancestor("CWE-121")           # "CWE-787", its nearest ancestor in view 1003
    normalize_cwe_id("79")                    # "CWE-79"

The catalog is parsed with DTDs and entities forbidden and cached as gzipped
JSON in `$CTIFORGE_HOME/catalog/`. This module does not import torch.
"""

from ctiforge.catalog._catalog import SHIPPED_CATALOG, Catalog, load_catalog
from ctiforge.catalog._entry import CweEntry
from ctiforge.catalog._ids import NVD_NOINFO, NVD_OTHER, normalize_cwe_id, parse_cwe_id
from ctiforge.catalog._views import DEVELOPMENT_VIEW_ID, NVD_VIEW_ID, RESEARCH_VIEW_ID

__all__ = [
    "Catalog",
    "CweEntry",
    "DEVELOPMENT_VIEW_ID",
    "NVD_NOINFO",
    "NVD_OTHER",
    "NVD_VIEW_ID",
    "RESEARCH_VIEW_ID",
    "SHIPPED_CATALOG",
    "load_catalog",
    "normalize_cwe_id",
    "parse_cwe_id",
]

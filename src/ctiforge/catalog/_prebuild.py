"""Write the prebuilt parsed form beside a CWE catalog file (default: the shipped 4.14 zip).

Run after any change to the parser or to CweEntry, together with a bump of
PARSER_VERSION in `_cache.py`:

    python -m ctiforge.catalog._prebuild [PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

from ctiforge.catalog._cache import write_prebuilt
from ctiforge.catalog._catalog import SHIPPED_CATALOG


def main(argv: list[str]) -> None:
    """Write the prebuilt file for the catalog named in `argv`, or for the shipped one."""
    source = Path(argv[0]) if argv else SHIPPED_CATALOG
    print(write_prebuilt(source))


if __name__ == "__main__":
    main(sys.argv[1:])

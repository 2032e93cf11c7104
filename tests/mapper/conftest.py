"""Fixtures for the mapper tests: a real NVD slice and a small model trained on it once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctiforge.sources import CveRecord, read_records

SLICE_SIZE = 2500


@pytest.fixture(scope="session")
def nvd_slice(shared_data: Path) -> list[tuple[str, str, list[str]]]:
    """The first 2,500 usable records of the real NVD 2016 feed as (CVE ID, description, labels)."""
    records = []
    for record in read_records(shared_data / "nvd" / "nvdcve-1.1-2016.json.gz"):
        if isinstance(record, CveRecord) and record.cve_id:
            records.append((record.cve_id, record.description, list(record.cwes)))
            if len(records) == SLICE_SIZE:
                break
    return records


@pytest.fixture(scope="session")
def small_model(nvd_slice, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list]:
    """A mapper trained on the NVD slice with one labelled ID and one description held back.

    Returns the model folder, the training manifest and the held-back
    records (the excluded-by-ID one first, then the excluded-by-text one).
    """
    from ctiforge.mapper import train_mapper

    labelled = [record for record in nvd_slice if any(label.startswith("CWE-") for label in record[2])]
    by_id, by_text = labelled[10], labelled[20]
    folder = tmp_path_factory.mktemp("small-mapper")
    home = tmp_path_factory.mktemp("small-mapper-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CTIFORGE_HOME", str(home))
        manifest = train_mapper(nvd_slice, out_dir=folder, exclude_ids={by_id[0]},
                                exclude_texts=[by_text[1]], progress=False)
    assert os.listdir(folder)
    return folder, manifest, [by_id, by_text]

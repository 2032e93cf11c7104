"""Run manifests: the resolved config, data hashes, package versions and hardware of a run."""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MANIFEST_NAME = "run-manifest.json"
MANIFEST_FORMAT = 1

# Packages whose versions change training results or file formats.
_RECORDED_PACKAGES = (
    "ctiforge", "torch", "transformers", "peft", "trl", "accelerate", "datasets",
    "safetensors", "tokenizers", "bitsandbytes", "flash-attn", "deepspeed",
)


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Return installed versions of the packages that affect a run; absent ones are left out."""
    versions = {"python": platform.python_version()}
    for name in _RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def hardware_summary() -> dict[str, Any]:
    """Describe the CPU, accelerators and process layout of this run."""
    summary: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
    }
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            summary["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        else:
            summary["gpus"] = []
    return summary


def find_corpus_manifest(train_file: Path) -> Path | None:
    """Return the corpus builder's manifest beside a training file, if there is one."""
    folder = Path(train_file).resolve().parent
    for name in ("manifest.json", "corpus-manifest.json"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def read_json(path: Path) -> dict[str, Any] | None:
    """Return a JSON object from a file, or None when the file is absent or not an object."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        logger.warning("could not read %s: %s", path, exc)
        return None
    return value if isinstance(value, dict) else None


def write_json_atomic(path: Path, value: dict[str, Any]) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                     suffix=".tmp", delete=False) as handle:
        json.dump(value, handle, indent=2, sort_keys=False)
        handle.write("\n")
        temporary = Path(handle.name)
    os.replace(temporary, path)

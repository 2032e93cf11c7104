"""The corpus build configuration: a validated YAML file plus dotted `key=value` overrides.

Every default lives in the pydantic models below. Relative input paths in
the YAML file resolve against `data_dir`, which itself resolves against the
file's folder and defaults to it. Relative paths given as overrides, including
`data_dir=...`, resolve against the current directory. List-valued path keys
accept glob patterns (`nvd/nvdcve-1.1-*.json.gz`).
"""

from __future__ import annotations

import glob
import logging
import os
from pathlib import Path
from typing import Any, Literal, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ctiforge.errors import ConfigError, DataFormatError

logger = logging.getLogger(__name__)

CveFormat = Literal["auto", "nvd-json-1.1", "nvd-api-2.0", "cve-json-5", "csv", "jsonl"]
MappingUsage = Literal["Allowed", "Allowed-with-Review", "Discouraged", "Prohibited"]
CweQuestionKind = Literal["definition", "parent", "child", "mitigation"]
AttackQuestionKind = Literal["tactic", "mitigation", "detection", "data-component", "software"]
CapecQuestionKind = Literal["definition", "mitigation", "weakness"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class CveSource(_Section):
    """CVE records: NVD JSON 1.1 feeds, NVD API 2.0 responses, CVE JSON 5 records, CSV or JSONL."""

    paths: list[str] = Field(default_factory=list, description="Files or glob patterns; empty means no CVE source.")
    format: CveFormat = Field("auto", description="Input format; `auto` detects it per file.")


class Sources(_Section):
    """Input files of the build."""

    cve: CveSource = Field(default_factory=CveSource)
    cwe_catalog: str | None = Field(None, description="CWE XML catalog (.xml or .xml.zip); null uses the shipped CWE 4.14.")
    attack: str | None = Field(None, description="ATT&CK Enterprise STIX 2.1 bundle (.json or .json.gz); null skips ATT&CK.")
    capec: str | None = Field(None, description="CAPEC STIX 2.1 bundle (.json or .json.gz); null skips CAPEC.")
    user: list[str] = Field(default_factory=list, description="JSONL files with `prompt`/`response` or chat `messages`.")


class CveCweRecords(_Section):
    """CVE-to-CWE mapping examples in the CTIBench RCM instruction format."""

    enabled: bool = True
    allowed_usage: list[MappingUsage] = Field(
        default_factory=lambda: ["Allowed", "Allowed-with-Review"],
        description="Keep a CVE only if its CWE's catalog mapping usage is one of these.",
    )
    max_per_cwe: int | None = Field(None, ge=1, description="Keep at most this many examples per CWE (a random sample).")
    max_records: int | None = Field(None, ge=1, description="Keep at most this many examples in all (a random sample).")


class CweQuestionRecords(_Section):
    """Questions about CWE entries: definitions, parents, children, mitigations."""

    enabled: bool = True
    kinds: list[CweQuestionKind] = Field(default_factory=lambda: ["definition", "parent", "child", "mitigation"])


class AttackQuestionRecords(_Section):
    """Multiple-choice questions about ATT&CK techniques."""

    enabled: bool = True
    kinds: list[AttackQuestionKind] = Field(
        default_factory=lambda: ["tactic", "mitigation", "detection", "data-component", "software"]
    )


class CapecQuestionRecords(_Section):
    """Multiple-choice questions about CAPEC attack patterns."""

    enabled: bool = True
    kinds: list[CapecQuestionKind] = Field(default_factory=lambda: ["definition", "mitigation", "weakness"])


class CvssRecords(_Section):
    """CVSS v3 vector examples from NVD's vectors."""

    enabled: bool = False
    max_records: int | None = Field(None, ge=1, description="Keep at most this many examples (a random sample).")


class Records(_Section):
    """Record kinds to generate, each with its options."""

    cve_cwe: CveCweRecords = Field(default_factory=CveCweRecords)
    cwe_questions: CweQuestionRecords = Field(default_factory=CweQuestionRecords)
    attack_questions: AttackQuestionRecords = Field(default_factory=AttackQuestionRecords)
    capec_questions: CapecQuestionRecords = Field(default_factory=CapecQuestionRecords)
    cvss: CvssRecords = Field(default_factory=CvssRecords)


class Decontamination(_Section):
    """Benchmark files whose items are removed from the corpus. Always applied."""

    ctibench_dir: str | None = Field(None, description="Folder whose *.tsv files are all used as benchmarks.")
    benchmarks: list[str] = Field(default_factory=list, description="Further benchmark TSV files or glob patterns.")
    threshold: float = Field(
        0.5, gt=0.0, le=1.0,
        description="Minimum share of a benchmark item's word shingles that a record must contain to be removed.",
    )
    shingle_size: int = Field(5, ge=1, le=32, description="Words per shingle.")
    min_shingles: int = Field(
        5, ge=1, description="Benchmark items with fewer shingles than this only match a text equal to them."
    )
    examples: int = Field(5, ge=0, le=100, description="Removed records shown per benchmark in the report.")


class CorpusConfig(_Section):
    """A corpus build: sources, record kinds, decontamination and the random seed."""

    seed: int = Field(0, description="Seed for sampling, distractors and answer-letter order.")
    data_dir: str | None = Field(
        None, description="Folder that relative input paths of the config file resolve against; null: the file's folder."
    )
    sources: Sources = Field(default_factory=Sources)
    records: Records = Field(default_factory=Records)
    decontamination: Decontamination = Field(default_factory=Decontamination)


# Dotted keys whose values are paths, and whether the value is a list.
PATH_KEYS: dict[str, bool] = {
    "sources.cve.paths": True,
    "sources.cwe_catalog": False,
    "sources.attack": False,
    "sources.capec": False,
    "sources.user": True,
    "decontamination.ctibench_dir": False,
    "decontamination.benchmarks": True,
}


def _model_at(location: Sequence[str | int]) -> type[BaseModel] | None:
    """Return the model class that validates the mapping at `location`, or None."""
    model: type[BaseModel] = CorpusConfig
    for part in location:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _describe_error(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        parent = _model_at(error["loc"][:-1])
        valid = ", ".join(parent.model_fields) if parent else "none"
        return f"{location}: unknown key (valid keys here: {valid})"
    value = error.get("input")
    shown = f" (got {value!r})" if not isinstance(value, (dict, list)) else ""
    return f"{location}: {error['msg']}{shown}"


def _split_override(override: str) -> tuple[str, str]:
    key, sep, text = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"invalid override {override!r}; write it as dotted.key=value, for example seed=3")
    return key, text


def _parse_path_value(text: str) -> Any:
    """Parse the value of a path override, also when YAML rejects a glob pattern in it.

    YAML reads a leading `*` as an alias and `?` inside `[...]` as a mapping key,
    so `[nvd/*.json.gz, extra/feed-?.json]` or `*.gz` fail as YAML. Those fall back
    to a plain comma-separated list or a plain string.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        stripped = text.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            items = [item.strip().strip("'\"") for item in stripped[1:-1].split(",")]
            return [item for item in items if item]
        return stripped


def _apply_override(data: dict[str, Any], override: str) -> str:
    key, text = _split_override(override)
    if not text.strip():
        value = None
    elif key in PATH_KEYS or key == "data_dir":
        value = _parse_path_value(text)
    else:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid value in override {override!r}: {exc}") from None
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"invalid override {override!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value
    return key


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def load_config(path: Path | None = None, overrides: Sequence[str] = ()) -> CorpusConfig:
    """Read, override and validate a corpus config, and return it with absolute paths.

    Raise one `ConfigError` listing every invalid key and value at once.
    Without `path`, the defaults plus the overrides make the config.
    """
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}; check the path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {' '.join(str(exc).split())}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must contain a mapping of keys to values, found {type(loaded).__name__}")
        data = loaded
        base = path.resolve().parent

    # A data_dir override redirects the file's relative paths, so it applies first.
    data_dir = data.get("data_dir")
    if isinstance(data_dir, str):
        data["data_dir"] = data_dir = os.path.normpath(_absolute(data_dir, base))
    for override in overrides:
        if _split_override(override)[0] == "data_dir":
            _apply_override(data, override)
            data_dir = data.get("data_dir")
            if isinstance(data_dir, str):
                data["data_dir"] = data_dir = os.path.normpath(_absolute(data_dir, Path.cwd()))
    if isinstance(data_dir, str):
        # A missing folder is not an error here: overrides may replace every path that uses it.
        base = Path(data_dir)

    # Paths from the file resolve against data_dir, before overrides replace any of them.
    for key, is_list in PATH_KEYS.items():
        value = _get(data, key)
        if is_list and isinstance(value, list):
            _set(data, key, [_absolute(v, base) if isinstance(v, str) else v for v in value])
        elif not is_list and isinstance(value, str):
            _set(data, key, _absolute(value, base))
    for override in overrides:
        if _split_override(override)[0] == "data_dir":
            continue
        key = _apply_override(data, override)
        if key in PATH_KEYS:
            value = _get(data, key)
            if isinstance(value, str) and PATH_KEYS[key]:
                value = [value]
            if isinstance(value, list):
                value = [_absolute(v, Path.cwd()) if isinstance(v, str) else v for v in value]
            elif isinstance(value, str):
                value = _absolute(value, Path.cwd())
            _set(data, key, value)

    try:
        config = CorpusConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe_error(error) for error in exc.errors()]
        source = f"config {path}" if path else "config"
        raise ConfigError(f"{source} has {len(problems)} problem(s): " + "; ".join(problems)) from None
    if not config.decontamination.ctibench_dir and not config.decontamination.benchmarks:
        raise ConfigError(
            "decontamination needs benchmark files: set decontamination.ctibench_dir to the CTIBench folder "
            "or list files under decontamination.benchmarks"
        )
    return config


def _absolute(value: str, base: Path) -> str:
    expanded = Path(value).expanduser()
    return str(expanded if expanded.is_absolute() else base / expanded)


def expand_paths(patterns: Sequence[str], *, file_kind: str) -> list[Path]:
    """Expand files and glob patterns in order, without duplicates; raise if any matches nothing."""
    found: list[Path] = []
    missing: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern))
            if not matches:
                missing.append(f"{pattern} (pattern matches no file)")
            found.extend(matches)
        elif Path(pattern).is_file():
            found.append(Path(pattern))
        else:
            missing.append(pattern)
    if missing:
        raise DataFormatError(f"{file_kind} not found: {', '.join(missing)}; fix the path in the config")
    unique: list[Path] = []
    for item in found:
        if item not in unique:
            unique.append(item)
    return unique


def benchmark_files(config: Decontamination) -> list[Path]:
    """Return the benchmark files: every *.tsv in `ctibench_dir` (sorted) plus `benchmarks`."""
    files: list[Path] = []
    if config.ctibench_dir:
        folder = Path(config.ctibench_dir)
        if not folder.is_dir():
            raise DataFormatError(
                f"CTIBench folder not found: {folder}; set decontamination.ctibench_dir to the folder of the TSV files"
            )
        files = sorted(folder.glob("*.tsv"))
        if not files:
            raise DataFormatError(f"CTIBench folder {folder} contains no .tsv files")
    for extra in expand_paths(config.benchmarks, file_kind="benchmark file"):
        if extra not in files:
            files.append(extra)
    return files

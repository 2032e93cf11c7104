"""The run store: a run folder with its configuration and every response as JSONL.

Layout of a run folder:

- `run.json`: format version, ctiforge version, creation time, the
  configuration that identifies the run (backend, model, protocol, sampling
  settings) and its hash. Written once, atomically, when the run starts.
- `responses.jsonl`: one JSON object per line, one line per received
  response or failed request, appended in arrival order.
- `report.json`, `report.md`, `plots/`: written at the end of each run.

Each line is written with a single `os.write` on a file opened with O_APPEND
as soon as the response arrives, so killing the process loses no line whose
write returned. A background thread calls fsync after every batch of
writes, so an operating-system crash can lose at most the lines written
since the last fsync (milliseconds). A torn last line (the process died
inside `os.write`) is skipped on reading, and the request is sent again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctiforge import __version__
from ctiforge.errors import ConfigError, DataFormatError

logger = logging.getLogger(__name__)

RUN_FORMAT = "ctiforge-run"
RUN_FORMAT_VERSION = 1
RUN_FILE = "run.json"
RESPONSES_FILE = "responses.jsonl"
LOCK_FILE = ".lock"

# Configuration keys that change what a response means. A run folder written
# with other values for any of them is rejected; other settings (tasks,
# trials, limit, concurrency, base URL) may change between resumes.
IDENTITY_KEYS = (
    "backend", "model", "protocol", "shots", "temperature", "top_p", "max_tokens", "seed", "system_prompt",
)
# The command-line option that sets each identity key, for error messages.
OPTION_NAMES = {
    "backend": "--backend", "model": "--model", "protocol": "--protocol", "shots": "--shots",
    "temperature": "--temperature", "top_p": "--top-p", "max_tokens": "--max-tokens", "seed": "--seed",
    "system_prompt": "--system-prompt",
}


def config_hash(config: Mapping[str, Any]) -> str:
    """Return a short hash of the identity part of a run configuration."""
    identity = {key: config.get(key) for key in IDENTITY_KEYS}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def prompt_hash(messages: Any, text: str | None, stop: Any) -> str:
    """Return a short hash of exactly what is sent as the prompt."""
    payload = {"messages": messages, "text": text, "stop": list(stop or [])}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ResponseKey:
    """Identity of one stored response inside a run."""

    task: str
    item_id: str
    trial: int
    prompt_hash: str


@dataclass
class StoredResponse:
    """One line of `responses.jsonl`."""

    key: ResponseKey
    index: int
    status: str
    text: str | None
    error: str | None
    record: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def scored_text(self) -> str | None:
        """The text to score: `text`, or the recorded answer of an imported response whose text was cut."""
        return self.record.get("scored_text") or self.text


class RunStore:
    """Append-only storage of one run's responses; open it with `RunStore.open`."""

    def __init__(self, run_dir: Path, run_info: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.run_info = run_info
        self.config_hash = run_info["config_hash"]
        self._path = run_dir / RESPONSES_FILE
        self._fd: int | None = None
        self._lock_handle: Any = None
        self._dirty = threading.Event()
        self._closing = False
        self._syncer: threading.Thread | None = None
        self.skipped_lines = 0

    # -- opening --------------------------------------------------------------------

    @classmethod
    def open(cls, run_dir: str | Path, *, config: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> RunStore:
        """Open `run_dir` for appending, creating the run when the folder contains none yet.

        Raise `ConfigError` when the folder contains a run written with another
        configuration, naming each setting that differs, or when another
        process has the run open.
        """
        run_dir = Path(run_dir)
        if run_dir.exists() and not run_dir.is_dir():
            raise ConfigError(f"--run-dir {run_dir} is a file; pass a folder path")
        run_dir.mkdir(parents=True, exist_ok=True)
        lock_handle = _acquire_lock(run_dir)
        try:
            run_info = cls._read_or_create(run_dir, config, extra)
        except BaseException:
            lock_handle.close()
            raise
        store = cls(run_dir, run_info)
        store._lock_handle = lock_handle
        return store

    @staticmethod
    def _read_or_create(run_dir: Path, config: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
        run_file = run_dir / RUN_FILE
        expected = {key: config.get(key) for key in IDENTITY_KEYS}
        responses_file = run_dir / RESPONSES_FILE
        has_responses = responses_file.exists() and responses_file.stat().st_size > 0
        if run_file.exists() and has_responses:
            run_info = read_run_info(run_dir)
            _check_same_config(run_dir, run_info.get("config", {}), expected)
        elif run_file.exists() and read_run_info(run_dir).get("config") == expected:
            run_info = read_run_info(run_dir)
        else:
            # A run without stored responses (for example one stopped by a
            # mistyped model name) takes the new configuration: nothing is lost.
            if has_responses and not run_file.exists():
                raise ConfigError(
                    f"run directory {run_dir} has {RESPONSES_FILE} but no {RUN_FILE}; "
                    "pass a new --run-dir to start a new run"
                )
            run_info = {
                "format": RUN_FORMAT,
                "format_version": RUN_FORMAT_VERSION,
                "ctiforge_version": __version__,
                "created_at": _now(),
                "config": expected,
                "config_hash": config_hash(expected),
                **dict(extra or {}),
            }
            _write_atomic(run_file, json.dumps(run_info, indent=2, sort_keys=True) + "\n")
        return run_info

    # -- reading --------------------------------------------------------------------

    def responses(self) -> dict[ResponseKey, StoredResponse]:
        """Return the latest stored line per key, preferring a success over a later failure."""
        latest: dict[ResponseKey, StoredResponse] = {}
        for stored in self.iter_lines():
            previous = latest.get(stored.key)
            if previous is not None and previous.ok and not stored.ok:
                continue
            latest[stored.key] = stored
        return latest

    def iter_lines(self) -> Iterator[StoredResponse]:
        """Yield every valid line of this run's configuration, skipping torn or foreign lines."""
        self.skipped_lines = 0
        yield from _iter_lines(self._path, self.config_hash, self)

    # -- writing --------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> None:
        """Append one response line now; the fsync follows on a background thread."""
        if self._fd is None:
            self._open_for_append()
        record = {"config": self.config_hash, "time": round(time.time(), 3), **record}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        os.write(self._fd, line)
        self._dirty.set()

    def _open_for_append(self) -> None:
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        size = os.fstat(fd).st_size
        if size:
            with open(self._path, "rb") as handle:
                handle.seek(size - 1)
                torn = handle.read(1) != b"\n"
            if torn:
                # End the torn line so the next record starts on its own line;
                # the torn bytes stay in the file and are skipped by readers.
                os.write(fd, b"\n")
                logger.warning("%s ended in a partial line; it is ignored and its request sent again", self._path)
        self._fd = fd
        self._syncer = threading.Thread(target=self._sync_loop, name="run-store-fsync", daemon=True)
        self._syncer.start()

    def _sync_loop(self) -> None:
        while not self._closing:
            self._dirty.wait()
            self._dirty.clear()
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)

    def write_file(self, name: str, content: str | bytes) -> Path:
        """Write a report file into the run folder atomically and return its path."""
        path = self.run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, content)
        return path

    def close(self) -> None:
        """Flush to disk, stop the fsync thread and release the run lock."""
        if self._fd is not None:
            os.fsync(self._fd)
            self._closing = True
            self._dirty.set()
            if self._syncer is not None:
                self._syncer.join(timeout=5)
            os.close(self._fd)
            self._fd = None
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _acquire_lock(run_dir: Path) -> Any:
    """Take an exclusive advisory lock on the run folder and return the open lock file."""
    handle = open(run_dir / LOCK_FILE, "a+")
    try:
        import fcntl
    except ImportError:  # Windows has no fcntl; concurrent writers are then not detected.
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(
            f"run directory {run_dir} is in use by another ctiforge process; "
            "wait for it to finish or pass another --run-dir"
        ) from None
    return handle


def read_run_info(run_dir: str | Path) -> dict[str, Any]:
    """Read and check `run.json` of a run folder."""
    run_file = Path(run_dir) / RUN_FILE
    try:
        info = json.loads(run_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(f"{run_dir} is not a run directory: {RUN_FILE} not found") from None
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"cannot read {run_file}: {exc}; the run directory is damaged") from None
    if not isinstance(info, dict) or info.get("format") != RUN_FORMAT:
        raise DataFormatError(f"{run_file} is not a ctiforge run file (no \"format\": \"{RUN_FORMAT}\")")
    if info.get("format_version", 0) > RUN_FORMAT_VERSION:
        raise DataFormatError(
            f"{run_file} has run format version {info.get('format_version')}, newer than this ctiforge "
            f"reads ({RUN_FORMAT_VERSION}); upgrade ctiforge"
        )
    return info


def read_responses(run_dir: str | Path) -> dict[ResponseKey, StoredResponse]:
    """Read the latest response per key of a run folder without opening it for writing."""
    info = read_run_info(run_dir)
    latest: dict[ResponseKey, StoredResponse] = {}
    for stored in _iter_lines(Path(run_dir) / RESPONSES_FILE, info["config_hash"], None):
        previous = latest.get(stored.key)
        if previous is not None and previous.ok and not stored.ok:
            continue
        latest[stored.key] = stored
    return latest


def _iter_lines(path: Path, expected_hash: str, counter: RunStore | None) -> Iterator[StoredResponse]:
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                record = json.loads(raw)
                key = ResponseKey(record["task"], str(record["item"]), int(record["trial"]), record["prompt_hash"])
            except (ValueError, KeyError, TypeError):
                if raw.strip():
                    logger.info("%s line %d is incomplete or invalid; skipped", path, number)
                    if counter is not None:
                        counter.skipped_lines += 1
                continue
            if record.get("config") != expected_hash:
                continue
            yield StoredResponse(
                key=key,
                index=int(record.get("index", -1)),
                status=record.get("status", "error"),
                text=record.get("text"),
                error=record.get("error"),
                record=record,
            )


def _check_same_config(run_dir: Path, stored: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    differences = [key for key in IDENTITY_KEYS if stored.get(key) != expected.get(key)]
    if not differences:
        return
    described = "; ".join(
        f"{OPTION_NAMES[key]} is {_show(stored.get(key))} there but {_show(expected.get(key))} now" for key in differences
    )
    restore = " ".join(f"{OPTION_NAMES[key]} {_show(stored.get(key))}" for key in differences if stored.get(key) is not None)
    raise ConfigError(
        f"run directory {run_dir} was written by a different configuration ({described}); "
        f"to resume it, pass {restore or 'the stored settings'}; to start a new run, pass a new --run-dir"
    )


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, str) and (not value or " " in value):
        return json.dumps(value)
    return str(value)


def _write_atomic(path: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

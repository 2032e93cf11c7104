"""Bad configs, missing inputs and broken JSONL lines: one-line errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctiforge.corpus import load_config
from ctiforge.errors import ConfigError


def test_config_lists_every_problem(tmp_path: Path, cli) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "seed: many\n"
        "colour: blue\n"
        "records:\n  cwe_questions:\n    kinds: [definition, riddles]\n"
        "decontamination:\n  ctibench_dir: .\n  enabled: false\n",
        encoding="utf-8",
    )
    result = cli("corpus", "build", "--config", str(config), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "seed:" in result.stderr
    assert "colour: unknown key (valid keys here: seed, data_dir, sources, records, decontamination)" in result.stderr
    assert "records.cwe_questions.kinds.1" in result.stderr
    assert "'mitigation'" in result.stderr
    assert "decontamination.enabled: unknown key" in result.stderr
    assert not (tmp_path / "out").exists()


def test_config_needs_benchmarks() -> None:
    with pytest.raises(ConfigError, match="decontamination needs benchmark files"):
        load_config(None, [])


def test_override_paths_resolve_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "conf" / "corpus.yaml"
    config.parent.mkdir()
    config.write_text("decontamination:\n  ctibench_dir: bench\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    loaded = load_config(config, ["sources.user=extra.jsonl"])
    assert loaded.decontamination.ctibench_dir == str(tmp_path / "conf" / "bench")
    assert loaded.sources.user == [str(tmp_path / "extra.jsonl")]


def test_override_invalid_form() -> None:
    with pytest.raises(ConfigError, match="dotted.key=value"):
        load_config(None, ["seed"])


def test_missing_sources_listed(tmp_path: Path, shared_data: Path, cli) -> None:
    result = cli("corpus", "build", "--out", str(tmp_path / "out"),
                 f"decontamination.ctibench_dir={shared_data / 'cti-bench'}",
                 f"sources.cve.paths=[{tmp_path / 'nvd-missing.json.gz'}]",
                 f"sources.attack={tmp_path / 'attack-missing.json'}")
    assert result.returncode == 2
    assert "nvd-missing.json.gz" in result.stderr
    assert "attack-missing.json" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_output_folder_not_empty(tmp_path: Path, shared_data: Path, cli) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = cli("corpus", "build", "--out", str(out), f"decontamination.ctibench_dir={shared_data / 'cti-bench'}",
                 "records.cwe_questions.enabled=false")
    assert result.returncode == 2
    assert "--overwrite" in result.stderr
    assert (out / "keep.txt").exists()


def test_broken_user_jsonl_lines(tmp_path: Path, shared_data: Path, cli) -> None:
    user = tmp_path / "user.jsonl"
    good = json.dumps({"prompt": "What does TLS stand for?", "response": "Transport Layer Security"})
    user.write_text(f"{good}\n{{broken\n{good}\n[1, 2]\n", encoding="utf-8")
    args = ["corpus", "build", "--out", str(tmp_path / "out"), f"sources.user=[{user}]",
            f"decontamination.ctibench_dir={shared_data / 'cti-bench'}", "records.cwe_questions.enabled=false"]
    result = cli(*args)
    assert result.returncode == 2
    assert "line 2" in result.stderr
    assert "line 4" in result.stderr
    assert "--skip-invalid" in result.stderr
    assert not (tmp_path / "out").exists()

    skipped = cli(*args, "--skip-invalid")
    assert skipped.returncode == 0, skipped.stderr
    lines = (tmp_path / "out" / "corpus.jsonl").read_text().splitlines()
    assert len(lines) == 2

"""`ctiforge card`: sections from the manifests, errors for folders it cannot use."""

from __future__ import annotations

from pathlib import Path

from ctiforge.card import collect_sources, render_card


def test_card_from_merged_model(merged_model: Path) -> None:
    card = render_card(collect_sources(merged_model, []))
    assert card.startswith("# model\n")
    assert "| method | LoRA |" in card
    assert "| optimiser steps run | 30 |" in card
    assert "greedy outputs were identical on 4 prompts" in card
    assert "No evaluation run was given." in card
    assert "No decontamination report was found" in card


def test_card_from_adapter_folder(trained_run: Path) -> None:
    card = render_card(collect_sources(trained_run / "adapter", []), title="cti-tiny")
    assert card.startswith("# cti-tiny\n")
    assert "| LoRA rank / alpha / dropout | 8 / 16 / 0.05 |" in card


def test_card_cli_rejects_plain_folder(cli, tmp_path: Path) -> None:
    result = cli("card", "--model", str(tmp_path))
    assert result.returncode == 2
    assert "neither ctiforge-model.json nor ctiforge-adapter.json" in result.stderr


def test_card_cli_rejects_non_run(cli, merged_model: Path, tmp_path: Path) -> None:
    result = cli("card", "--model", str(merged_model), "--runs", str(tmp_path))
    assert result.returncode == 2
    assert "run.json not found" in result.stderr

"""The run store (append, torn lines, locking, configuration checks) and the presets."""

from __future__ import annotations

import json

import pytest

from ctiforge.errors import ConfigError
from ctiforge.evaluate import PRESETS, EvalSettings, RunStore, apply_preset, protocol_label, read_responses
from ctiforge.evaluate._compare import PUBLISHED_RESULTS
from ctiforge.evaluate._settings import CTIBENCH_SYSTEM_PROMPT, canonical_protocol_label

CONFIG = {"backend": "openai", "model": "m", "protocol": "ift", "shots": 0, "temperature": 0.3, "top_p": 1.0,
          "max_tokens": 512, "seed": 0, "system_prompt": None}


def _record(item: str, status: str = "ok", text: str | None = "CWE-79") -> dict:
    return {"task": "cti-rcm", "item": item, "index": 0, "trial": 0, "prompt_hash": "h", "status": status,
            "text": text, "error": None if status == "ok" else "boom"}


def test_store_appends_and_reads(tmp_path):
    with RunStore.open(tmp_path, config=CONFIG) as store:
        store.append(_record("CVE-1"))
        store.append(_record("CVE-2", status="error", text=None))
    responses = read_responses(tmp_path)
    assert len(responses) == 2
    assert sum(response.ok for response in responses.values()) == 1


def test_store_success_beats_later_failure(tmp_path):
    with RunStore.open(tmp_path, config=CONFIG) as store:
        store.append(_record("CVE-1"))
        store.append(_record("CVE-1", status="error", text=None))
    (response,) = read_responses(tmp_path).values()
    assert response.ok


def test_store_skips_torn_line_and_appends_after_it(tmp_path):
    with RunStore.open(tmp_path, config=CONFIG) as store:
        store.append(_record("CVE-1"))
    with open(tmp_path / "responses.jsonl", "ab") as handle:
        handle.write(b'{"task": "cti-rcm", "item": "CVE-')
    with RunStore.open(tmp_path, config=CONFIG) as store:
        store.append(_record("CVE-3"))
    items = sorted(key.item_id for key in read_responses(tmp_path))
    assert items == ["CVE-1", "CVE-3"]


def test_store_rejects_changed_config(tmp_path):
    with RunStore.open(tmp_path, config=CONFIG) as store:
        store.append(_record("CVE-1"))
    with pytest.raises(ConfigError) as caught:
        RunStore.open(tmp_path, config={**CONFIG, "model": "other", "seed": None})
    message = str(caught.value)
    assert "--model is m there but other now" in message
    assert "--seed is 0 there but unset now" in message
    assert "pass --model m --seed 0" in message


def test_store_without_responses_takes_new_config(tmp_path):
    RunStore.open(tmp_path, config=CONFIG).close()
    RunStore.open(tmp_path, config={**CONFIG, "model": "fixed"}).close()
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["config"]["model"] == "fixed"


def test_store_rejects_second_writer(tmp_path):
    with RunStore.open(tmp_path, config=CONFIG):
        with pytest.raises(ConfigError) as caught:
            RunStore.open(tmp_path, config=CONFIG)
    assert "in use by another ctiforge process" in str(caught.value)


def test_store_run_file_records_config(tmp_path):
    RunStore.open(tmp_path, config=CONFIG).close()
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["format_version"] == 1
    assert run["config"] == CONFIG


def test_preset_ctibench_paper():
    settings = apply_preset("ctibench-paper")
    assert settings.temperature == 0.0
    assert settings.seed == 42
    assert settings.max_tokens == 2048
    assert settings.system_prompt == CTIBENCH_SYSTEM_PROMPT


def test_preset_override_wins():
    settings = apply_preset("foundation-sec-ift", trials=2)
    assert settings.trials == 2
    assert settings.temperature == 0.3


def test_preset_unknown():
    with pytest.raises(ConfigError) as caught:
        apply_preset("gpt-paper")
    assert "foundation-sec-ift" in str(caught.value)


def test_default_settings_match_ift_preset():
    assert protocol_label(EvalSettings().as_dict()) == "foundation-sec-ift"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_label_is_its_name(name):
    assert protocol_label(apply_preset(name).as_dict()) == name


def test_published_labels_name_presets_or_harnesses():
    labels = {result.protocol_label for result in PUBLISHED_RESULTS}
    assert labels - set(PRESETS) == {"cisco-foundation-sec"}


def test_legacy_label_maps_to_preset():
    assert canonical_protocol_label("cybersecqwen-ift") == "foundation-sec-ift"


def test_settings_list_every_problem():
    with pytest.raises(ConfigError) as caught:
        EvalSettings(tasks=("cti-x",), trials=0, top_p=0.0).validate()
    message = str(caught.value)
    assert "cti-x" in message
    assert "--trials 0" in message
    assert "--top-p 0.0" in message

"""The tiny Qwen3 test model: loadable, deterministic, Qwen-style tokens and template."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ctiforge.testing.tiny import build_tiny_qwen3


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tiny_same_seed_same_files(tiny_model: Path, tmp_path: Path) -> None:
    again = build_tiny_qwen3(tmp_path / "again", seed=0)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "generation_config.json"):
        assert _sha256(again / name) == _sha256(tiny_model / name), name


def test_tiny_other_seed_other_weights(tiny_model: Path, tmp_path: Path) -> None:
    other = build_tiny_qwen3(tmp_path / "other", seed=1)
    assert _sha256(other / "model.safetensors") != _sha256(tiny_model / "model.safetensors")


def test_tiny_special_tokens(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.convert_tokens_to_ids("<|im_start|>") != tokenizer.unk_token_id
    assert tokenizer("<|im_start|>user", add_special_tokens=False)["input_ids"][0] == \
        tokenizer.convert_tokens_to_ids("<|im_start|>")


def test_tiny_chatml_template(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_tiny_generation_config_eos(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    generation = json.loads((tiny_model / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                          tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    assert generation["pad_token_id"] == tokenizer.pad_token_id


def test_tiny_model_matches_tokenizer(tiny_model: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_model)
    assert config.model_type == "qwen3"
    assert config.vocab_size == len(AutoTokenizer.from_pretrained(tiny_model))

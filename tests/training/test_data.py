"""Chat encoding: assistant-only labels, packing without cross-attention, target modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctiforge.errors import ConfigError, DataFormatError
from ctiforge.training import (
    IGNORE_INDEX,
    ChatCollator,
    ChatExample,
    encode_chat,
    encode_examples,
    read_chat_jsonl,
    resolve_target_modules,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def _trained_text(tokenizer, encoded) -> str:
    ids = [token for token, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX]
    return tokenizer.decode(ids)


def test_labels_cover_assistant_only(tokenizer) -> None:
    example = ChatExample(1, [{"role": "user", "content": "Which CWE is XSS?"},
                              {"role": "assistant", "content": "CWE-79"}])
    encoded = encode_chat(tokenizer, example)
    assert _trained_text(tokenizer, encoded) == "CWE-79<|im_end|>\n"


def test_input_equals_template(tokenizer) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Which CWE is XSS?"},
                {"role": "assistant", "content": "CWE-79"}]
    encoded = encode_chat(tokenizer, ChatExample(1, messages))
    assert tokenizer.decode(encoded.input_ids) == tokenizer.apply_chat_template(messages, tokenize=False)


def test_labels_multi_turn(tokenizer) -> None:
    messages = [{"role": "user", "content": "First?"}, {"role": "assistant", "content": "One"},
                {"role": "user", "content": "Second?"}, {"role": "assistant", "content": "Two"}]
    encoded = encode_chat(tokenizer, ChatExample(1, messages))
    assert _trained_text(tokenizer, encoded) == "One<|im_end|>\nTwo<|im_end|>\n"


def test_packing_respects_max_length(tokenizer, cwe_chat_file: Path) -> None:
    examples = read_chat_jsonl(cwe_chat_file)
    sequences, stats = encode_examples(tokenizer, examples, max_length=128, packing=True)
    assert all(len(sequence.input_ids) <= 128 for sequence in sequences)
    assert all(sum(sequence.lengths) == len(sequence.input_ids) for sequence in sequences)
    assert sum(len(sequence.lengths) for sequence in sequences) == stats.examples
    assert stats.sequences < stats.examples


def test_truncation_skips_answerless(tokenizer) -> None:
    long_question = ChatExample(1, [{"role": "user", "content": "word " * 200},
                                    {"role": "assistant", "content": "CWE-79"}])
    sequences, stats = encode_examples(tokenizer, [long_question], max_length=32, packing=True)
    assert sequences == []
    assert stats.truncated == 1
    assert stats.skipped_without_answer == 1


def test_packed_attention_isolated(tiny_model: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from ctiforge.training._data import PackedSequence

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    model.config.use_cache = False
    first, second = list(range(10, 30)), list(range(40, 55))
    batch = ChatCollator(pad_token_id=0, packing=True)([PackedSequence(first + second, first + second, [20, 15])])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        alone = model(input_ids=torch.tensor([second])).logits[0]
    assert torch.allclose(packed[20:], alone, atol=1e-4)


def test_collator_pads_without_packing() -> None:
    from ctiforge.training._data import PackedSequence

    batch = ChatCollator(pad_token_id=0, packing=False)([PackedSequence([5, 6, 7], [5, 6, 7], [3]),
                                                         PackedSequence([8], [IGNORE_INDEX], [1])])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[5, 6, 7], [IGNORE_INDEX] * 3]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="training file not found"):
        read_chat_jsonl(tmp_path / "absent.jsonl")


def test_read_reports_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": []}\nnot json\n{"messages": [{"role": "bot", "content": "x"}]}\n')
    with pytest.raises(DataFormatError) as caught:
        read_chat_jsonl(path)
    message = str(caught.value)
    assert "line 1: 'messages' must be a non-empty list" in message
    assert "line 2: invalid JSON" in message
    assert "line 3: messages[0].role is 'bot'" in message


def test_target_modules_auto(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert resolve_target_modules(model, "auto") == ["q_proj", "k_proj", "v_proj", "o_proj",
                                                     "gate_proj", "up_proj", "down_proj"]


def test_target_modules_unknown_lists_layers(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    with pytest.raises(ConfigError) as caught:
        resolve_target_modules(model, ["c_attn"])
    assert "q_proj" in str(caught.value)
    assert "lm_head" not in str(caught.value)

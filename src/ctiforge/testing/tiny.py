"""A tiny random Qwen3-architecture model with a real tokenizer, built offline.

`build_tiny_qwen3` writes a folder that `transformers.AutoModelForCausalLM` and
`AutoTokenizer` load like a Hugging Face checkpoint: safetensors weights,
`config.json`, `generation_config.json` and a byte-level BPE tokenizer with
Qwen's special tokens and a ChatML chat template. Tests and CPU smoke runs
use it in place of a multi-GB base model. Its outputs are random text.

The tokenizer is trained on the names and descriptions of the weaknesses in
the CWE catalog that ships with ctiforge, so prompts about CVEs and CWEs
tokenize into a realistic number of tokens.
"""

from __future__ import annotations

import html
import json
import logging
import re
import zipfile
from importlib import resources
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["CHATML_TEMPLATE", "SPECIAL_TOKENS", "build_tiny_qwen3", "tiny_training_text"]

# Qwen2/Qwen3 special tokens. The order fixes their ids: 0, 1, 2.
SPECIAL_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

# The ChatML layout of Qwen3-4B-Instruct-2507's template without its tool-call
# branches. Like Qwen's own template it has no {% generation %} markers, so
# training code that handles the real base model must handle this one too.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_WEAKNESS_PATTERN = re.compile(
    rb'<Weakness ID="(\d+)" Name="([^"]*)".*?<Description>(.*?)</Description>', re.DOTALL
)


def tiny_training_text(*, max_lines: int = 600) -> list[str]:
    """Return up to `max_lines` lines "CWE-<id>: <name>. <description>" from the shipped catalog.

    A regular expression reads the catalog zip instead of an XML parser
    because it needs only three fields and runs ten times faster.
    """
    catalog = resources.files("ctiforge") / "data" / "cwe" / "cwec_v4.14.xml.zip"
    with catalog.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        xml_bytes = archive.read(archive.namelist()[0])

    lines: list[str] = []
    for match in _WEAKNESS_PATTERN.finditer(xml_bytes):
        cwe_id, name, description = (html.unescape(part.decode("utf-8")) for part in match.groups())
        lines.append(f"CWE-{cwe_id}: {name}. {' '.join(description.split())}")
        if len(lines) >= max_lines:
            break
    return lines


def _train_tokenizer(lines: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Chat-formatted lines teach the merges for "user", "assistant" and newlines.
    chat_lines = [f"<|im_start|>user\n{line}<|im_end|>\n" for line in lines[:50]]
    tokenizer.train_from_iterator([*lines, *chat_lines], trainer=trainer)
    return tokenizer


def build_tiny_qwen3(
    out_dir: Path,
    *,
    seed: int = 0,
    vocab_size: int = 1024,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    head_dim: int = 16,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
    initializer_range: float = 0.2,
) -> Path:
    """Write a tiny random Qwen3ForCausalLM and its tokenizer to `out_dir` and return `out_dir`.

    `vocab_size` is the BPE training target; the model's embedding matrix
    matches the tokenizer's actual length, which can be a little smaller on a
    short corpus. The same seed writes the same weights and tokenizer. The
    large `initializer_range` makes logits differ clearly between tokens, so
    greedy decoding and equivalence checks are not decided by rounding.
    """
    import torch
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    raw_tokenizer = _train_tokenizer(tiny_training_text(), vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw_tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=max_position_embeddings,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    token_ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}

    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        head_dim=head_dim,
        max_position_embeddings=max_position_embeddings,
        initializer_range=initializer_range,
        tie_word_embeddings=True,
        bos_token_id=token_ids["<|endoftext|>"],
        eos_token_id=token_ids["<|im_end|>"],
        pad_token_id=token_ids["<|endoftext|>"],
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=token_ids["<|endoftext|>"],
        eos_token_id=[token_ids["<|im_end|>"], token_ids["<|endoftext|>"]],
        pad_token_id=token_ids["<|endoftext|>"],
        do_sample=False,
    )

    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "tiny-model.json").write_text(
        json.dumps({"builder": "ctiforge.testing.tiny.build_tiny_qwen3", "seed": seed}, indent=2) + "\n"
    )
    logger.info("wrote tiny Qwen3 model (%d tokens, seed %d) to %s", len(tokenizer), seed, out_dir)
    return out_dir

"""GGUF export through llama.cpp's own converter and quantiser, with a round-trip check.

The converter is llama.cpp's `convert_hf_to_gguf.py`, run as a subprocess.
It writes f16 and q8_0 directly. q4_k_m starts from an f16 file and goes
through `llama_model_quantize` from llama-cpp-python, the same code as the
`llama-quantize` tool.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ctiforge.errors import BackendError, ConfigError, DataFormatError, MissingDependencyError, require
from ctiforge.export._modelfile import write_modelfile

logger = logging.getLogger(__name__)

Quant = Literal["q8_0", "q4_k_m", "f16"]
QUANT_TYPES: tuple[str, ...] = ("q8_0", "q4_k_m", "f16")
CONVERTER_NAME = "convert_hf_to_gguf.py"
CONVERTER_ENV = "CTIFORGE_LLAMA_CPP_CONVERTER"

# Prompts for the round-trip check, rendered with the model's chat template.
CHECK_PROMPTS: tuple[str, ...] = (
    "Which CWE describes SQL injection?",
    "Explain CVE-2014-0160 in one sentence.",
)
CHECK_NEW_TOKENS = 12

# Quantisations whose greedy output must equal the HF model's. A 4-bit model
# legitimately picks a different token where two logits are close, so for
# q4_k_m a greedy mismatch is reported as a warning and the tokens must still match.
_STRICT_GREEDY = {"f16", "q8_0"}


@dataclass(frozen=True)
class RoundTripReport:
    """Tokenizer and greedy-output agreement between the GGUF file and the HF model."""

    prompts: int
    tokens_match: bool
    greedy_match: bool
    greedy_required: bool
    mismatches: list[str]


@dataclass(frozen=True)
class ExportResult:
    """A written GGUF file, its Ollama Modelfile and the check it passed."""

    gguf_path: Path
    modelfile_path: Path
    quant: str
    size_bytes: int
    check: RoundTripReport


def require_llamacpp() -> tuple[Any, Any]:
    """Import llama_cpp and gguf, or raise MissingDependencyError naming the `llamacpp` extra."""
    llama_cpp = require("llama_cpp", package="llama-cpp-python", extra="llamacpp", feature="GGUF export")
    gguf = require("gguf", extra="llamacpp", feature="GGUF export")
    return llama_cpp, gguf


def find_converter(explicit: Path | None = None) -> Path:
    """Locate llama.cpp's convert_hf_to_gguf.py.

    Looks at `explicit`, then $CTIFORGE_LLAMA_CPP_CONVERTER, then the places
    a llama-cpp-python build installs llama.cpp's scripts (site-packages/bin,
    the environment's bin folder, the llama_cpp package folder) and PATH.
    """
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(Path(explicit))
    if os.environ.get(CONVERTER_ENV):
        candidates.append(Path(os.environ[CONVERTER_ENV]))
    for key in ("purelib", "platlib"):
        candidates.append(Path(sysconfig.get_paths()[key]) / "bin" / CONVERTER_NAME)
    candidates.append(Path(sys.prefix) / "bin" / CONVERTER_NAME)
    spec = importlib.util.find_spec("llama_cpp")
    if spec is not None and spec.origin:
        package_dir = Path(spec.origin).parent
        candidates.extend(package_dir.rglob(CONVERTER_NAME))
    on_path = shutil.which(CONVERTER_NAME)
    if on_path:
        candidates.append(Path(on_path))

    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if explicit is not None:
        raise ConfigError(f"--converter {explicit} not found")
    raise MissingDependencyError(
        "llama.cpp's convert_hf_to_gguf.py", "llamacpp",
        f"GGUF export (pass --converter PATH or set {CONVERTER_ENV}; the script is in llama.cpp's source tree "
        "and in llama-cpp-python's source distribution under vendor/llama.cpp)",
    )


# Run by `_run_converter` when the caller forces the pre-tokenizer name. The
# converter identifies a BPE pre-tokenizer by hashing the token IDs of a fixed
# text, so a retrained or extended tokenizer is unknown to it and the export
# stops with "BPE pre-tokenizer was not recognized". This wrapper imports the
# converter as a module, replaces TextModel.get_vocab_base_pre with a function
# returning the given name (a value of llama.cpp's `tokenizer.ggml.pre`), and
# runs its main().
_FORCED_PRE_TOKENIZER_RUNNER = """
import importlib.util, sys
converter, pre_name = sys.argv[1], sys.argv[2]
sys.argv = [converter] + sys.argv[3:]
sys.path.insert(0, converter.rsplit("/", 1)[0])
spec = importlib.util.spec_from_file_location("convert_hf_to_gguf", converter)
module = importlib.util.module_from_spec(spec)
sys.modules["convert_hf_to_gguf"] = module
spec.loader.exec_module(module)
text_model = getattr(module, "TextModel", None)
if text_model is None:
    from conversion.base import TextModel as text_model
text_model.get_vocab_base_pre = lambda self, tokenizer: pre_name
module.main()
"""


def _run_converter(converter: Path, model_dir: Path, out_file: Path, outtype: str,
                   tokenizer_pre: str | None = None) -> None:
    arguments = [str(model_dir), "--outfile", str(out_file), "--outtype", outtype]
    if tokenizer_pre is None:
        command = [sys.executable, str(converter), *arguments]
    else:
        command = [sys.executable, "-c", _FORCED_PRE_TOKENIZER_RUNNER, str(converter), tokenizer_pre, *arguments]
    logger.info("running %s on %s", converter.name, model_dir)
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        last_line = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
        hint = ""
        if "pre-tokenizer was not recognized" in last_line:
            hint = ("; the tokenizer is not one llama.cpp knows: pass --tokenizer-pre NAME with the llama.cpp "
                    "pre-tokenizer it follows (e.g. qwen2 for Qwen tokenizers, gpt-2 for GPT-2 byte-level BPE)")
        raise BackendError(
            f"{converter.name} failed on {model_dir} (exit {completed.returncode}): {last_line}{hint}"
        )


def _quantize(llama_cpp: Any, source: Path, target: Path, quant: str) -> None:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant.upper()}")
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if status != 0:
        raise BackendError(f"llama_model_quantize to {quant} failed on {source} (status {status})")


def _hf_reference(model_dir: Path, prompts: list[str]) -> tuple[list[list[int]], list[list[int]]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    token_lists, greedy = [], []
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            token_lists.append(ids)
            tensor = torch.tensor([ids])
            out = model.generate(input_ids=tensor, attention_mask=torch.ones_like(tensor),
                                 max_new_tokens=CHECK_NEW_TOKENS, do_sample=False)
            greedy.append(out[0, len(ids):].tolist())
    return token_lists, greedy


def _gguf_outputs(llama_cpp: Any, gguf_path: Path, prompts: list[str],
                  stop_ids: set[int]) -> tuple[list[list[int]], list[list[int]]]:
    model = llama_cpp.Llama(model_path=str(gguf_path), n_ctx=512, n_threads=1, verbose=False, seed=0)
    token_lists, greedy = [], []
    for prompt in prompts:
        ids = model.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        token_lists.append(list(ids))
        generated: list[int] = []
        for token in model.generate(ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
            generated.append(int(token))
            if token in stop_ids or len(generated) >= CHECK_NEW_TOKENS:
                break
        greedy.append(generated)
    return token_lists, greedy


def round_trip_check(llama_cpp: Any, model_dir: Path, gguf_path: Path, quant: str) -> RoundTripReport:
    """Compare prompt tokens and greedy continuations of the GGUF file with the HF model."""
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompts = [
        tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
        for text in CHECK_PROMPTS
    ]
    eos = GenerationConfig.from_pretrained(model_dir).eos_token_id
    if eos is None:
        stop_ids: set[int] = set()
    elif isinstance(eos, list):
        stop_ids = set(eos)
    else:
        stop_ids = {eos}

    hf_tokens, hf_greedy = _hf_reference(model_dir, prompts)
    gguf_tokens, gguf_greedy = _gguf_outputs(llama_cpp, gguf_path, prompts, stop_ids)

    mismatches: list[str] = []
    for index, (a, b) in enumerate(zip(hf_tokens, gguf_tokens)):
        if a != b:
            mismatches.append(f"prompt {index}: tokens differ (HF {len(a)}, GGUF {len(b)})")
    greedy_match = True
    for index, (a, b) in enumerate(zip(hf_greedy, gguf_greedy)):
        # HF stops after the first stop token too, so the shorter list decides the compared length.
        length = min(len(a), len(b))
        if a[:length] != b[:length]:
            greedy_match = False
            mismatches.append(f"prompt {index}: greedy output differs (HF {a[:length]}, GGUF {b[:length]})")
    return RoundTripReport(
        prompts=len(prompts),
        tokens_match=hf_tokens == gguf_tokens,
        greedy_match=greedy_match,
        greedy_required=quant in _STRICT_GREEDY,
        mismatches=mismatches,
    )


def export_gguf(
    model_dir: Path,
    out_file: Path,
    *,
    quant: Quant = "q8_0",
    converter: Path | None = None,
    overwrite: bool = False,
    modelfile: Path | None = None,
    tokenizer_pre: str | None = None,
) -> ExportResult:
    """Convert a merged HF model folder to one GGUF file and write an Ollama Modelfile beside it.

    The file is written under a temporary name, checked against the HF model
    (prompt tokens always, greedy output for f16 and q8_0) and renamed into
    place only when the check passes. `tokenizer_pre` forces llama.cpp's
    pre-tokenizer name for a tokenizer the converter does not recognise; the
    round-trip check still compares the prompt tokens. Raises
    MissingDependencyError without the `llamacpp` extra.
    """
    # NOTE: CI does not install llama-cpp-python (it compiles llama.cpp for
    # minutes), so only the tests marked `llamacpp` run this path.
    if quant not in QUANT_TYPES:
        raise ConfigError(f"invalid --quant {quant!r}; choose one of {', '.join(QUANT_TYPES)}")
    llama_cpp, _ = require_llamacpp()
    model_dir = Path(model_dir)
    out_file = Path(out_file)
    if not (model_dir / "config.json").is_file():
        raise DataFormatError(
            f"{model_dir} is not a Hugging Face model folder (config.json not found); "
            "export the folder written by `ctiforge merge`"
        )
    if out_file.exists() and not overwrite:
        raise ConfigError(f"{out_file} already exists; pass --overwrite to replace it or choose another --out")

    converter_path = find_converter(converter)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(f".{out_file.name}.partial")
    intermediate = out_file.with_name(f".{out_file.name}.f16.partial")
    try:
        if quant == "q4_k_m":
            _run_converter(converter_path, model_dir, intermediate, "f16", tokenizer_pre)
            _quantize(llama_cpp, intermediate, partial, quant)
        else:
            _run_converter(converter_path, model_dir, partial, quant, tokenizer_pre)
        report = round_trip_check(llama_cpp, model_dir, partial, quant)
        if not report.tokens_match or (report.greedy_required and not report.greedy_match):
            raise BackendError(
                f"GGUF round-trip check failed for {out_file.name}: {'; '.join(report.mismatches)}; "
                "nothing was written"
            )
        if not report.greedy_match:
            logger.warning("%s greedy output differs from the HF model: %s", quant, "; ".join(report.mismatches))
        os.replace(partial, out_file)
    finally:
        for leftover in (partial, intermediate):
            leftover.unlink(missing_ok=True)

    modelfile_path = write_modelfile(model_dir, out_file, modelfile or out_file.parent / "Modelfile")
    (out_file.parent / f"{out_file.name}.json").write_text(
        json.dumps({"source_model": str(model_dir.resolve()), "quant": quant,
                    "round_trip": report.__dict__}, indent=2) + "\n",
        encoding="utf-8",
    )
    return ExportResult(out_file, modelfile_path, quant, out_file.stat().st_size, report)

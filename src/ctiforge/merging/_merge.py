"""Merge a LoRA adapter into its base model and check that the merged model behaves the same."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ctiforge.errors import BackendError, ConfigError, DataFormatError

logger = logging.getLogger(__name__)

MODEL_SIDECAR = "ctiforge-model.json"
ADAPTER_SIDECAR = "ctiforge-adapter.json"
MergeDtype = Literal["auto", "fp32", "bf16", "fp16"]

# Short prompts in the product's domain for the equivalence check.
SAMPLE_PROMPTS: tuple[str, ...] = (
    "Which CWE describes an out-of-bounds write in a PNG decoder?",
    "Summarise CVE-2021-44228 in one sentence.",
    "What is the CVSS v3.1 attack vector of a flaw exploitable over the network?",
    "Name one ATT&CK technique used for credential dumping.",
)

# Maximum absolute logit difference accepted between the adapter model and
# the merged model. In fp32 only the order of additions differs (W x + B A x
# against (W + B A) x), which moves logits by about 1e-5. In bf16 and fp16 the
# merged weights are rounded once more, so the bound is relative to the
# largest logit.
FP32_ABSOLUTE_TOLERANCE = 1e-3
HALF_RELATIVE_TOLERANCE = 5e-2


@dataclass(frozen=True)
class EquivalenceReport:
    """Agreement between the merged model and the base model with the adapter applied."""

    prompts: int
    max_abs_logit_diff: float
    max_abs_logit: float
    tolerance: float
    greedy_tokens: int
    greedy_match: bool
    passed: bool


@dataclass(frozen=True)
class MergeResult:
    """A merged model folder and the check it passed."""

    out_dir: Path
    base_model: str
    dtype: str
    equivalence: EquivalenceReport


def read_adapter_config(adapter_dir: Path) -> dict[str, Any]:
    """Return the adapter's `adapter_config.json`, or raise DataFormatError naming the folder."""
    path = Path(adapter_dir) / "adapter_config.json"
    if not path.is_file():
        raise DataFormatError(
            f"{adapter_dir} is not a LoRA adapter folder: {path.name} not found; "
            "pass the adapter folder that `ctiforge train` wrote (OUTPUT_DIR/adapter)"
        )
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DataFormatError(f"{path} must contain a JSON object")
    return value


def _looks_like_path(name: str) -> bool:
    # A Hugging Face id has exactly one "/" (owner/name) and never starts with one.
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name)


def resolve_base_model(adapter_dir: Path, adapter_config: dict[str, Any], base: str | None) -> str:
    """Return the base model folder or Hugging Face id, checked to exist before any weights load.

    A folder must contain config.json. A Hugging Face id is checked through
    transformers, which finds it in the local cache or downloads its config.
    Raises DataFormatError naming the value in adapter_config.json (or
    `--base`) and the `--base` option when the base cannot be found.
    """
    named = adapter_config.get("base_model_name_or_path")
    candidate = base or named
    where = "--base" if base else f"base_model_name_or_path in {adapter_dir}/adapter_config.json"
    if not candidate:
        raise DataFormatError(
            f"{adapter_dir}/adapter_config.json names no base_model_name_or_path; pass --base PATH_OR_ID"
        )
    message = (
        f"base model '{candidate}' ({where}) not found; pass --base with the base model's "
        "local folder or a downloaded Hugging Face id"
    )
    local = Path(candidate).expanduser()
    if local.exists() or _looks_like_path(candidate):
        if not (local / "config.json").is_file():
            raise DataFormatError(message)
        return str(candidate)

    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(candidate)
    except (OSError, ValueError) as exc:
        raise DataFormatError(message) from exc
    return str(candidate)


def _torch_dtype(dtype: MergeDtype, *, cuda: bool) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if cuda else torch.float32
    if dtype in ("bf16", "fp16") and not cuda:
        logger.warning("merging in %s on CPU is slow; fp32 is the CPU default", dtype)
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]


def _sample_inputs(tokenizer: Any, prompts: tuple[str, ...]) -> list[Any]:
    inputs = []
    for prompt in prompts:
        messages = [{"role": "user", "content": prompt}]
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = prompt
        inputs.append(tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"])
    return inputs


def model_outputs(model: Any, inputs: list[Any], *, max_new_tokens: int) -> tuple[list[Any], list[list[int]]]:
    """Return the prompt logits (float32, on CPU) and the greedy continuation of each input."""
    import torch

    device = next(model.parameters()).device
    logits, continuations = [], []
    with torch.no_grad():
        for input_ids in inputs:
            input_ids = input_ids.to(device)
            logits.append(model(input_ids=input_ids).logits.float().cpu())
            generated = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
            )
            continuations.append(generated[0, input_ids.shape[1]:].tolist())
    return logits, continuations


def compare_outputs(
    reference: tuple[list[Any], list[list[int]]], candidate: tuple[list[Any], list[list[int]]], *, half_precision: bool
) -> EquivalenceReport:
    """Compare logits and greedy continuations of two models on the same inputs."""
    ref_logits, ref_tokens = reference
    new_logits, new_tokens = candidate
    max_diff = max(float((a - b).abs().max()) for a, b in zip(ref_logits, new_logits))
    max_logit = max(float(a.abs().max()) for a in ref_logits)
    tolerance = HALF_RELATIVE_TOLERANCE * max_logit if half_precision else FP32_ABSOLUTE_TOLERANCE
    greedy_match = ref_tokens == new_tokens
    return EquivalenceReport(
        prompts=len(ref_logits),
        max_abs_logit_diff=max_diff,
        max_abs_logit=max_logit,
        tolerance=tolerance,
        greedy_tokens=sum(len(tokens) for tokens in ref_tokens),
        greedy_match=greedy_match,
        passed=max_diff <= tolerance and greedy_match,
    )


def _load_tokenizer(adapter_dir: Path, base: str) -> Any:
    from transformers import AutoTokenizer

    # The training run saves the tokenizer (with its chat template) beside the adapter.
    source = adapter_dir if (adapter_dir / "tokenizer_config.json").is_file() else base
    return AutoTokenizer.from_pretrained(source)


def _sidecar(adapter_dir: Path, adapter_config: dict[str, Any], base: str, dtype: str,
             report: EquivalenceReport) -> dict[str, Any]:
    from ctiforge.training._manifest import package_versions, read_json, utc_now

    training = read_json(adapter_dir / ADAPTER_SIDECAR) if (adapter_dir / ADAPTER_SIDECAR).is_file() else None
    return {
        "format_version": 1,
        "kind": "ctiforge-merged-model",
        "created_at": utc_now(),
        "base_model": base,
        "adapter_dir": str(adapter_dir.resolve()),
        "adapter_config": adapter_config,
        "dtype": dtype,
        "equivalence": asdict(report),
        "training_manifest": training,
        "corpus_manifest": training.get("corpus") if training else None,
        "packages": package_versions(),
    }


def merge_adapter(
    adapter_dir: Path,
    out_dir: Path,
    *,
    base: str | None = None,
    dtype: MergeDtype = "auto",
    overwrite: bool = False,
    max_new_tokens: int = 16,
    prompts: tuple[str, ...] = SAMPLE_PROMPTS,
) -> MergeResult:
    """Merge `adapter_dir` into its base and write a standalone model to `out_dir`.

    The merged model is written to a temporary folder beside `out_dir`,
    loaded back and compared with the base model plus adapter on `prompts`:
    prompt logits within the tolerance and identical greedy continuations.
    Only then is the folder renamed to `out_dir`. The adapter folder is only
    read. Raises ConfigError when `out_dir` exists and `overwrite` is false,
    and BackendError when the check fails.
    """
    adapter_dir = Path(adapter_dir)
    out_dir = Path(out_dir)
    adapter_config = read_adapter_config(adapter_dir)
    if out_dir.resolve() == adapter_dir.resolve():
        raise ConfigError(f"--out {out_dir} is the adapter folder; choose a new folder for the merged model")
    if out_dir.exists() and not overwrite:
        raise ConfigError(f"{out_dir} already exists; pass --overwrite to replace it or choose another --out")
    base_model = resolve_base_model(adapter_dir, adapter_config, base)

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    torch_dtype = _torch_dtype(dtype, cuda=cuda)
    dtype_name = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[torch_dtype]
    device = "cuda" if cuda else "cpu"
    tokenizer = _load_tokenizer(adapter_dir, base_model)
    inputs = _sample_inputs(tokenizer, prompts)

    logger.info("loading %s in %s with adapter %s", base_model, dtype_name, adapter_dir)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch_dtype).to(device)
    model = PeftModel.from_pretrained(model, adapter_dir).eval()
    reference = model_outputs(model, inputs, max_new_tokens=max_new_tokens)
    merged = model.merge_and_unload()

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if temporary.exists():
        shutil.rmtree(temporary)
    try:
        merged.save_pretrained(temporary)
        tokenizer.save_pretrained(temporary)
        del merged, model
        reloaded = AutoModelForCausalLM.from_pretrained(temporary, dtype=torch_dtype).to(device).eval()
        report = compare_outputs(
            reference, model_outputs(reloaded, inputs, max_new_tokens=max_new_tokens),
            half_precision=dtype_name != "fp32",
        )
        if not report.passed:
            raise BackendError(
                f"merged model differs from base + adapter: max logit difference {report.max_abs_logit_diff:.3g} "
                f"(tolerance {report.tolerance:.3g}), greedy outputs {'match' if report.greedy_match else 'differ'}; "
                f"nothing was written to {out_dir}; retry with --dtype fp32"
            )
        sidecar = _sidecar(adapter_dir, adapter_config, base_model, dtype_name, report)
        (temporary / MODEL_SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise

    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(temporary, out_dir)
    return MergeResult(out_dir=out_dir, base_model=base_model, dtype=dtype_name, equivalence=report)

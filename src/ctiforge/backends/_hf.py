"""Backend that runs a transformers model in this process.

The model is a local folder or a Hub ID. A folder with `adapter_config.json`
is a LoRA adapter: its base model is loaded first and the adapter applied
with peft. On a CUDA GPU the model runs in bfloat16, with FlashAttention-2
when the `flash_attn` package is installed. On CPU it runs in float32 with
PyTorch's sdpa attention. Prompts are batched with left padding.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ctiforge.backends._base import (
    Backend,
    BackendInfo,
    GenerationRequest,
    GenerationResult,
    ResultCallback,
    SamplingParams,
)
from ctiforge.errors import BackendError, require

logger = logging.getLogger(__name__)


class HFBackend(Backend):
    """A causal language model loaded with transformers (and peft for adapters)."""

    name = "hf"

    def __init__(self, *, model: str, batch_size: int = 8, device: str | None = None) -> None:
        self._torch = require("torch", extra="hf", feature="the hf backend")
        self._transformers = require("transformers", extra="hf", feature="the hf backend")
        self.model_name = model
        self.batch_size = max(1, batch_size)
        torch = self._torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model, self._tokenizer, self._details = self._load(model)

    @property
    def info(self) -> BackendInfo:
        return BackendInfo(backend=self.name, model=self.model_name, details=self._details)

    def _load(self, model: str) -> tuple[Any, Any, dict[str, Any]]:
        torch, transformers = self._torch, self._transformers
        folder = Path(model)
        if not folder.exists() and (model.startswith((".", "/")) or folder.suffix):
            raise BackendError(f"--model {model} not found; pass a model folder or a Hugging Face Hub ID")
        adapter_config = folder / "adapter_config.json"
        base_name = model
        if adapter_config.is_file():
            base_name = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path") or ""
            if not base_name:
                raise BackendError(f"{adapter_config} has no base_model_name_or_path; set it to the base model folder")
        on_gpu = self.device.startswith("cuda")
        dtype = torch.bfloat16 if on_gpu else torch.float32
        attention = "sdpa"
        if on_gpu:
            try:
                import flash_attn  # noqa: F401

                attention = "flash_attention_2"
            except ImportError:
                logger.info("flash_attn is not installed; using sdpa attention")
        try:
            loaded = transformers.AutoModelForCausalLM.from_pretrained(
                base_name, dtype=dtype, attn_implementation=attention
            )
        except OSError as exc:
            raise BackendError(f"cannot load model '{base_name}': {exc}; pass a model folder with config.json") from None
        tokenizer_source = model if (folder / "tokenizer_config.json").is_file() or not adapter_config.is_file() else base_name
        tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_source)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        details: dict[str, Any] = {"dtype": str(dtype).removeprefix("torch."), "attention": attention, "device": self.device}
        if adapter_config.is_file():
            peft = require("peft", extra="hf", feature="loading a LoRA adapter")
            loaded = peft.PeftModel.from_pretrained(loaded, model)
            details["base_model"] = base_name
            details["adapter"] = model
        loaded.to(self.device)
        loaded.eval()
        return loaded, tokenizer, details

    def generate(self, requests: Iterable[GenerationRequest], *, on_result: ResultCallback) -> None:
        # Batch requests that share sampling settings; sorting by length keeps padding small.
        groups: dict[tuple[Any, ...], list[GenerationRequest]] = {}
        for request in requests:
            params = request.params
            group = (params.temperature, params.top_p, params.max_tokens, params.stop, request.is_chat)
            groups.setdefault(group, []).append(request)
        for members in groups.values():
            members.sort(key=lambda r: len(self._prompt_text(r)))
            for start in range(0, len(members), self.batch_size):
                self._run_batch(members[start : start + self.batch_size], on_result)

    def _prompt_text(self, request: GenerationRequest) -> str:
        if request.messages is None:
            return request.text or ""
        if not getattr(self._tokenizer, "chat_template", None):
            raise BackendError(
                f"the tokenizer of {self.model_name} has no chat template; use --protocol base for a base model"
            )
        return self._tokenizer.apply_chat_template(list(request.messages), add_generation_prompt=True, tokenize=False)

    def _run_batch(self, batch: list[GenerationRequest], on_result: ResultCallback) -> None:
        torch = self._torch
        params: SamplingParams = batch[0].params
        started = time.monotonic()
        texts = [self._prompt_text(request) for request in batch]
        encoded = self._tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

        options: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "pad_token_id": self._tokenizer.pad_token_id,
        }
        if params.temperature > 0:
            options.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if params.seed is not None:
            # NOTE: one generator seed per batch, taken from its first request, so
            # sampled outputs depend on how requests fall into batches.
            torch.manual_seed(params.seed)

        try:
            with torch.inference_mode():
                output = self._model.generate(**encoded, **options)
        except (RuntimeError, ValueError) as exc:
            latency = time.monotonic() - started
            for request in batch:
                on_result(GenerationResult(key=request.key, error=f"generation failed: {exc}", latency_s=latency))
            return

        latency = (time.monotonic() - started) / len(batch)
        prompt_width = encoded["input_ids"].shape[1]
        for row, request in enumerate(batch):
            new_tokens = output[row, prompt_width:]
            text = self._tokenizer.decode(new_tokens, skip_special_tokens=True)
            finish = "length" if len(new_tokens) >= params.max_tokens else "stop"
            for stop in params.stop:
                if stop in text:
                    text, finish = text.split(stop, 1)[0], "stop"
            non_pad = int((new_tokens != self._tokenizer.pad_token_id).sum())
            on_result(GenerationResult(
                key=request.key,
                text=text,
                finish_reason=finish,
                prompt_tokens=int(encoded["attention_mask"][row].sum()),
                completion_tokens=non_pad,
                latency_s=latency,
            ))

    def score_labels(self, request: GenerationRequest, labels: list[str]) -> list[float]:
        """Return the summed log-probability of each label's tokens after the prompt."""
        torch = self._torch
        prompt = self._prompt_text(request)
        prompt_ids = self._tokenizer(prompt, add_special_tokens=False)["input_ids"]
        scores = []
        with torch.inference_mode():
            for label in labels:
                label_ids = self._tokenizer(label, add_special_tokens=False)["input_ids"]
                ids = torch.tensor([prompt_ids + label_ids], device=self.device)
                logits = self._model(ids).logits[0, len(prompt_ids) - 1 : -1]
                logprobs = torch.log_softmax(logits.float(), dim=-1)
                picked = logprobs[torch.arange(len(label_ids)), torch.tensor(label_ids, device=self.device)]
                scores.append(float(picked.sum()))
        return scores

    def close(self) -> None:
        self._model = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()

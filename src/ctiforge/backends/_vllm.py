"""Backend that runs a model with vLLM's offline `LLM` class (CUDA GPUs only)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from ctiforge.backends._base import Backend, BackendInfo, GenerationRequest, GenerationResult, ResultCallback
from ctiforge.errors import BackendError, require

logger = logging.getLogger(__name__)


class VLLMBackend(Backend):
    """A model served in process by vLLM; every request goes to vLLM in one call.

    NOTE: not run in CI, which has no GPU; vLLM cannot run on the CPUs there.
    """

    name = "vllm"

    def __init__(self, *, model: str, max_model_len: int | None = None, gpu_memory_utilization: float = 0.9) -> None:
        self._vllm = require("vllm", extra="vllm", feature="the vllm backend")
        self.model_name = model
        try:
            self._llm = self._vllm.LLM(model=model, max_model_len=max_model_len,
                                       gpu_memory_utilization=gpu_memory_utilization)
        except (RuntimeError, ValueError, OSError) as exc:
            raise BackendError(f"vLLM cannot load '{model}' here ({exc}); vLLM needs a CUDA GPU, "
                               "use --backend hf or --backend openai otherwise") from None

    @property
    def info(self) -> BackendInfo:
        return BackendInfo(backend=self.name, model=self.model_name, details={"vllm": self._vllm.__version__})

    def generate(self, requests: Iterable[GenerationRequest], *, on_result: ResultCallback) -> None:
        batch = list(requests)
        chats = [r for r in batch if r.is_chat]
        texts = [r for r in batch if not r.is_chat]
        started = time.monotonic()
        if chats:
            outputs = self._llm.chat([list(r.messages or ()) for r in chats], [self._params(r) for r in chats])
            self._report(chats, outputs, started, on_result)
        if texts:
            outputs = self._llm.generate([r.text for r in texts], [self._params(r) for r in texts])
            self._report(texts, outputs, started, on_result)

    def _params(self, request: GenerationRequest):
        p = request.params
        return self._vllm.SamplingParams(temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
                                         seed=p.seed, stop=list(p.stop) or None)

    def _report(self, requests, outputs, started: float, on_result: ResultCallback) -> None:
        latency = (time.monotonic() - started) / max(1, len(requests))
        for request, output in zip(requests, outputs):
            completion = output.outputs[0]
            on_result(GenerationResult(key=request.key, text=completion.text, finish_reason=completion.finish_reason,
                                       prompt_tokens=len(output.prompt_token_ids or ()),
                                       completion_tokens=len(completion.token_ids), latency_s=latency))

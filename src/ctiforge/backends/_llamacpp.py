"""Backend that runs a GGUF model with llama-cpp-python, one request at a time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

from ctiforge.backends._base import Backend, BackendInfo, GenerationRequest, GenerationResult, ResultCallback
from ctiforge.errors import BackendError, require

logger = logging.getLogger(__name__)


class LlamaCppBackend(Backend):
    """A GGUF file loaded with `llama_cpp.Llama`; chat prompts use the GGUF's chat template."""

    name = "llamacpp"

    def __init__(self, *, model: str, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        self._llama_cpp = require("llama_cpp", package="llama-cpp-python", extra="llamacpp",
                                  feature="the llamacpp backend")
        path = Path(model)
        if not path.is_file():
            raise BackendError(f"--model {model} is not a GGUF file; pass the path of a .gguf file")
        self.model_name = model
        self._llm = self._llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)

    @property
    def info(self) -> BackendInfo:
        return BackendInfo(backend=self.name, model=self.model_name,
                           details={"llama_cpp": getattr(self._llama_cpp, "__version__", "unknown")})

    def generate(self, requests: Iterable[GenerationRequest], *, on_result: ResultCallback) -> None:
        for request in requests:
            p = request.params
            options = {"temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens,
                       "stop": list(p.stop) or None, "seed": p.seed}
            started = time.monotonic()
            try:
                if request.is_chat:
                    response = self._llm.create_chat_completion(messages=list(request.messages or ()), **options)
                    text = response["choices"][0]["message"]["content"]
                else:
                    response = self._llm.create_completion(prompt=request.text, **options)
                    text = response["choices"][0]["text"]
            except (RuntimeError, ValueError) as exc:
                on_result(GenerationResult(key=request.key, error=f"llama.cpp failed: {exc}",
                                           latency_s=time.monotonic() - started))
                continue
            usage = response.get("usage") or {}
            on_result(GenerationResult(key=request.key, text=text,
                                       finish_reason=response["choices"][0].get("finish_reason"),
                                       prompt_tokens=usage.get("prompt_tokens"),
                                       completion_tokens=usage.get("completion_tokens"),
                                       latency_s=time.monotonic() - started))

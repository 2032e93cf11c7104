"""Model backends behind one interface, chosen by name and imported on first use.

    from ctiforge.backends import get_backend, GenerationRequest, SamplingParams
    backend = get_backend("openai", model="qwen3-4b", base_url="http://127.0.0.1:8000/v1")
    backend.generate([GenerationRequest(key="1", params=SamplingParams(), messages=(...,))],
                     on_result=print)

Backends: `openai` (any OpenAI-compatible server), `hf` (transformers in
process), `vllm` (offline vLLM), `llamacpp` (GGUF through llama-cpp-python)
and `mapper` (the embedded CPU CWE mapper, RCM tasks only).
"""

from ctiforge.backends._base import (
    Backend,
    BackendInfo,
    GenerationRequest,
    GenerationResult,
    ResultCallback,
    SamplingParams,
)
from ctiforge.backends._registry import BACKEND_NAMES, BACKENDS, backend_class, get_backend

__all__ = [
    "BACKENDS",
    "BACKEND_NAMES",
    "Backend",
    "BackendInfo",
    "GenerationRequest",
    "GenerationResult",
    "ResultCallback",
    "SamplingParams",
    "backend_class",
    "get_backend",
]

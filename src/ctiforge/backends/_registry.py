"""Backend names mapped to their classes, imported only when selected."""

from __future__ import annotations

import importlib
from typing import Any

from ctiforge.backends._base import Backend
from ctiforge.errors import UnknownIdError

# Backend name -> "module:class". The module is imported on first use so that
# choosing `openai` or `mapper` never imports torch.
BACKENDS: dict[str, str] = {
    "openai": "ctiforge.backends._openai:OpenAIBackend",
    "hf": "ctiforge.backends._hf:HFBackend",
    "vllm": "ctiforge.backends._vllm:VLLMBackend",
    "llamacpp": "ctiforge.backends._llamacpp:LlamaCppBackend",
    "mapper": "ctiforge.backends._mapper:MapperBackend",
}

BACKEND_NAMES: tuple[str, ...] = tuple(BACKENDS)


def backend_class(name: str) -> type[Backend]:
    """Import and return the class registered under `name`."""
    target = BACKENDS.get(name)
    if target is None:
        raise UnknownIdError(f"unknown backend '{name}'; choose one of: {', '.join(BACKEND_NAMES)}")
    module_name, attribute = target.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def get_backend(name: str, **options: Any) -> Backend:
    """Create the backend `name` with its keyword options (for example `model=`, `base_url=`)."""
    return backend_class(name)(**options)

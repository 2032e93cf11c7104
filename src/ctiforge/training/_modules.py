"""LoRA target modules per architecture family."""

from __future__ import annotations

import logging
from typing import Any

from ctiforge.errors import ConfigError

logger = logging.getLogger(__name__)

# Attention and MLP projections of the decoder blocks. Qwen2/Qwen3, Llama,
# Mistral and Gemma 1-3 all use these names for their linear layers.
PROJECTION_MODULES: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# Layers that LoRA should leave alone even when their names would match.
_EXCLUDED_LEAVES = {"lm_head", "embed_tokens", "score"}


def linear_layer_names(model: Any) -> list[str]:
    """Return the sorted distinct leaf names of the model's linear layers (e.g. "q_proj")."""
    import torch

    names: set[str] = set()
    for qualified_name, module in model.named_modules():
        # bitsandbytes' Linear4bit subclasses torch.nn.Linear, so QLoRA models are covered.
        if isinstance(module, torch.nn.Linear):
            leaf = qualified_name.rsplit(".", 1)[-1]
            if leaf not in _EXCLUDED_LEAVES:
                names.add(leaf)
    return sorted(names)


def resolve_target_modules(model: Any, requested: list[str] | str) -> list[str]:
    """Return the LoRA target module names for `model`.

    "auto" picks the attention and MLP projections present in the model.
    Raises ConfigError listing the model's linear layer names when none of
    the requested or known names exist.
    """
    available = linear_layer_names(model)
    wanted = list(PROJECTION_MODULES) if requested == "auto" else list(requested)
    found = [name for name in wanted if name in available]
    missing = [name for name in wanted if name not in available]
    architecture = type(model).__name__

    if not found:
        raise ConfigError(
            f"no LoRA target module of {wanted} exists in {architecture}; set lora.target_modules "
            f"to some of its linear layers: {', '.join(available) or '(none found)'}"
        )
    if missing and requested != "auto":
        raise ConfigError(
            f"lora.target_modules {missing} not found in {architecture}; its linear layers are: {', '.join(available)}"
        )
    if missing:
        logger.info("%s has no %s; adapting %s", architecture, missing, found)
    return found

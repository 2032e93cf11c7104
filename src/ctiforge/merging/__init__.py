"""Merge LoRA adapters into their base model, with an equivalence check before anything is kept."""

from ctiforge.merging._merge import (
    FP32_ABSOLUTE_TOLERANCE,
    HALF_RELATIVE_TOLERANCE,
    MODEL_SIDECAR,
    SAMPLE_PROMPTS,
    EquivalenceReport,
    MergeResult,
    compare_outputs,
    merge_adapter,
    model_outputs,
    read_adapter_config,
    resolve_base_model,
)

__all__ = [
    "FP32_ABSOLUTE_TOLERANCE",
    "HALF_RELATIVE_TOLERANCE",
    "MODEL_SIDECAR",
    "SAMPLE_PROMPTS",
    "EquivalenceReport",
    "MergeResult",
    "compare_outputs",
    "merge_adapter",
    "model_outputs",
    "read_adapter_config",
    "resolve_base_model",
]

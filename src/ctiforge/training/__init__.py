"""LoRA fine-tuning of chat models on chat JSONL: config, data encoding, training run and manifest.

    from ctiforge.training import load_train_config, run_training

    config = load_train_config(Path("configs/train.yaml"), ["training.max_steps=30"])
    result = run_training(config)
"""

from ctiforge.training._config import (
    DataSettings,
    LoggingSettings,
    LoraSettings,
    ModelSettings,
    TrainConfig,
    TrainingSettings,
    config_to_dict,
    load_train_config,
)
from ctiforge.training._data import (
    IGNORE_INDEX,
    ChatCollator,
    ChatExample,
    EncodedExample,
    EncodingStats,
    encode_chat,
    encode_examples,
    read_chat_jsonl,
    sha256_file,
)
from ctiforge.training._manifest import MANIFEST_NAME, package_versions, hardware_summary
from ctiforge.training._metrics import METRICS_NAME, read_metrics
from ctiforge.training._modules import PROJECTION_MODULES, linear_layer_names, resolve_target_modules
from ctiforge.training._trainer import ADAPTER_DIR_NAME, ADAPTER_SIDECAR, TrainResult, run_training

__all__ = [
    "ADAPTER_DIR_NAME",
    "ADAPTER_SIDECAR",
    "IGNORE_INDEX",
    "MANIFEST_NAME",
    "METRICS_NAME",
    "PROJECTION_MODULES",
    "ChatCollator",
    "ChatExample",
    "DataSettings",
    "EncodedExample",
    "EncodingStats",
    "LoggingSettings",
    "LoraSettings",
    "ModelSettings",
    "TrainConfig",
    "TrainResult",
    "TrainingSettings",
    "config_to_dict",
    "encode_chat",
    "encode_examples",
    "hardware_summary",
    "linear_layer_names",
    "load_train_config",
    "package_versions",
    "read_chat_jsonl",
    "read_metrics",
    "resolve_target_modules",
    "run_training",
    "sha256_file",
]

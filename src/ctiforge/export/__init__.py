"""Export merged models to GGUF (llama.cpp) with an Ollama Modelfile."""

from ctiforge.export._gguf import (
    CONVERTER_ENV,
    QUANT_TYPES,
    ExportResult,
    RoundTripReport,
    export_gguf,
    find_converter,
    require_llamacpp,
)
from ctiforge.export._modelfile import chat_family, render_modelfile, write_modelfile

__all__ = [
    "CONVERTER_ENV",
    "QUANT_TYPES",
    "ExportResult",
    "RoundTripReport",
    "chat_family",
    "export_gguf",
    "find_converter",
    "render_modelfile",
    "require_llamacpp",
    "write_modelfile",
]

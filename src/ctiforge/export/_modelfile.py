"""Ollama Modelfiles: the chat template and stop tokens of a model, in Ollama's Go template syntax."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

# Ollama templates for the chat formats of the supported families. Each
# renders .Messages the way the family's Jinja template does and ends with
# the assistant header, like add_generation_prompt=True.
_CHATML = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)
_LLAMA3 = (
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>"
    "{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_GEMMA = (
    "{{- range .Messages }}<start_of_turn>{{ if eq .Role \"assistant\" }}model{{ else }}{{ .Role }}{{ end }}\n"
    "{{ .Content }}<end_of_turn>\n"
    "{{ end }}<start_of_turn>model\n"
)

# (marker in the Jinja chat template, family name, Ollama template, stop strings)
_FAMILIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("<|im_start|>", "chatml", _CHATML, ("<|im_end|>", "<|endoftext|>")),
    ("<|start_header_id|>", "llama3", _LLAMA3, ("<|eot_id|>", "<|end_of_text|>")),
    ("<start_of_turn>", "gemma", _GEMMA, ("<end_of_turn>", "<eos>")),
)


def _chat_template(model_dir: Path) -> str:
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        if isinstance(template, str):
            return template
    raise DataFormatError(f"{model_dir} has no chat template (chat_template.jinja or tokenizer_config.json)")


def chat_family(model_dir: Path) -> str:
    """Return "chatml", "llama3" or "gemma" from the model's Jinja chat template."""
    template = _chat_template(Path(model_dir))
    for marker, family, _, _ in _FAMILIES:
        if marker in template:
            return family
    raise DataFormatError(
        f"{model_dir}: the chat template is none of the supported formats (ChatML as in Qwen, Llama 3, Gemma); "
        "write the Ollama Modelfile TEMPLATE by hand"
    )


def render_modelfile(model_dir: Path, gguf_reference: str) -> str:
    """Return Modelfile text that loads `gguf_reference` with the model's chat template and stop tokens.

    Ollama resolves a relative `gguf_reference` ("./model.gguf") against the
    Modelfile's folder.
    """
    family = chat_family(model_dir)
    _, _, template, stops = next(entry for entry in _FAMILIES if entry[1] == family)
    lines = [f"FROM {gguf_reference}", f'TEMPLATE """{template}"""']
    lines.extend(f'PARAMETER stop "{stop}"' for stop in stops)
    return "\n".join(lines) + "\n"


def write_modelfile(model_dir: Path, gguf_path: Path, modelfile_path: Path) -> Path:
    """Write the Modelfile for `gguf_path` and return its path."""
    gguf_path = Path(gguf_path)
    modelfile_path = Path(modelfile_path)
    folder = modelfile_path.resolve().parent
    gguf_absolute = gguf_path.resolve()
    reference = f"./{gguf_absolute.relative_to(folder).as_posix()}" if gguf_absolute.is_relative_to(folder) \
        else str(gguf_absolute)
    modelfile_path.write_text(render_modelfile(Path(model_dir), reference), encoding="utf-8")
    logger.info("wrote %s", modelfile_path)
    return modelfile_path

"""`ctiforge export gguf`: GGUF file for llama.cpp plus an Ollama Modelfile."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click


@click.group("export")
def export() -> None:
    """Export a merged model for other runtimes."""


@export.command("gguf")
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path),
              help="Merged model folder written by `ctiforge merge`.")
@click.option("--quant", type=click.Choice(["q8_0", "q4_k_m", "f16"]), default="q8_0", show_default=True,
              help="GGUF weight type.")
@click.option("--out", "out_file", required=True, type=click.Path(path_type=Path), help="GGUF file to write.")
@click.option("--converter", type=click.Path(path_type=Path), default=None,
              help="Path to llama.cpp's convert_hf_to_gguf.py (default: search the llama-cpp-python install, "
                   "then $CTIFORGE_LLAMA_CPP_CONVERTER).")
@click.option("--modelfile", type=click.Path(path_type=Path), default=None,
              help="Where to write the Ollama Modelfile (default: Modelfile beside --out).")
@click.option("--tokenizer-pre", default=None, metavar="NAME",
              help="Force llama.cpp's pre-tokenizer name (e.g. qwen2, gpt-2) for a tokenizer its converter "
                   "does not recognise; default: let the converter detect it.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def gguf(model_dir: Path, quant: str, out_file: Path, converter: Path | None, modelfile: Path | None,
         tokenizer_pre: str | None, overwrite: bool, as_json: bool) -> None:
    """Convert a merged model to GGUF and check it against the original.

    Needs the llamacpp extra: pip install 'ctiforge[llamacpp]'.

    \b
    Examples:
      ctiforge export gguf --model models/cti-4b --quant q4_k_m --out models/cti-4b-q4_k_m.gguf
      ollama create cti-4b -f models/Modelfile
    """
    from ctiforge.errors import require
    from ctiforge.export import export_gguf

    # The round-trip check runs the merged model in transformers.
    for module in ("torch", "transformers"):
        require(module, extra="hf", feature="ctiforge export gguf")
    result = export_gguf(model_dir, out_file, quant=quant, converter=converter,  # type: ignore[arg-type]
                         overwrite=overwrite, modelfile=modelfile, tokenizer_pre=tokenizer_pre)
    if as_json:
        payload = asdict(result)
        payload["gguf_path"] = str(result.gguf_path)
        payload["modelfile_path"] = str(result.modelfile_path)
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"gguf: {result.gguf_path} ({result.quant}, {result.size_bytes / 2**20:.1f} MiB)")
    click.echo(f"modelfile: {result.modelfile_path}")
    check = result.check
    click.echo(f"round trip: tokens {'match' if check.tokens_match else 'differ'}, "
               f"greedy output {'matches' if check.greedy_match else 'differs'} on {check.prompts} prompts")

"""`ctiforge merge`: fold a LoRA adapter into its base model and verify the result."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click


@click.command("merge")
@click.option("--adapter", "adapter_dir", required=True, type=click.Path(path_type=Path),
              help="Adapter folder written by `ctiforge train` (OUTPUT_DIR/adapter).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="New folder for the merged model.")
@click.option("--base", default=None,
              help="Base model folder or Hugging Face id; overrides base_model_name_or_path in adapter_config.json.")
@click.option("--dtype", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
              help="Precision of the merged weights; auto is bf16 on a CUDA GPU and fp32 on CPU.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def merge(adapter_dir: Path, out_dir: Path, base: str | None, dtype: str, overwrite: bool, as_json: bool) -> None:
    """Merge a LoRA adapter into its base model and check the merged model.

    The merged model's prompt logits must match the base model with the
    adapter applied within a tolerance, and its greedy outputs must be
    identical. Otherwise nothing is written.

    \b
    Examples:
      ctiforge merge --adapter runs/cti-4b/adapter --out models/cti-4b
      ctiforge merge --adapter runs/cti-4b/adapter --out models/cti-4b --base /models/Qwen3-4B-Instruct-2507
    """
    from ctiforge.errors import require
    from ctiforge.merging import merge_adapter

    for module in ("torch", "transformers", "peft"):
        require(module, extra="hf", feature="ctiforge merge")

    result = merge_adapter(adapter_dir, out_dir, base=base, dtype=dtype, overwrite=overwrite)  # type: ignore[arg-type]
    report = result.equivalence
    if as_json:
        payload = asdict(result)
        payload["out_dir"] = str(result.out_dir)
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"merged model: {result.out_dir} ({result.dtype}, base {result.base_model})")
    click.echo(
        f"check passed: {report.prompts} prompts, max logit difference {report.max_abs_logit_diff:.3g} "
        f"<= {report.tolerance:.3g}, greedy outputs identical ({report.greedy_tokens} tokens)"
    )

"""`ctiforge card`: a Markdown model card from manifests and evaluation runs."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("card")
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path),
              help="Merged model folder (ctiforge merge) or adapter folder (ctiforge train).")
@click.option("--runs", "run_dirs", multiple=True, type=click.Path(path_type=Path),
              help="Evaluation run folder written by `ctiforge eval`; repeat for several runs.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Markdown file to write (default: print to stdout).")
@click.option("--title", default=None, help="Card title (default: the model folder's name).")
@click.argument("more_runs", nargs=-1, type=click.Path(path_type=Path))
def card(model_dir: Path, run_dirs: tuple[Path, ...], out: Path | None, title: str | None,
         more_runs: tuple[Path, ...]) -> None:
    """Write a model card from the training manifests and evaluation runs.

    \b
    Examples:
      ctiforge card --model models/cti-4b --runs runs/eval-rcm runs/eval-mcq --out models/cti-4b/README.md
    """
    from ctiforge.card import write_card

    text = write_card(model_dir, [*run_dirs, *more_runs], out=out, title=title)
    if out is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {out}", err=True)

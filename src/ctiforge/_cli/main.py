"""The `ctiforge` command: a click group whose sub-commands load on first use.

Loading lazily keeps `ctiforge cwe show` fast and keeps torch out of the
core commands: only the module of the command that runs is imported.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from ctiforge import __version__
from ctiforge.errors import CtiforgeError

# Command name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "cwe": "ctiforge._cli.cwe:cwe",
    "score": "ctiforge._cli.score:score",
    "map": "ctiforge._cli.map:map_command",
    "mapper": "ctiforge._cli.mapper:mapper",
    "eval": "ctiforge._cli.eval:eval_command",
    "compare": "ctiforge._cli.compare:compare",
    "corpus": "ctiforge._cli.corpus:corpus",
    "train": "ctiforge._cli.train:train",
    "merge": "ctiforge._cli.merge:merge",
    "export": "ctiforge._cli.export:export",
    "card": "ctiforge._cli.card:card",
}

SHORT_HELP: dict[str, str] = {
    "cwe": "Look up and search the CWE catalog.",
    "score": "Score recorded model responses on a CTIBench task.",
    "map": "Map CVE or advisory text to CWE with the embedded CPU mapper.",
    "mapper": "Train or inspect the embedded CWE mapper.",
    "eval": "Evaluate a model on CTIBench tasks.",
    "compare": "Compare evaluation runs side by side.",
    "corpus": "Build or audit a decontaminated training corpus.",
    "train": "Fine-tune a model with LoRA from a YAML config.",
    "merge": "Merge a LoRA adapter into its base model and verify it.",
    "export": "Export a model to GGUF for llama.cpp and Ollama.",
    "card": "Write a model card from manifests and evaluation runs.",
}


class LazyGroup(click.Group):
    """A click group that imports each sub-command's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `ctiforge --help` lists every command from SHORT_HELP without importing any.
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ctiforge")
@click.option("-v", "--verbose", count=True, help="Log more to stderr (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Build, evaluate and run small specialist models for cyber threat intelligence.

    \b
    Examples:
      ctiforge map "Buffer overflow in the PNG decoder allows remote code execution."
      ctiforge cwe show CWE-787
      ctiforge score cti-rcm responses.tsv --column ChatGPT-4
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one line and exit with status 2.

    Set CTIFORGE_DEBUG=1 to see the full traceback of a user error.
    """
    try:
        cli.main(args=argv, prog_name="ctiforge", standalone_mode=False)
    except CtiforgeError as exc:
        if os.environ.get("CTIFORGE_DEBUG"):
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # Output piped into `head` and similar: stop quietly.
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

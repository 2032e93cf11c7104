"""`ctiforge eval`: evaluate a model on CTIBench tasks; sub-commands import and re-score runs."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ctiforge.errors import BackendError, ConfigError

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
# Options that map one to one onto EvalSettings fields.
SETTING_OPTIONS = ("protocol", "shots", "trials", "temperature", "top_p", "max_tokens", "seed", "limit",
                   "system_prompt")


@click.group(name="eval", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--backend", default="openai", show_default=True,
              help="Model backend: openai, hf, vllm, llamacpp or mapper.")
@click.option("--model", help="Model name on the server (openai), folder or Hub ID (hf, vllm), GGUF file (llamacpp).")
@click.option("--base-url", envvar="CTIFORGE_BASE_URL", default=DEFAULT_BASE_URL, show_default=True,
              help="OpenAI-compatible API root, including /v1 [env CTIFORGE_BASE_URL].")
@click.option("--api-key", help="API key; default: $CTIFORGE_API_KEY, then $OPENAI_API_KEY. Never stored.")
@click.option("--tasks", default="cti-rcm,cti-mcq", show_default=True,
              help="Comma-separated CTIBench tasks, or 'all' for all six.")
@click.option("--preset", help="Published settings: foundation-sec-ift, foundation-sec-base or ctibench-paper; "
                               "other options given explicitly override it.")
@click.option("--protocol", type=click.Choice(["ift", "base"]), default="ift", show_default=True,
              help="ift: zero-shot chat prompt; base: 5-shot completion prompt with stop sequences.")
@click.option("--shots", type=int, default=5, show_default=True, help="Exemplars per prompt under --protocol base.")
@click.option("--trials", type=int, default=5, show_default=True, help="Responses per item.")
@click.option("--temperature", type=float, default=0.3, show_default=True, help="Sampling temperature.")
@click.option("--top-p", type=float, default=1.0, show_default=True, help="Nucleus sampling probability mass.")
@click.option("--max-tokens", type=int, default=512, show_default=True, help="Maximum completion length in tokens.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; trial t sends seed + t.")
@click.option("--system-prompt", help="System message put before each prompt.")
@click.option("--limit", type=int, help="Evaluate only the first N items of each task.")
@click.option("--data-dir", envvar="CTIFORGE_CTIBENCH_DIR", type=click.Path(path_type=Path),
              help="Folder with the CTIBench TSV files [env CTIFORGE_CTIBENCH_DIR].")
@click.option("--run-dir", type=click.Path(path_type=Path),
              help="Run folder; default runs/<model>-<protocol>-<config hash>. Rerunning resumes it.")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Resume this run folder with its stored settings (explicit options still apply).")
@click.option("--concurrency", type=int, default=32, show_default=True, help="Parallel requests (openai).")
@click.option("--timeout", "timeout_s", type=float, default=120.0, show_default=True,
              help="Seconds to wait for a connection or a response read (openai).")
@click.option("--max-retries", type=int, default=5, show_default=True,
              help="Retries per request after connection errors, timeouts, HTTP 429 and 5xx (openai).")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Prompts per generate call (hf).")
@click.option("--json", "as_json", is_flag=True, help="Print the result summary as JSON.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr. Default: only when stderr is a terminal.")
@click.option("--plots/--no-plots", default=True, help="Write PNG plots (needs matplotlib, the report extra).")
@click.pass_context
def eval_command(ctx: click.Context, **options: Any) -> None:
    """Evaluate a model on CTIBench tasks and write a report into the run folder.

    Every response is stored as it arrives; rerunning the same command (or
    passing --resume RUN_DIR) requests only what is missing.

    \b
    Examples:
      ctiforge eval --model qwen3-4b --base-url http://127.0.0.1:8000/v1 --data-dir cti-bench/
      ctiforge eval --backend mapper --tasks cti-rcm --data-dir cti-bench/
      ctiforge eval --preset ctibench-paper --model gpt-4o --base-url https://api.openai.com/v1
      ctiforge eval import-reference published-run.json --out runs/published --data-dir cti-bench/
    """
    if ctx.invoked_subcommand is not None:
        return
    from ctiforge.backends import backend_class
    from ctiforge.evaluate import run_evaluation

    stored = _stored_run(options["resume_dir"])
    settings = _settings_from_options(ctx, options, stored)
    backend_name, backend_options = _backend_options(ctx, options, stored)
    backend_type = backend_class(backend_name)
    # Check task support before loading a model, which can take minutes.
    supported = backend_type.supported_tasks
    unsupported = [task for task in settings.tasks if supported is not None and task not in supported]
    if unsupported:
        raise ConfigError(
            f"task(s) {', '.join(unsupported)} not supported by the '{backend_name}' backend; "
            f"pass --tasks with only {', '.join(sorted(supported or ()))}"
        )
    backend = backend_type(**backend_options)
    run_dir = options["resume_dir"] or options["run_dir"] or _default_run_dir(settings, backend)
    click.echo(f"run directory: {run_dir}", err=True)
    try:
        outcome = run_evaluation(settings, backend=backend, run_dir=run_dir, data_dir=options["data_dir"],
                                 progress=options["progress"], plots=options["plots"])
    finally:
        backend.close()
    if outcome.failed and not outcome.received and not outcome.reused:
        raise BackendError(f"all {outcome.failed} requests failed; first error: {outcome.first_error}")
    _print_summary(outcome.report, as_json=options["as_json"])
    click.echo(f"{outcome.received} response(s) received, {outcome.reused} reused, {outcome.failed} failed "
               f"in {outcome.wall_s:.1f} s", err=True)
    for path in outcome.report_files:
        click.echo(f"wrote {path}", err=True)
    if not outcome.complete:
        click.echo(f"warning: {outcome.failed} request(s) failed (first: {outcome.first_error}); "
                   "rerun the same command to retry them", err=True)
        ctx.exit(1)


def _stored_run(resume_dir: Path | None) -> dict[str, Any] | None:
    if resume_dir is None:
        return None
    from ctiforge.evaluate import read_run_info

    return read_run_info(resume_dir)


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _settings_from_options(ctx: click.Context, options: dict[str, Any], stored: dict[str, Any] | None):
    from ctiforge.evaluate import ALL_TASKS, EvalSettings, apply_preset

    values: dict[str, Any] = {}
    if stored is not None:
        saved = stored.get("settings") or {}
        values = {k: v for k, v in saved.items() if k in EvalSettings.__dataclass_fields__}
        values["tasks"] = tuple(values.get("tasks") or ())
    else:
        values = {name: options[name] for name in SETTING_OPTIONS}
        values["tasks"] = _parse_tasks(options["tasks"], ALL_TASKS)
    settings = EvalSettings(**values)
    if options["preset"]:
        settings = apply_preset(options["preset"], settings)
    overrides = {name: options[name] for name in SETTING_OPTIONS if _given(ctx, name)}
    if _given(ctx, "tasks"):
        overrides["tasks"] = _parse_tasks(options["tasks"], ALL_TASKS)
    return EvalSettings(**{**settings.as_dict(), **overrides}).validate()


def _parse_tasks(text: str, all_tasks: tuple[str, ...]) -> tuple[str, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return all_tasks
    return tuple(dict.fromkeys(names))


def _backend_options(ctx: click.Context, options: dict[str, Any], stored: dict[str, Any] | None) -> tuple[str, dict]:
    name = options["backend"]
    model = options["model"]
    base_url = options["base_url"]
    if stored is not None:
        info = stored.get("backend_info") or {}
        name = name if _given(ctx, "backend") else info.get("backend", name)
        model = model if _given(ctx, "model") else info.get("model")
        base_url = base_url if _given(ctx, "base_url") else info.get("base_url") or base_url
    if name == "openai":
        if not model:
            raise ConfigError("--model is required with --backend openai: pass the model name the server serves")
        return name, {"model": model, "base_url": base_url, "api_key": options["api_key"],
                      "concurrency": options["concurrency"], "timeout_s": options["timeout_s"],
                      "max_retries": options["max_retries"]}
    if name == "mapper":
        return name, ({"model": model} if model else {})
    if not model:
        raise ConfigError(f"--model is required with --backend {name}: pass a model folder, Hub ID or file")
    if name == "hf":
        return name, {"model": model, "batch_size": options["batch_size"]}
    return name, {"model": model}


def _default_run_dir(settings: Any, backend: Any) -> Path:
    from ctiforge.evaluate._runner import run_config
    from ctiforge.evaluate._store import config_hash

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(backend.info.model)).name).strip("-") or "model"
    return Path("runs") / f"{slug}-{settings.protocol}-{config_hash(run_config(settings, backend))[:8]}"


def _print_summary(report: dict[str, Any], *, as_json: bool) -> None:
    rows = []
    for task, entry in report["tasks"].items():
        if entry.get("not_scored"):
            rows.append({"task": task, "rule": None, "metric": entry["primary_metric"], "mean": None, "std": None,
                         "ci95": None, "parse_rate": None, "trials": 0, "items": entry["n_items"],
                         "failed": entry["failed"], "missing": entry["missing"],
                         "not_scored": entry["not_scored"]})
        for rule, summary in entry["summary"].items():
            rows.append({"task": task, "rule": rule, "metric": summary["metric"], "mean": summary["mean"],
                         "std": summary["std"], "ci95": summary["ci95"], "parse_rate": summary["parse_rate"],
                         "trials": entry["n_trials_scored"], "items": entry["n_items"],
                         "failed": entry["failed"], "missing": entry["missing"]})
    if as_json:
        click.echo(json.dumps({"run_dir": report["run_dir"], "protocol_label": report["protocol_label"],
                               "results": rows}, indent=2))
        return
    click.echo(f"{'task':<14}{'rule':<10}{'metric':<10}{'mean':>8}{'std':>8}  {'95% CI':<15}{'parse':>7}{'trials':>7}")
    for row in rows:
        if row.get("not_scored"):
            click.echo(f"{row['task']:<14}not scored: {row['not_scored']}")
            continue
        ci = f"{row['ci95'][0]:.3f}-{row['ci95'][1]:.3f}" if row["ci95"] else "n/a"
        click.echo(f"{row['task']:<14}{row['rule']:<10}{row['metric']:<10}{_fmt(row['mean']):>8}{_fmt(row['std']):>8}  "
                   f"{ci:<15}{_fmt(row['parse_rate']):>7}{row['trials']:>7}")


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@eval_command.command("import-reference")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="New run folder to write.")
@click.option("--data-dir", envvar="CTIFORGE_CTIBENCH_DIR", type=click.Path(path_type=Path),
              help="Folder with the CTIBench TSV files [env CTIFORGE_CTIBENCH_DIR].")
@click.option("--json", "as_json", is_flag=True, help="Print the result summary as JSON.")
@click.option("--plots/--no-plots", default=True, help="Write PNG plots (needs matplotlib, the report extra).")
def import_reference(file: Path, out: Path, data_dir: Path | None, as_json: bool, plots: bool) -> None:
    """Convert a published multi-trial run file (CyberSecQwen harness JSON) into a run folder and score it."""
    from ctiforge.evaluate import import_reference_run, rescore_run

    import_reference_run(file, out=out, data_dir=data_dir)
    report, files = rescore_run(out, data_dir=data_dir, plots=plots)
    _print_summary(report, as_json=as_json)
    for path in files:
        click.echo(f"wrote {path}", err=True)


@eval_command.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--data-dir", envvar="CTIFORGE_CTIBENCH_DIR", type=click.Path(path_type=Path),
              help="Folder with the CTIBench TSV files [env CTIFORGE_CTIBENCH_DIR].")
@click.option("--json", "as_json", is_flag=True, help="Print the result summary as JSON.")
@click.option("--plots/--no-plots", default=True, help="Write PNG plots (needs matplotlib, the report extra).")
def report_command(run_dir: Path, data_dir: Path | None, as_json: bool, plots: bool) -> None:
    """Score the stored responses of RUN_DIR again and rewrite its report, without sending requests."""
    from ctiforge.evaluate import rescore_run

    report, files = rescore_run(run_dir, data_dir=data_dir, plots=plots)
    _print_summary(report, as_json=as_json)
    for path in files:
        click.echo(f"wrote {path}", err=True)


if __name__ == "__main__":  # pragma: no cover
    eval_command(sys.argv[1:])

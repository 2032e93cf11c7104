"""Evaluate models on CTIBench: runs that resume, versioned reports, comparisons.

    from ctiforge.backends import get_backend
    from ctiforge.evaluate import EvalSettings, run_evaluation

    backend = get_backend("openai", model="qwen3-4b", base_url="http://127.0.0.1:8000/v1")
    outcome = run_evaluation(EvalSettings(tasks=("cti-rcm",)), backend=backend,
                             run_dir="runs/qwen3", data_dir="cti-bench/")
    outcome.report["tasks"]["cti-rcm"]["summary"]["strict"]["mean"]

Every response is appended to `RUN_DIR/responses.jsonl` as it arrives, so
rerunning the same call requests only what is missing.
"""

from ctiforge.evaluate._compare import PUBLISHED_RESULTS, PublishedResult, compare_reports, format_comparison
from ctiforge.evaluate._reference import import_reference_run
from ctiforge.evaluate._report import (
    REPORT_FORMAT_VERSION,
    build_report,
    load_report,
    question_source,
    rescore_run,
    write_reports,
)
from ctiforge.evaluate._runner import EvalOutcome, plan_requests, resolve_data_dir, run_evaluation
from ctiforge.evaluate._settings import (
    ALL_TASKS,
    CTIBENCH_SYSTEM_PROMPT,
    PRESET_NAMES,
    PRESETS,
    EvalSettings,
    Preset,
    apply_preset,
    protocol_label,
)
from ctiforge.evaluate._store import RUN_FORMAT_VERSION, ResponseKey, RunStore, read_responses, read_run_info

__all__ = [
    "ALL_TASKS",
    "CTIBENCH_SYSTEM_PROMPT",
    "PRESETS",
    "PRESET_NAMES",
    "PUBLISHED_RESULTS",
    "REPORT_FORMAT_VERSION",
    "RUN_FORMAT_VERSION",
    "EvalOutcome",
    "EvalSettings",
    "Preset",
    "PublishedResult",
    "ResponseKey",
    "RunStore",
    "apply_preset",
    "build_report",
    "compare_reports",
    "format_comparison",
    "import_reference_run",
    "load_report",
    "plan_requests",
    "protocol_label",
    "question_source",
    "read_responses",
    "read_run_info",
    "rescore_run",
    "resolve_data_dir",
    "run_evaluation",
    "write_reports",
]

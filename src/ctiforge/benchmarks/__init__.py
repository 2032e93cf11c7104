"""CTIBench tasks: loading, prompts for the ``ift`` and ``base`` protocols, answer extraction and scoring.

    from ctiforge.benchmarks import get_task
    task = get_task("cti-rcm")
    items = task.load("cti-bench/")            # the TSV file or the folder holding it
    prompt = task.build_prompt(items[0], protocol="ift")
    result = task.score(items, responses, rule="strict")
    result.metrics["accuracy"]

Each extraction rule is documented on its function (`extract_mcq_answer`,
`extract_cwe`, `extract_cvss_vector`, `extract_attack_ids`, `extract_actor`).
"""

from ctiforge.benchmarks._ate import AteTask, extract_attack_ids
from ctiforge.benchmarks._mcq import McqTask, extract_mcq_answer
from ctiforge.benchmarks._rcm import Rcm2021Task, RcmTask, extract_cwe
from ctiforge.benchmarks._registry import TASK_NAMES, get_task
from ctiforge.benchmarks._responses import ResponseSet, read_responses
from ctiforge.benchmarks._taa import AliasGraph, TaaTask, alias_graph, extract_actor, normalize_actor
from ctiforge.benchmarks._task import PROTOCOLS, Task
from ctiforge.benchmarks._types import Item, Parsed, Prompt, TaskScore
from ctiforge.benchmarks._vsp import VspTask, base_score, extract_cvss_vector

__all__ = [
    "PROTOCOLS",
    "TASK_NAMES",
    "AliasGraph",
    "AteTask",
    "Item",
    "McqTask",
    "Parsed",
    "Prompt",
    "Rcm2021Task",
    "RcmTask",
    "ResponseSet",
    "TaaTask",
    "Task",
    "TaskScore",
    "VspTask",
    "alias_graph",
    "base_score",
    "extract_actor",
    "extract_attack_ids",
    "extract_cvss_vector",
    "extract_cwe",
    "extract_mcq_answer",
    "get_task",
    "normalize_actor",
    "read_responses",
]

"""Task names and lookup."""

from __future__ import annotations

from ctiforge.benchmarks._ate import AteTask
from ctiforge.benchmarks._mcq import McqTask
from ctiforge.benchmarks._rcm import Rcm2021Task, RcmTask
from ctiforge.benchmarks._task import Task
from ctiforge.benchmarks._taa import TaaTask
from ctiforge.benchmarks._vsp import VspTask
from ctiforge.errors import UnknownIdError

_TASKS: dict[str, type[Task]] = {
    "cti-mcq": McqTask,
    "cti-rcm": RcmTask,
    "cti-rcm-2021": Rcm2021Task,
    "cti-vsp": VspTask,
    "cti-ate": AteTask,
    "cti-taa": TaaTask,
}
TASK_NAMES: tuple[str, ...] = tuple(_TASKS)


def get_task(name: str) -> Task:
    """Return the task called `name` (one of `TASK_NAMES`); raise `UnknownIdError` for any other name."""
    try:
        task_class = _TASKS[name.strip().lower()]
    except KeyError:
        raise UnknownIdError(f"unknown CTIBench task {name!r}; valid tasks: {', '.join(TASK_NAMES)}") from None
    return task_class()

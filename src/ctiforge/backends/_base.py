"""The backend interface: send prompts to a model and receive completions.

A backend receives `GenerationRequest`s and reports one `GenerationResult`
per request through a callback as soon as it has it, so the caller can store
each response the moment it arrives. A request that fails after its retries
comes back as a result with `error` set. Only problems that no retry can fix
(unreachable server, unknown model, missing package) raise `BackendError`.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings sent with every request."""

    temperature: float = 0.3
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to complete: chat `messages` or a plain completion `text`, never both."""

    key: str
    params: SamplingParams
    messages: tuple[dict[str, str], ...] | None = None
    text: str | None = None
    task: str = ""

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.text is None):
            raise ValueError("a GenerationRequest needs exactly one of messages or text")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None


@dataclass
class GenerationResult:
    """The outcome of one request: `text` on success, `error` on failure."""

    key: str
    text: str | None = None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


ResultCallback = Callable[[GenerationResult], None]


@dataclass(frozen=True)
class BackendInfo:
    """Identity of the model behind a run, stored in the run and the report."""

    backend: str
    model: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, **self.details}


class Backend(abc.ABC):
    """A model that completes prompts; subclasses implement `generate`."""

    name: ClassVar[str] = ""
    #: Task names this backend supports; None means every task.
    supported_tasks: ClassVar[frozenset[str] | None] = None

    @property
    @abc.abstractmethod
    def info(self) -> BackendInfo:
        """The backend and model identity."""

    def supports_task(self, task: str) -> bool:
        return self.supported_tasks is None or task in self.supported_tasks

    def check(self) -> None:
        """Raise `BackendError` when the model cannot serve at all (called before a run)."""

    @abc.abstractmethod
    def generate(self, requests: Iterable[GenerationRequest], *, on_result: ResultCallback) -> None:
        """Complete every request and call `on_result` once per request, in completion order."""

    def score_labels(self, request: GenerationRequest, labels: Sequence[str]) -> list[float]:
        """Return the log-likelihood of each label as the continuation of the prompt."""
        raise NotImplementedError(f"backend '{self.name}' does not score label log-likelihoods")

    def close(self) -> None:
        """Release connections, processes or GPU memory."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

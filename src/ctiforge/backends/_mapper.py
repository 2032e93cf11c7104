"""Backend that answers CVE-to-CWE prompts with the embedded CPU mapper.

It serves only the RCM tasks. Each answer is a short rationale line followed
by a line with the CWE ID alone, the format the RCM prompt asks for, so the
normal answer parsers score it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable

from ctiforge.backends._base import Backend, BackendInfo, GenerationRequest, GenerationResult, ResultCallback

logger = logging.getLogger(__name__)

BATCH_SIZE = 256
# The RCM prompts end with "CVE Description: <text>"; the few-shot (base)
# prompts repeat the marker once per exemplar, so the last one is the target.
_DESCRIPTION_MARKER = re.compile(r"CVE Description:\s*", re.IGNORECASE)


class MapperBackend(Backend):
    """The embedded CWE mapper behind the backend interface."""

    name = "mapper"
    supported_tasks = frozenset({"cti-rcm", "cti-rcm-2021"})

    def __init__(self, *, model: str | None = None) -> None:
        from ctiforge.mapper import load_mapper

        self._mapper = load_mapper(model) if model else load_mapper()
        self._model_name = model or "embedded"

    @property
    def info(self) -> BackendInfo:
        return BackendInfo(backend=self.name, model=self._model_name, details={"path": str(self._mapper.path)})

    def generate(self, requests: Iterable[GenerationRequest], *, on_result: ResultCallback) -> None:
        batch: list[GenerationRequest] = []
        for request in requests:
            batch.append(request)
            if len(batch) >= BATCH_SIZE:
                self._run_batch(batch, on_result)
                batch = []
        if batch:
            self._run_batch(batch, on_result)

    def _run_batch(self, batch: list[GenerationRequest], on_result: ResultCallback) -> None:
        started = time.monotonic()
        texts = [description_of(request) for request in batch]
        predictions = self._mapper.predict(texts, k=1)
        latency = (time.monotonic() - started) / len(batch)
        for request, top in zip(batch, predictions):
            if not top:
                on_result(GenerationResult(key=request.key, error="the mapper returned no prediction", latency_s=latency))
                continue
            best = top[0]
            rationale = " ".join(str(best.rationale or "").split()) or f"{best.cwe_id}: {best.name}."
            rationale = f"{rationale} (probability {best.probability:.2f})"
            on_result(GenerationResult(key=request.key, text=f"{rationale}\n\n{best.cwe_id}", finish_reason="stop",
                                       latency_s=latency))


def description_of(request: GenerationRequest) -> str:
    """Return the CVE description inside an RCM prompt, or the whole prompt without the marker."""
    if request.messages is not None:
        users = [m["content"] for m in request.messages if m.get("role") == "user"]
        prompt = users[-1] if users else ""
    else:
        prompt = request.text or ""
    parts = _DESCRIPTION_MARKER.split(prompt)
    return parts[-1].strip() if len(parts) > 1 else prompt.strip()

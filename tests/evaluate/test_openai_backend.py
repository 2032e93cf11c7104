"""The openai backend against the scripted server on 127.0.0.1: retries, failures, fatal errors."""

from __future__ import annotations

import socket
import time

import pytest

from ctiforge.backends import GenerationRequest, SamplingParams, get_backend
from ctiforge.errors import BackendError
from ctiforge.testing.openai_server import ScriptedOpenAIServer, fail_first, request_key


def _requests(count: int, *, chat: bool = True) -> list[GenerationRequest]:
    params = SamplingParams(temperature=0.0, max_tokens=16, seed=7, stop=("\n\n",) if not chat else ())
    if chat:
        return [GenerationRequest(key=f"r{n}", params=params, messages=({"role": "user", "content": f"question {n}"},))
                for n in range(count)]
    return [GenerationRequest(key=f"r{n}", params=params, text=f"question {n}\nAnswer:") for n in range(count)]


def _backend(server: ScriptedOpenAIServer, **options):
    defaults = {"model": "scripted-model", "base_url": server.base_url, "concurrency": 4,
                "backoff_base_s": 0.01, "max_retries": 3}
    return get_backend("openai", **{**defaults, **options})


def _collect(backend, requests):
    results = []
    backend.generate(requests, on_result=results.append)
    return {result.key: result for result in results}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_chat_answers_every_request():
    with ScriptedOpenAIServer(lambda body: "CWE-79") as server:
        results = _collect(_backend(server), _requests(10))
    assert len(results) == 10
    assert all(result.text == "CWE-79" for result in results.values())
    assert all(result.completion_tokens == 1 for result in results.values())


def test_completion_sends_prompt_stop_and_seed():
    with ScriptedOpenAIServer(lambda body: "B") as server:
        server.record_bodies = True
        results = _collect(_backend(server), _requests(2, chat=False))
        body = server.bodies[0]
    assert results["r0"].text == "B"
    assert body["prompt"].endswith("Answer:")
    assert body["stop"] == ["\n\n"]
    assert body["seed"] == 7


@pytest.mark.parametrize("kind", ["500", "drop"])
def test_retry_recovers_from(kind):
    with ScriptedOpenAIServer(lambda body: "ok", faults=fail_first(kind, 2)) as server:
        results = _collect(_backend(server), _requests(6))
        sent = server.faults_sent[kind]
    assert all(result.ok for result in results.values())
    assert all(result.attempts == 3 for result in results.values())
    assert sent == 12


def test_retry_after_is_honoured():
    with ScriptedOpenAIServer(lambda body: "ok", faults=fail_first("429", 1), retry_after_s=1) as server:
        started = time.monotonic()
        results = _collect(_backend(server), _requests(3))
        elapsed = time.monotonic() - started
    assert all(result.attempts == 2 for result in results.values())
    assert elapsed >= 1.0


def test_timeout_is_retried():
    with ScriptedOpenAIServer(lambda body: "ok", faults=fail_first("slow", 1), slow_s=1.0) as server:
        results = _collect(_backend(server, timeout_s=0.3), _requests(2))
    assert all(result.ok for result in results.values())
    assert all(result.attempts == 2 for result in results.values())


def test_persistent_500_fails_only_that_request():
    broken = request_key({"messages": [{"role": "user", "content": "question 3"}], "seed": 7})
    faults = lambda key, nth: "500" if key == broken else None  # noqa: E731
    with ScriptedOpenAIServer(lambda body: "ok", faults=faults) as server:
        results = _collect(_backend(server, max_retries=2), _requests(8))
    assert results["r3"].ok is False
    assert "HTTP 500" in results["r3"].error
    assert results["r3"].attempts == 3
    assert sum(result.ok for result in results.values()) == 7


def test_http_400_is_not_retried():
    with ScriptedOpenAIServer(lambda body: "ok", faults=fail_first("400", 1)) as server:
        results = _collect(_backend(server), _requests(2))
    assert all(result.attempts == 1 for result in results.values())
    assert all("HTTP 400" in result.error for result in results.values())


def test_empty_completion_is_a_failure():
    with ScriptedOpenAIServer(lambda body: "ok", faults=fail_first("empty", 1)) as server:
        results = _collect(_backend(server), _requests(2))
    assert all(result.ok is False for result in results.values())
    assert "empty completion" in results["r0"].error
    assert "--max-tokens" in results["r0"].error


def test_unknown_model_stops_the_run():
    with ScriptedOpenAIServer(lambda body: "ok") as server:
        backend = _backend(server, model="no-such-model")
        with pytest.raises(BackendError) as caught:
            _collect(backend, _requests(5))
    message = str(caught.value)
    assert "no-such-model" in message
    assert "scripted-model" in message
    assert "--model" in message


def test_consecutive_failures_stop_the_run():
    with ScriptedOpenAIServer(lambda body: "ok", faults=fail_first("400", 99)) as server:
        backend = _backend(server, max_consecutive_failures=5, concurrency=1)
        seen = []
        with pytest.raises(BackendError) as caught:
            backend.generate(_requests(50), on_result=seen.append)
    assert len(seen) == 5
    assert "5 consecutive failed requests" in str(caught.value)


def test_check_rejects_closed_port():
    backend = get_backend("openai", model="m", base_url=f"http://127.0.0.1:{_free_port()}/v1")
    with pytest.raises(BackendError) as caught:
        backend.check()
    assert "cannot reach the server" in str(caught.value)
    assert "--base-url" in str(caught.value)


def test_check_rejects_non_json():
    with ScriptedOpenAIServer(faults=lambda key, nth: "nonjson") as server:
        with pytest.raises(BackendError) as caught:
            _backend(server).check()
    assert "non-JSON" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_api_key_sent_but_not_in_info(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "fallback-key")
    monkeypatch.setenv("CTIFORGE_API_KEY", "secret-value-123")
    with ScriptedOpenAIServer(lambda body: "ok") as server:
        backend = _backend(server)
        _collect(backend, _requests(2))
        seen = server.authorizations
    assert seen == {"Bearer secret-value-123"}
    assert "secret-value-123" not in repr(backend.info.as_dict())


def test_harness_survives_mixed_faults(gold_by_prompt, ctibench_dir, tmp_path):
    from ctiforge.evaluate import EvalSettings, run_evaluation
    from ctiforge.testing.openai_server import prompt_of

    kinds = ("429", "500", "slow", "drop", None)
    broken: set[str] = set()

    def faults(key: str, nth: int) -> str | None:
        if key == "/v1/models":
            return None
        if key in broken:
            return "500"
        return kinds[int(key, 16) % len(kinds)] if nth == 1 else None

    def respond(body: dict) -> str:
        return f"Because.\n\n{gold_by_prompt[prompt_of(body)]}"

    settings = EvalSettings(tasks=("cti-rcm",), trials=2, limit=10)
    with ScriptedOpenAIServer(respond, faults=faults, slow_s=1.0, retry_after_s=1) as server:
        broken.add(request_key({"messages": [{"role": "user", "content": next(iter(gold_by_prompt))}], "seed": 1}))
        options = {"timeout_s": 0.5, "max_retries": 2, "concurrency": 8}
        first = run_evaluation(settings, backend=_backend(server, **options), run_dir=tmp_path / "run",
                               data_dir=ctibench_dir, progress=False, plots=False)
        broken.clear()
        second = run_evaluation(settings, backend=_backend(server, **options), run_dir=tmp_path / "run",
                                data_dir=ctibench_dir, progress=False, plots=False)
        sent_faults = dict(server.faults_sent)
    assert first.received == 19
    assert first.failed == 1
    assert first.report["tasks"]["cti-rcm"]["failed"] == 1
    assert second.received == 1
    assert second.reused == 19
    assert second.report["tasks"]["cti-rcm"]["summary"]["strict"]["mean"] == 1.0
    assert {"429", "500", "slow", "drop"} <= set(sent_faults)

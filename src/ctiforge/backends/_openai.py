"""Backend for any OpenAI-compatible HTTP server (vLLM, llama-server, Ollama, TGI).

Requests run on `concurrency` worker threads, each with its own persistent
HTTP/1.1 connection from the standard library's `http.client`. On a shared
2-core machine against a local server, benchmarks/harness.py measured 889 to
1,446 requests/s through the whole harness at concurrency 64, where an httpx
0.28 AsyncClient alone reached 51 to 146 (figures in docs/benchmarks.md).

Connection errors, timeouts, HTTP 429 and 5xx are retried with exponential
back-off and jitter; a `Retry-After` header sets the wait instead. Other 4xx
responses are not retried: 401, 403 and 404 stop the run because every later
request would fail the same way, and any other 4xx fails only its request.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import os
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from ctiforge.backends._base import (
    Backend,
    BackendInfo,
    GenerationRequest,
    GenerationResult,
    ResultCallback,
)
from ctiforge.errors import BackendError, ConfigError

logger = logging.getLogger(__name__)

API_KEY_VARIABLES = ("CTIFORGE_API_KEY", "OPENAI_API_KEY")
# Statuses that retrying cannot fix and that would fail every other request too.
FATAL_STATUSES = {401: "unauthorized", 403: "forbidden", 404: "not found"}
MAX_RETRY_AFTER_S = 300.0


class _Fatal(Exception):
    """A response that makes every further request pointless."""


class _Retryable(Exception):
    """A failed attempt worth repeating; `delay_s` > 0 is the server's Retry-After."""

    def __init__(self, message: str, delay_s: float = 0.0) -> None:
        super().__init__(message)
        self.delay_s = delay_s


class OpenAIBackend(Backend):
    """Chat and text completions from an OpenAI-compatible server.

    The API key comes from `api_key`, else from CTIFORGE_API_KEY, else from
    OPENAI_API_KEY. It is sent in the Authorization header only, never logged
    and never part of `info`. `timeout_s` applies to connecting and to each
    socket read, so a server that keeps sending slowly can take longer.
    """

    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        api_key: str | None = None,
        concurrency: int = 32,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        max_consecutive_failures: int = 20,
    ) -> None:
        if not model:
            raise ConfigError("the openai backend needs a model name: pass --model NAME")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"invalid --base-url '{base_url}': expected http://HOST:PORT/v1 or https://HOST/v1"
            )
        if concurrency < 1:
            raise ConfigError(f"invalid --concurrency {concurrency}: it must be at least 1")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_consecutive_failures = max_consecutive_failures
        key = api_key or next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), None)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"

    @property
    def info(self) -> BackendInfo:
        return BackendInfo(backend=self.name, model=self.model, details={"base_url": self.base_url})

    def _connect(self, timeout_s: float | None = None) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return kind(self._host, self._port, timeout=timeout_s or self.timeout_s)

    # -- pre-flight -----------------------------------------------------------------

    def check(self) -> None:
        """Query `/models` once so that an unreachable or non-OpenAI server fails before the run."""
        url = f"{self.base_url}/models"
        try:
            status, _, body = self._get("/models", timeout_s=min(self.timeout_s, 30.0))
        except (OSError, http.client.HTTPException) as exc:
            raise BackendError(
                f"cannot reach the server at --base-url {self.base_url} ({_describe(exc)}); "
                "start the server or pass the right --base-url"
            ) from None
        if status in (401, 403):
            raise BackendError(
                f"the server at {self.base_url} rejected the API key (HTTP {status}); "
                f"pass --api-key or set {API_KEY_VARIABLES[0]}"
            )
        if status == 404:
            logger.info("%s has no /models endpoint; skipping the model check", self.base_url)
            return
        if status >= 400:
            raise BackendError(
                f"GET {url} failed with HTTP {status}: {_snippet(body)}; "
                "check that --base-url points at an OpenAI-compatible API"
            )
        try:
            payload = json.loads(body)
        except ValueError:
            raise BackendError(
                f"GET {url} returned a non-JSON response ({_snippet(body)}); check that --base-url points "
                "at an OpenAI-compatible API (its path usually ends in /v1)"
            ) from None
        served = _model_ids(payload)
        if served and self.model not in served:
            # llama-server and some proxies accept any model name, so this is
            # only a warning; a real mismatch fails on the first request (HTTP 404).
            logger.warning("model '%s' is not listed by %s (it lists: %s)", self.model, url, ", ".join(served))

    def _get(self, path: str, *, timeout_s: float) -> tuple[int, dict[str, str], str]:
        connection = self._connect(timeout_s)
        try:
            connection.request("GET", self._prefix + path, headers=self._headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def _served_models(self) -> list[str]:
        try:
            status, _, body = self._get("/models", timeout_s=10.0)
            return _model_ids(json.loads(body)) if status == 200 else []
        except (OSError, ValueError, http.client.HTTPException):
            return []

    # -- generation -----------------------------------------------------------------

    def generate(self, requests: Iterable[GenerationRequest], *, on_result: ResultCallback) -> None:
        run = _Run(iter(requests), on_result, self.max_consecutive_failures, self.base_url)
        workers = [
            threading.Thread(target=self._worker, args=(run,), name=f"openai-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                # Short joins keep the main thread responsive to Ctrl-C.
                while worker.is_alive():
                    worker.join(0.2)
        except KeyboardInterrupt:
            run.stop.set()
            raise
        if run.fatal is not None:
            raise BackendError(self._fatal_message(run.fatal))

    def _fatal_message(self, detail: str) -> str:
        if detail.startswith("HTTP 404"):
            served = self._served_models()
            listed = f"; the server lists: {', '.join(served)}" if served else ""
            return (
                f"model '{self.model}' not found at {self.base_url} ({detail}){listed}; "
                "pass --model with a model the server serves"
            )
        if detail.startswith(("HTTP 401", "HTTP 403")):
            return (
                f"the server at {self.base_url} rejected the request ({detail}); "
                f"pass --api-key or set {API_KEY_VARIABLES[0]}"
            )
        return f"{detail}; fix the server or the settings, then rerun the same command to resume"

    def _worker(self, run: _Run) -> None:
        connection: list[http.client.HTTPConnection | None] = [None]
        try:
            while not run.stop.is_set():
                request = run.next_request()
                if request is None:
                    return
                try:
                    result = self._complete(connection, request, run)
                except _Fatal as exc:
                    run.set_fatal(str(exc))
                    return
                if result is not None:
                    run.deliver(result)
        finally:
            if connection[0] is not None:
                connection[0].close()

    def _complete(self, connection: list[Any], request: GenerationRequest, run: _Run) -> GenerationResult | None:
        path, body = self._build_body(request)
        content = json.dumps(body).encode("utf-8")
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._attempt(connection, path, content, request)
            except _Retryable as exc:
                if attempt > self.max_retries:
                    error = f"{exc} (gave up after {attempt} attempts)"
                    logger.info("request %s failed: %s", request.key, error)
                    return GenerationResult(key=request.key, error=error,
                                            latency_s=time.monotonic() - started, attempts=attempt)
                delay = exc.delay_s if exc.delay_s > 0 else self._backoff(attempt)
                logger.info("retrying request %s in %.2f s (attempt %d): %s", request.key, delay, attempt, exc)
                if run.stop.wait(delay):
                    return None
                continue
            result.latency_s = time.monotonic() - started
            result.attempts = attempt
            if result.error is not None:
                logger.info("request %s failed: %s", request.key, result.error)
            return result

    def _attempt(self, connection: list[Any], path: str, content: bytes, request: GenerationRequest) -> GenerationResult:
        """Send one attempt; raise `_Retryable` or `_Fatal`, or return a result (maybe with an error)."""
        if connection[0] is None:
            connection[0] = self._connect()
        try:
            connection[0].request("POST", self._prefix + path, body=content, headers=self._headers)
            response = connection[0].getresponse()
            status = response.status
            data = response.read()
            retry_after = response.getheader("Retry-After")
            if response.will_close:
                connection[0].close()
                connection[0] = None
        except TimeoutError:
            self._drop(connection)
            raise _Retryable(f"timed out after {self.timeout_s:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            self._drop(connection)
            raise _Retryable(f"connection failed ({_describe(exc)})") from None
        text = data.decode("utf-8", "replace")
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}: {_snippet(text)}", _retry_after(retry_after))
        if status in FATAL_STATUSES:
            raise _Fatal(f"HTTP {status} {FATAL_STATUSES[status]}: {_snippet(text)}")
        if status >= 400:
            return GenerationResult(key=request.key, error=f"HTTP {status}: {_snippet(text)}")
        try:
            payload = json.loads(text)
        except ValueError:
            return GenerationResult(
                key=request.key,
                error=f"the server returned a non-JSON response (HTTP {status}): {_snippet(text)}; "
                "check that --base-url points at an OpenAI-compatible API",
            )
        return _parse_completion(request, payload)

    @staticmethod
    def _drop(connection: list[Any]) -> None:
        if connection[0] is not None:
            connection[0].close()
            connection[0] = None

    def _build_body(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        params = request.params
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if request.is_chat:
            body["messages"] = list(request.messages or ())
            return "/chat/completions", body
        body["prompt"] = request.text
        return "/completions", body

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)


class _Run:
    """State shared by the worker threads of one `generate` call."""

    def __init__(self, requests: Iterator[GenerationRequest], on_result: ResultCallback,
                 max_consecutive_failures: int, base_url: str) -> None:
        self._requests = requests
        self._on_result = on_result
        self._max_failures = max_consecutive_failures
        self._base_url = base_url
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.fatal: str | None = None
        self.consecutive_failures = 0

    def next_request(self) -> GenerationRequest | None:
        with self._lock:
            return next(self._requests, None)

    def deliver(self, result: GenerationResult) -> None:
        # One lock around the callback: callers may write files and progress bars.
        with self._lock:
            self._on_result(result)
            if result.ok:
                self.consecutive_failures = 0
                return
            self.consecutive_failures += 1
            if self.consecutive_failures >= self._max_failures and self.fatal is None:
                self.fatal = (
                    f"stopped after {self.consecutive_failures} consecutive failed requests to {self._base_url}; "
                    f"last error: {result.error}"
                )
                self.stop.set()

    def set_fatal(self, detail: str) -> None:
        with self._lock:
            if self.fatal is None:
                self.fatal = detail
            self.stop.set()


def _parse_completion(request: GenerationRequest, payload: Any) -> GenerationResult:
    """Turn a response body into a result, which carries an error when the body contains no text."""
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        return GenerationResult(key=request.key, error=f"the response has no choices: {_snippet(json.dumps(payload))}")
    choice = choices[0]
    if request.is_chat:
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
    else:
        text = choice.get("text")
    finish_reason = choice.get("finish_reason")
    if not isinstance(text, str) or not text.strip():
        return GenerationResult(
            key=request.key,
            finish_reason=finish_reason,
            error=(
                f"empty completion (finish_reason={finish_reason}); if it is 'length', raise --max-tokens, "
                "otherwise check the model's chat template on the server"
            ),
        )
    usage = payload.get("usage") or {}
    return GenerationResult(
        key=request.key,
        text=text,
        finish_reason=finish_reason,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )


def _retry_after(value: str | None) -> float:
    """Return seconds from a Retry-After header (delta-seconds or HTTP date); 0 means use back-off."""
    if not value:
        return 0.0
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER_S)


def _model_ids(payload: Any) -> list[str]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return []
    return [entry["id"] for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _snippet(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."

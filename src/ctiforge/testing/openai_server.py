"""A scripted OpenAI-compatible HTTP server for tests and benchmarks.

It serves `GET /v1/models`, `POST /v1/chat/completions` and
`POST /v1/completions` on 127.0.0.1, responds to each request with a function
of the request body, counts requests per prompt, and can inject faults: HTTP 429
with Retry-After, HTTP 500, slow answers, dropped connections, non-JSON
bodies, empty completions, HTTP 400 and HTTP 404 for unknown models.

Run it as a process for benchmarks:

    python -m ctiforge.testing.openai_server --answers answers.json --port 0

It prints `listening on http://127.0.0.1:PORT/v1` on stdout once it accepts
connections.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

Responder = Callable[[dict[str, Any]], str]
# (prompt key, how many requests this key has received including this one) -> fault or None.
# GET /v1/models calls it with the key "/v1/models" and count 1; only "nonjson" applies there.
FaultPlan = Callable[[str, int], "str | None"]

FAULT_KINDS = ("429", "500", "400", "slow", "drop", "nonjson", "empty", "404")


def prompt_of(body: Mapping[str, Any]) -> str:
    """Return the prompt text of a request: the last user message, or the completion prompt."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return str(message.get("content", ""))
        return ""
    return str(body.get("prompt", ""))


def request_key(body: Mapping[str, Any]) -> str:
    """Return a short hash of what identifies a request: messages or prompt, and seed."""
    identity = {"messages": body.get("messages"), "prompt": body.get("prompt"), "seed": body.get("seed")}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def answer_from_map(answers: Mapping[str, str], default: str = "I do not know.") -> Responder:
    """Build a responder that looks up the prompt text in `answers`."""

    def respond(body: dict[str, Any]) -> str:
        return answers.get(prompt_of(body), default)

    return respond


def fail_first(kind: str, times: int) -> FaultPlan:
    """Build a fault plan that injects `kind` into the first `times` requests of every prompt."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind '{kind}'; choose one of {FAULT_KINDS}")
    return lambda key, nth: kind if nth <= times else None


class ScriptedOpenAIServer:
    """The server; use it as a context manager or call `start()` and `stop()`."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        models: tuple[str, ...] = ("scripted-model",),
        faults: FaultPlan | None = None,
        delay_s: float = 0.0,
        slow_s: float = 2.0,
        retry_after_s: int = 1,
        port: int = 0,
    ) -> None:
        self.responder = responder or (lambda body: "CWE-79")
        self.models = models
        self.faults = faults
        self.delay_s = delay_s
        self.slow_s = slow_s
        self.retry_after_s = retry_after_s
        self.counts: Counter[str] = Counter()
        self.faults_sent: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.authorizations: set[str] = set()
        self.record_bodies = False
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def start(self) -> ScriptedOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="scripted-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _register(self, body: dict[str, Any]) -> tuple[str, int]:
        key = request_key(body)
        with self._lock:
            self.counts[key] += 1
            if self.record_bodies:
                self.bodies.append(body)
            return key, self.counts[key]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    owner: ScriptedOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # Headers and body go out in one buffered write; separate small writes
    # meet Nagle's algorithm and delayed ACKs and cost about 40 ms each.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        if owner.faults is not None and owner.faults("/v1/models", 1) == "nonjson":
            self._send_raw(200, b"<html>not an API</html>", "text/html")
            return
        data = [{"id": name, "object": "model", "owned_by": "ctiforge"} for name in owner.models]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        route = self.path.rstrip("/")
        if route not in ("/v1/chat/completions", "/v1/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        if body.get("model") not in owner.models:
            self._send_json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
            return
        key, nth = owner._register(body)
        if self.headers.get("Authorization"):
            owner.authorizations.add(self.headers["Authorization"])
        fault = owner.faults(key, nth) if owner.faults is not None else None
        if fault is not None:
            with owner._lock:
                owner.faults_sent[fault] += 1
            if self._inject(fault):
                return
        if owner.delay_s:
            time.sleep(owner.delay_s)
        text = "" if fault == "empty" else owner.responder(body)
        self._send_json(200, _completion_body(route, body, text))

    def _inject(self, fault: str) -> bool:
        """Send the fault; return True when no normal response may follow."""
        owner = self.server.owner
        if fault == "429":
            self._send_json(429, {"error": {"message": "rate limited"}}, {"Retry-After": str(owner.retry_after_s)})
        elif fault == "500":
            self._send_json(500, {"error": {"message": "internal error"}})
        elif fault == "400":
            self._send_json(400, {"error": {"message": "prompt is too long"}})
        elif fault == "404":
            self._send_json(404, {"error": {"message": "model not found"}})
        elif fault == "nonjson":
            self._send_raw(200, b"<html><body>Bad gateway</body></html>", "text/html")
        elif fault == "drop":
            self.close_connection = True
            self.connection.close()
        elif fault == "slow":
            time.sleep(owner.slow_s)
            return False
        else:
            return False
        return True

    def _send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(self, status: int, data: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _completion_body(route: str, body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt_tokens = len(prompt_of(body).split())
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
             "total_tokens": prompt_tokens + len(text.split())}
    if route == "/v1/chat/completions":
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        kind = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "finish_reason": "stop"}
        kind = "text_completion"
    return {"id": "scripted", "object": kind, "model": body.get("model"), "choices": [choice], "usage": usage}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve scripted OpenAI-compatible completions on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--answers", help="JSON object mapping prompt text to the answer text")
    parser.add_argument("--default", default="I do not know.", help="answer for prompts not in --answers")
    parser.add_argument("--model", action="append", help="model name to serve (repeatable)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each response")
    args = parser.parse_args(argv)
    answers: dict[str, str] = {}
    if args.answers:
        with open(args.answers, encoding="utf-8") as handle:
            answers = json.load(handle)
    server = ScriptedOpenAIServer(
        answer_from_map(answers, args.default),
        models=tuple(args.model or ("scripted-model",)),
        delay_s=args.delay,
        port=args.port,
    )
    print(f"listening on {server.base_url}", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()

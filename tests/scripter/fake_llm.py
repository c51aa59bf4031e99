"""A scripted OpenAI-compatible chat-completions server on loopback.

A real HTTP server (``http.server`` in a thread, port 0) that answers
``POST /v1/chat/completions`` with the next reply of its script, and records every
request body, so tests can count the requests and read what the loop sent.

A reply is one of the helpers below (``tool_calls``, ``answer``, ``http_error``,
``hang``, ``garbage``) or a function ``f(body, server) -> reply`` that builds it from
the request (for instance, an answer citing an id the tool result carried). When the
script is used up, the last reply repeats.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a dict is sent as JSON, bytes as they are
    wait: bool = False  # block until the server is released (a hung LLM)


Scripted = Reply | Callable[[dict[str, Any], "FakeLLM"], Reply]


def completion(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> Reply:
    """An assistant turn asking for the tools, in order (ids call_0, call_1, ...)."""
    return Reply(
        body=completion(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                    for n, (name, args) in enumerate(calls)
                ],
            },
            "tool_calls",
        )
    )


def answer(content: str | dict[str, Any]) -> Reply:
    """A final assistant turn; a dict is sent as its JSON text."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return Reply(body=completion({"role": "assistant", "content": text}, "stop"))


def http_error(status: int = 500) -> Reply:
    return Reply(status=status, body={"error": {"message": "boom", "type": "server_error"}})


def hang() -> Reply:
    return Reply(wait=True)


def garbage() -> Reply:
    return Reply(body=b"this is not json")


@dataclass
class FakeLLM:
    script: list[Scripted]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # names lower-cased
    released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                reply = fake._next(body, {k.lower(): v for k, v in self.headers.items()})
                if reply.wait:
                    fake.released.wait(30)
                    return
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
            self.headers.append(headers)
            step = self.script[min(index, len(self.script) - 1)]
        return step(body, self) if callable(step) else step

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results (parsed) in a request's messages, oldest first."""
    return [json.loads(m["content"]) for m in body.get("messages", []) if m.get("role") == "tool"]

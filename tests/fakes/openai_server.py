"""A local HTTP server that speaks the OpenAI chat-completions API, for testing the LLM path.

Each POST to ``/v1/chat/completions`` takes the next scripted answer: a string (the assistant's
content) or ``(status, body)`` for an error response. Requests are recorded for assertions.
``/v1/models`` lists the served model. Runs in a thread on 127.0.0.1 with an ephemeral port.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = str | tuple[int, dict]


@dataclass
class FakeOpenAI:
    """Scripted answers in, recorded requests out."""

    answers: list[Answer]
    model: str = "fake-model"
    api_key: str | None = None
    requests: list[dict] = field(default_factory=list)
    base_url: str = ""

    def next_answer(self) -> Answer:
        if len(self.answers) > 1:
            return self.answers.pop(0)
        return self.answers[0]  # the last answer repeats


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model", "owned_by": "t"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                return
            if fake.api_key is not None and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                self._send(
                    401,
                    {
                        "error": {
                            "message": "Incorrect API key provided",
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                        }
                    },
                )
                return
            if body.get("model") != fake.model:
                self._send(
                    404,
                    {
                        "error": {
                            "message": f"model '{body.get('model')}' not found",
                            "type": "invalid_request_error",
                            "code": "model_not_found",
                        }
                    },
                )
                return
            answer = fake.next_answer()
            if isinstance(answer, tuple):
                self._send(*answer)
                return
            prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages", []))
            self._send(
                200,
                {
                    "id": f"chatcmpl-{len(fake.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": fake.model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                    ],
                    "usage": {
                        "prompt_tokens": prompt_chars // 4,
                        "completion_tokens": len(answer) // 4,
                        "total_tokens": prompt_chars // 4 + len(answer) // 4,
                    },
                },
            )

    return Handler


@contextmanager
def serve(fake: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """Run ``fake`` on 127.0.0.1 in a thread; ``fake.base_url`` is set to its ``/v1`` URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

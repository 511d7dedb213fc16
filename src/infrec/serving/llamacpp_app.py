"""The process of `infrec/llamacpp`: llama-cpp-python's OpenAI-compatible server, with the two routes
a SageMaker container has besides (``GET /ping``, ``POST /invocations``).

Standalone on purpose: it runs in the engine's own environment (`scripts/llamacpp-engine.sh`),
which has llama-cpp-python, FastAPI and uvicorn but not infrec; `infrec.serving.llamacpp` starts it
with the settings it chose. Requests queue and are served one at a time (``interrupt_requests`` off:
llama-cpp-python's default would abort the answer in progress whenever a new request arrives, which
a concurrency search would read as errors); ``--threads`` is the engine setting a recommendation
job searches.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

MAX_INVOCATION_BODY = 8 * 1024 * 1024


def invocations_router(app: Any) -> Any:
    """ASGI wrapper: ``POST /invocations`` goes to ``/v1/chat/completions`` when the body has
    ``messages``, else to ``/v1/completions`` (SageMaker's LLM containers take OpenAI bodies there);
    ``GET /ping`` answers 200 (the model is loaded before the server listens)."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/ping":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b"{}"})
            return
        if scope["type"] != "http" or scope["path"] != "/invocations" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_INVOCATION_BODY:
                await _error(send, 413, f"request body over {MAX_INVOCATION_BODY} bytes")
                return
            if not msg.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            await _error(send, 400, "the body of /invocations must be an OpenAI completion or chat request (JSON)")
            return
        path = "/v1/chat/completions" if isinstance(doc, dict) and "messages" in doc else "/v1/completions"
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await app({**scope, "path": path, "raw_path": path.encode()}, replay, send)

    return asgi


async def _error(send: Any, status: int, message: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps({"error": {"message": message}}).encode()})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="infrec/llamacpp: llama-cpp-python's server plus /ping and /invocations")
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--alias", default=None)
    a = ap.parse_args(argv)

    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    server = ServerSettings(host=a.host, port=a.port, interrupt_requests=False)
    model = ModelSettings(model=a.model, model_alias=a.alias, n_threads=a.threads, n_threads_batch=a.threads,
                          n_ctx=a.ctx, n_batch=a.batch, verbose=False)
    app = create_app(server_settings=server, model_settings=[model])
    uvicorn.run(invocations_router(app), host=a.host, port=a.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())

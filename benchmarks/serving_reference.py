"""The truth for streamed latencies: an OpenAI-compatible server that stamps what it sends.

    python benchmarks/serving_reference.py [--port 8200] [--ttft-ms 20] [--itl-ms 5]

POST /v1/completions (and chat) streams max_tokens events: the first ttft-ms after the
request arrived, then one every itl-ms (asyncio, one event loop: thousands of streams
at once). Each event carries "t_ns", CLOCK_MONOTONIC read just before it is written, and
the server keeps what it really did: per request the time from arrival to the first
event sent (its TTFT) and the gaps between events sent (its ITL). GET /stats returns
their percentiles in ms and POST /reset clears them. A client on the same machine
reads the same clock, so its TTFT/ITL minus the server's is the client's own error.
Usage carries completion_tokens as it goes (continuous usage), as vLLM sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np
from aiohttp import web

_PERCENTILES = (50, 90, 99, 99.9)


class Truth:
    """What the server sent: TTFT per request and every gap between events (ns)."""

    def __init__(self) -> None:
        self.ttft_ns: list[int] = []
        self.itl_ns: list[int] = []
        self.events = 0

    def stats(self) -> dict[str, object]:
        out: dict[str, object] = {"requests": len(self.ttft_ns), "events": self.events}
        for name, values in (("ttft", self.ttft_ns), ("itl", self.itl_ns)):
            if values:
                array = np.asarray(values, dtype=np.float64) / 1e6
                for p in _PERCENTILES:
                    out[f"{name}_ms_p{p:g}"] = float(np.percentile(array, p))
                out[f"{name}_ms_mean"] = float(array.mean())
        return out


def make_app(ttft_s: float, itl_s: float) -> web.Application:
    truth = Truth()

    async def completions(request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic_ns()
        body = await request.json()
        n = int(body.get("max_tokens", 16))
        chat = request.path.endswith("chat/completions")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        previous = 0
        due = time.monotonic() + ttft_s
        for k in range(n):
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due += itl_s
            choice = (
                {"index": 0, "delta": {"content": " x"}} if chat else {"index": 0, "text": " x"}
            )
            sent = time.monotonic_ns()
            event = {
                "id": "ref",
                "object": "text_completion",
                "choices": [choice],
                "usage": {"prompt_tokens": 1, "completion_tokens": k + 1},
                "t_ns": sent,
            }
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
            if k == 0:
                truth.ttft_ns.append(sent - arrived)
            else:
                truth.itl_ns.append(sent - previous)
            previous = sent
            truth.events += 1
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "tiny", "object": "model"}]})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(truth.stats())

    async def reset(request: web.Request) -> web.Response:
        truth.__init__()  # type: ignore[misc]
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--itl-ms", type=float, default=5.0)
    args = parser.parse_args()
    app = make_app(args.ttft_ms / 1e3, args.itl_ms / 1e3)
    web.run_app(app, host="127.0.0.1", port=args.port, backlog=4096, print=None)


if __name__ == "__main__":
    main()

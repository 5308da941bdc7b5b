"""The truth for streamed latencies: an OpenAI-compatible server that stamps what it sends.

    $PEERS/vllm/bin/python benchmarks/serving_reference.py [--port 8200] [--ttft-ms 20]
        [--itl-ms 50]

POST /v1/completions (and chat) streams max_tokens events: the first ttft-ms after the
request arrived, then one every itl-ms. One asyncio event loop (uvloop where installed,
as in vLLM's venv) serves thousands of streams at once; with 1,000 streams at 50 ms that
is 20,000 events/s. Each event carries "t_ns", CLOCK_MONOTONIC read just before it is
written, and its text names the request (" r17"), so a client's per-chunk stamps can be
matched with what the server sent even where the client keeps only the text. A client
on the same machine reads the same clock: its stamp minus t_ns is its own error.

GET /stats: percentiles (ms) of the TTFT (arrival to first event sent) and ITL (gaps
between events sent) the server really produced; GET /events: every request's send
stamps, {"r17": [t_ns, ...]}; POST /reset clears both. Usage carries completion_tokens
as it goes (continuous usage), as vLLM sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time

import numpy as np
from aiohttp import web

_PERCENTILES = (50, 90, 99, 99.9)


class Truth:
    """What the server sent: each request's event stamps (ns), in order."""

    def __init__(self) -> None:
        self.arrived_ns: dict[str, int] = {}
        self.sent_ns: dict[str, list[int]] = {}

    def stats(self) -> dict[str, object]:
        ttft = [sent[0] - self.arrived_ns[rid] for rid, sent in self.sent_ns.items() if sent]
        itl = [b - a for sent in self.sent_ns.values() for a, b in itertools.pairwise(sent)]
        events = sum(len(sent) for sent in self.sent_ns.values())
        out: dict[str, object] = {"requests": len(self.sent_ns), "events": events}
        for name, values in (("ttft", ttft), ("itl", itl)):
            if values:
                array = np.asarray(values, dtype=np.float64) / 1e6
                for p in _PERCENTILES:
                    out[f"{name}_ms_p{p:g}"] = float(np.percentile(array, p))
                out[f"{name}_ms_mean"] = float(array.mean())
        return out


def make_app(ttft_s: float, itl_s: float) -> web.Application:
    truth = Truth()
    numbers = itertools.count()

    async def completions(request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic_ns()
        rid = f"r{next(numbers)}"
        body = await request.json()
        n = int(body.get("max_tokens", 16))
        chat = request.path.endswith("chat/completions")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        truth.arrived_ns[rid] = arrived
        sent = truth.sent_ns[rid] = []
        text = f" {rid}"
        choice = {"index": 0, "delta": {"content": text}} if chat else {"index": 0, "text": text}
        # the event's JSON up to its counts, so that only two numbers are written between
        # the stamp and the write
        head = json.dumps({"id": rid, "object": "text_completion", "choices": [choice]})
        head = head[:-1] + ', "usage": {"prompt_tokens": 1, "completion_tokens": '
        due = time.monotonic() + ttft_s
        for k in range(n):
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due += itl_s
            t_ns = time.monotonic_ns()
            sent.append(t_ns)
            await response.write(f'data: {head}{k + 1}}}, "t_ns": {t_ns}}}\n\n'.encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "tiny", "object": "model"}]})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(truth.stats())

    async def events(request: web.Request) -> web.Response:
        return web.json_response(truth.sent_ns)

    async def reset(request: web.Request) -> web.Response:
        truth.__init__()  # type: ignore[misc]
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    app.router.add_get("/events", events)
    app.router.add_post("/reset", reset)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--itl-ms", type=float, default=50.0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        uvloop = None
    app = make_app(args.ttft_ms / 1e3, args.itl_ms / 1e3)
    loop = uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=args.port, backlog=4096, print=None, loop=loop)


if __name__ == "__main__":
    main()

"""Small real servers on 127.0.0.1 for the served-model tests (stdlib http.server).

V2Server speaks the KServe v2 inference protocol (JSON and Triton's binary tensor
extension) for a few models; OpenAIServer speaks OpenAI-compatible completions, streamed
as server-sent events one token per event at a set pace. Both can be told to misbehave
(status codes, resets, malformed answers, a stall) on chosen requests, and count what
they received, so tests check what went over the wire.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

_NUMPY = {"FP32": np.float32, "INT64": np.int64, "INT32": np.int32, "BYTES": object}

#: name -> (inputs, outputs, function): tensors as (name, datatype, shape with -1).
V2_MODELS: dict[str, tuple[list, list, Callable[..., dict[str, np.ndarray]]]] = {
    # A batching model: OUTPUT0 = INPUT0 + 1, OUTPUT1 = INPUT0 * INPUT1 (INT64 sum).
    "add": (
        [("INPUT0", "FP32", [-1, 4]), ("INPUT1", "INT64", [-1, 4])],
        [("OUTPUT0", "FP32", [-1, 4]), ("OUTPUT1", "INT64", [-1, 1])],
        lambda INPUT0, INPUT1: {
            "OUTPUT0": INPUT0 + 1,
            "OUTPUT1": (INPUT1 * 2).sum(axis=1, keepdims=True),
        },
    ),
    # A model without a batch dimension, with a variable one: OUT = IN reversed.
    "flip": (
        [("IN", "INT32", [-1])],
        [("OUT", "INT32", [-1])],
        lambda IN: {"OUT": IN[::-1].copy()},
    ),
    # BYTES in and out: each string upper-cased.
    "upper": (
        [("TEXT", "BYTES", [-1, 1])],
        [("UPPER", "BYTES", [-1, 1])],
        lambda TEXT: {"UPPER": np.vectorize(lambda b: b.upper(), otypes=[object])(TEXT)},
    ),
}


#: Triton's model config max_batch_size (0: the model does not batch).
MAX_BATCH_SIZE = {"add": 8, "flip": 0, "upper": 4}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # one write per response (no delayed-ACK stall between parts)
    disable_nagle_algorithm = True
    owner: Any = None  # the TestServer, set per subclass

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _fault(self) -> bool:
        """Applies the owner's fault for this request number; True when it answered."""
        number = self.owner.count()
        fault = self.owner.faults.get(number) or self.owner.faults.get("every")
        if callable(fault):
            fault = fault(number)
        if fault == "stall":  # the whole server stalls: requests arriving meanwhile wait
            self.owner.stalled_until = time.monotonic() + self.owner.stall_s
            fault = None
        if fault is None:
            delay = self.owner.stalled_until - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            return False
        self._body()
        if fault == "reset":  # the status line and part of the headers, then a reset
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n")
            self.wfile.flush()
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.close_connection = True
            self.connection.close()
            return True
        if fault == "malformed":
            self._send(200, b"{not json")
            return True
        self._json(int(fault), {"error": f"injected {fault}"})
        return True


class TestServer:
    """A threaded HTTP server on 127.0.0.1 (port chosen by the OS), as a context manager.

    faults maps a request number (1-based, over all requests but GETs) or "every" to
    "reset", "malformed", "stall", an HTTP status code, or a function of the number
    returning one of those or None."""

    handler: type[_Handler] = _Handler

    def __init__(
        self,
        faults: dict[Any, Any] | None = None,
        stall_s: float = 1.0,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.faults = dict(faults or {})
        self.stall_s = stall_s
        self.stalled_until = 0.0
        self.requests = 0
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        handler = type("Handler", (self.handler,), {"owner": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        if tls is not None:  # (certificate file, key file): https
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        address = f"127.0.0.1:{self._server.server_address[1]}"
        return address if self.scheme == "http" else f"https://{address}"

    def count(self) -> int:
        with self._lock:
            self.requests += 1
            return self.requests

    def __enter__(self) -> TestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _decode_inputs(handler: _Handler, body: bytes, model: tuple) -> tuple[dict, dict]:
    """The request's inputs as arrays (JSON or binary) and its JSON header."""
    length = handler.headers.get("Inference-Header-Content-Length")
    head = json.loads(body[: int(length)] if length else body)
    offset = int(length) if length else len(body)
    arrays = {}
    for entry in head["inputs"]:
        dtype = _NUMPY[entry["datatype"]]
        size = (entry.get("parameters") or {}).get("binary_data_size")
        if size is None:
            data = entry["data"]
            array = np.array([d.encode() for d in data], object) if dtype is object else None
            array = array if array is not None else np.asarray(data, dtype)
        else:
            raw = body[offset : offset + size]
            offset += size
            if dtype is object:
                items, at = [], 0
                while at < len(raw):
                    n = int.from_bytes(raw[at : at + 4], "little")
                    items.append(raw[at + 4 : at + 4 + n])
                    at += 4 + n
                array = np.array(items, object)
            else:
                array = np.frombuffer(raw, dtype)
        arrays[entry["name"]] = array.reshape(entry["shape"])
    return arrays, head


class _V2Handler(_Handler):
    def _model(self) -> tuple[str, tuple | None]:
        parts = self.path.strip("/").split("/")
        name = parts[2] if len(parts) > 2 and parts[:2] == ["v2", "models"] else ""
        return name, V2_MODELS.get(name)

    def do_GET(self) -> None:
        name, model = self._model()
        if model is None:
            self._json(404, {"error": f"Request for unknown model: '{name}' is not found"})
            return
        tensors = lambda ts: [{"name": n, "datatype": d, "shape": s} for n, d, s in ts]  # noqa: E731
        if self.path.endswith("/ready"):
            self._send(200, b"")
            return
        if self.path.endswith("/config"):
            self._json(200, {"name": name, "max_batch_size": MAX_BATCH_SIZE[name]})
            return
        self._json(
            200,
            {
                "name": name,
                "versions": ["1"],
                "platform": "python",
                "inputs": tensors(model[0]),
                "outputs": tensors(model[1]),
            },
        )

    def do_POST(self) -> None:
        if self._fault():
            return
        name, model = self._model()
        body = self._body()
        self.owner.bodies.append(body)
        if model is None:
            self._json(404, {"error": f"unknown model '{name}'"})
            return
        arrays, head = _decode_inputs(self, body, model)
        outputs = model[2](**arrays)
        wanted = {o["name"]: o for o in head.get("outputs", [])}
        entries, blobs = [], []
        for out_name, datatype, _ in model[1]:
            array = outputs[out_name]
            entry: dict[str, Any] = {
                "name": out_name,
                "datatype": datatype,
                "shape": list(array.shape),
            }
            binary = (wanted.get(out_name, {}).get("parameters") or {}).get("binary_data")
            if binary:
                if datatype == "BYTES":
                    blob = b"".join(len(b).to_bytes(4, "little") + b for b in array.reshape(-1))
                else:
                    blob = np.ascontiguousarray(array).tobytes()
                entry["parameters"] = {"binary_data_size": len(blob)}
                blobs.append(blob)
            else:
                flat = array.reshape(-1)
                entry["data"] = [b.decode() for b in flat] if datatype == "BYTES" else flat.tolist()
            entries.append(entry)
        head_bytes = json.dumps({"model_name": name, "outputs": entries}).encode()
        headers = {"Inference-Header-Content-Length": str(len(head_bytes))} if blobs else {}
        self._send(200, head_bytes + b"".join(blobs), headers)


class V2Server(TestServer):
    """KServe v2 models of V2_MODELS."""

    handler = _V2Handler


class _OpenAIHandler(_Handler):
    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "tiny", "object": "model"}]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self._fault():
            return
        request = json.loads(self._body())
        self.owner.bodies.append(request)
        if request.get("model") != "tiny":
            self._json(404, {"error": {"message": f"model {request.get('model')} not found"}})
            return
        n = int(request.get("max_tokens", 16))
        chat = self.path.rstrip("/").endswith("chat/completions")
        if not request.get("stream"):
            time.sleep(self.owner.ttft_s + (n - 1) * self.owner.itl_s)
            text = {"message": {"role": "assistant", "content": "x" * n}} if chat else {}
            choice = {"index": 0, "text": "x" * n, **text, "finish_reason": "length"}
            usage = {"prompt_tokens": 4, "completion_tokens": n, "total_tokens": 4 + n}
            self._json(
                200, {"id": "c", "object": "text_completion", "choices": [choice], "usage": usage}
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        continuous = (request.get("stream_options") or {}).get("continuous_usage_stats")
        for k in range(n):
            time.sleep(self.owner.ttft_s if k == 0 else self.owner.itl_s)
            text = "" if k in self.owner.held_back else "x"  # e.g. part of a character
            choice = (
                {"index": 0, "delta": {"content": text}} if chat else {"index": 0, "text": text}
            )
            event: dict[str, Any] = {"id": "c", "choices": [choice]}
            if continuous:
                event["usage"] = {"prompt_tokens": 4, "completion_tokens": k + 1}
            if self.owner.malformed_event == k:
                self._chunk(b"data: {broken\n\n")
                break
            self._chunk(f"data: {json.dumps(event)}\n\n".encode())
        else:
            self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class OpenAIServer(TestServer):
    """The model "tiny": max_tokens tokens, the first after ttft_s, then one per itl_s;
    malformed_event=k sends a broken event in place of token k; the tokens numbered in
    held_back come with empty text (their usage still counts them)."""

    handler = _OpenAIHandler

    def __init__(
        self,
        faults: dict[Any, Any] | None = None,
        ttft_s: float = 0.02,
        itl_s: float = 0.002,
        malformed_event: int | None = None,
        held_back: tuple[int, ...] = (),
    ) -> None:
        super().__init__(faults)
        self.held_back = held_back
        self.ttft_s = ttft_s
        self.itl_s = itl_s
        self.malformed_event = malformed_event

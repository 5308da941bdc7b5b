"""gRPC over grpcio: channels to an endpoint, a worker's request stream, failure reasons.

grpcio's C core does the wire (HTTP/2, flow control, connection management); a blocking
call, and the wait for a stream's next response, run without the GIL, so a worker
waiting for a server never holds up the others. Messages travel as the bytes the
caller serialized (no serializer here), so a request encoded once is sent as it is.
"""

from __future__ import annotations

import queue
from typing import Any

try:
    import grpc
except ImportError:
    raise ImportError(
        "a gRPC endpoint needs grpcio and protobuf: pip install 'neuronperf-native[serving]'"
    ) from None

from neuronperf_native.targets.endpoint import Endpoint

__all__ = ["RpcError", "Stream", "call_metadata", "failure", "open_channel"]

RpcError = grpc.RpcError

#: Characters of a server's error details quoted in a failure reason.
_QUOTED_CHARS = 160
_OPTIONS = (
    ("grpc.max_receive_message_length", -1),  # tensors of any size
    ("grpc.max_send_message_length", -1),
    ("grpc.enable_http_proxy", 0),  # traffic goes to the URL given, never to a proxy
    ("grpc.service_config_disable_resolution", 1),  # no service config from DNS
    ("grpc.enable_retries", 0),  # a request is sent once: a failure is counted, not hidden
    ("grpc.use_local_subchannel_pool", 1),  # each channel its own connection
)


def open_channel(endpoint: Endpoint) -> grpc.Channel:
    """A channel to the endpoint's HOST:PORT (it connects on its first call)."""
    return grpc.insecure_channel(endpoint.host_port, options=_OPTIONS)


def call_metadata(endpoint: Endpoint) -> tuple[tuple[str, str], ...] | None:
    """The endpoint's headers as gRPC metadata (names lower-case, as gRPC requires)."""
    return tuple((name.lower(), value) for name, value in endpoint.headers) or None


def failure(error: grpc.RpcError) -> str:
    """'gRPC UNAVAILABLE: <the details>' for a reason in a report or a message."""
    code = error.code() if callable(getattr(error, "code", None)) else None
    details = error.details() if callable(getattr(error, "details", None)) else str(error)
    name = code.name if code is not None else "error"
    text = (details or "").strip()[:_QUOTED_CHARS]
    return f"gRPC {name}" + (f": {text}" if text else "")


class Stream:
    """One bidirectional call (e.g. ModelStreamInfer) kept open for request after
    request: send() queues a request's bytes, receive() waits for the next response's.

    Used by one thread at a time; grpcio reads the queue on a thread of its own."""

    def __init__(self, channel: grpc.Channel, method: str, metadata: Any) -> None:
        self._requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        call = channel.stream_stream(method, request_serializer=None, response_deserializer=None)
        self._call = call(iter(self._requests.get, None), metadata=metadata)

    def send(self, request: bytes) -> None:
        """Queues one request (sent as soon as grpcio takes it)."""
        self._requests.put(request)

    def receive(self) -> bytes:
        """The next response. RpcError when the call failed, StopIteration when the
        server ended it."""
        return next(self._call)

    def close(self) -> None:
        """Ends the call: the request queue's end releases grpcio's reading thread."""
        self._requests.put(None)
        self._call.cancel()

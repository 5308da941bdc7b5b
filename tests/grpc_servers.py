"""A real KServe v2 gRPC server on 127.0.0.1 for the served-model tests (grpcio).

GrpcV2Server implements GRPCInferenceService with the package's own messages: the
models of servers.V2_MODELS (ModelInfer, and ModelStreamInfer with one response each)
and a decoupled model "stream" that answers each request with `tokens` responses, the
first after ttft_s and the next every itl_s, then an empty response flagged final.
It can be told to misbehave on chosen requests (a status, a malformed message, an
error response, a stall, the whole server stopping) and records what it received, so
tests check what went over the wire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import numpy as np
from servers import MAX_BATCH_SIZE, V2_MODELS

from neuronperf_native.targets._v2_messages import message

_NUMPY = {"FP32": np.float32, "INT64": np.int64, "INT32": np.int32, "BYTES": object}
_SERVICE = "inference.GRPCInferenceService"

#: The decoupled model: PROMPT (INT32, any length, no batch) -> TOKEN k per response.
STREAM_MODEL = ([("PROMPT", "INT32", [-1])], [("TOKEN", "INT32", [1])])
MODELS = {**{name: (m[0], m[1]) for name, m in V2_MODELS.items()}, "stream": STREAM_MODEL}


def _raw_to_array(raw: bytes, datatype: str, shape: list[int]) -> np.ndarray:
    dtype = _NUMPY[datatype]
    if dtype is not object:
        return np.frombuffer(raw, dtype).reshape(shape)
    items, at = [], 0
    while at < len(raw):
        n = int.from_bytes(raw[at : at + 4], "little")
        items.append(raw[at + 4 : at + 4 + n])
        at += 4 + n
    return np.array(items, object).reshape(shape)


def _array_to_raw(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        return b"".join(len(b).to_bytes(4, "little") + b for b in array.reshape(-1))
    return np.ascontiguousarray(array).tobytes()


class GrpcV2Server:
    """A grpcio server on 127.0.0.1 (port chosen by the OS), as a context manager.

    faults maps a request number (1-based, over ModelInfer calls and streamed
    requests) or "every" to a grpc.StatusCode (the call fails with it), "malformed"
    (bytes that are no message), "error" (a stream response carrying an error
    message), "stall" (the whole server waits stall_s), or a function of the number
    returning one of those or None. hide_config: ModelConfig is refused (as a server
    that does not show it)."""

    def __init__(
        self,
        faults: dict[Any, Any] | None = None,
        stall_s: float = 1.0,
        tokens: int = 4,
        ttft_s: float = 0.0,
        itl_s: float = 0.0,
        hide_config: bool = False,
    ) -> None:
        self.faults = dict(faults or {})
        self.stall_s = stall_s
        self.tokens = tokens
        self.ttft_s = ttft_s
        self.itl_s = itl_s
        self.hide_config = hide_config
        self.stalled_until = 0.0
        self.requests = 0
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        self._server.add_generic_rpc_handlers((self._handler(),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> GrpcV2Server:
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """Stops the server at once: open calls and connections end."""
        self._server.stop(grace=None).wait()

    # The service -----------------------------------------------------------------

    def _handler(self) -> grpc.GenericRpcHandler:
        def unary(method: str, function: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                function,
                request_deserializer=message(method + "Request").FromString,
                response_serializer=lambda m: m.SerializeToString(),
            )

        # Inference requests arrive as bytes (recorded as sent) and answers leave as
        # bytes (malformed ones too).
        infer = grpc.unary_unary_rpc_method_handler(self._infer)
        stream = grpc.stream_stream_rpc_method_handler(self._stream_infer)
        return grpc.method_handlers_generic_handler(
            _SERVICE,
            {
                "ServerLive": unary(
                    "ServerLive", lambda r, c: message("ServerLiveResponse")(live=True)
                ),
                "ServerReady": unary(
                    "ServerReady", lambda r, c: message("ServerReadyResponse")(ready=True)
                ),
                "ModelReady": unary("ModelReady", self._model_ready),
                "ModelMetadata": unary("ModelMetadata", self._metadata),
                "ModelConfig": unary("ModelConfig", self._config),
                "ModelInfer": infer,
                "ModelStreamInfer": stream,
            },
        )

    def _model(self, name: str, context: grpc.ServicerContext) -> tuple:
        if name not in MODELS:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Request for unknown model: '{name}'")
        return MODELS[name]

    def _model_ready(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._model(request.name, context)
        return message("ModelReadyResponse")(ready=True)

    def _metadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        inputs, outputs = self._model(request.name, context)

        def tensors(entries: list) -> list[dict[str, Any]]:
            return [{"name": n, "datatype": d, "shape": s} for n, d, s in entries]

        return message("ModelMetadataResponse")(
            name=request.name,
            versions=["1"],
            platform="python",
            inputs=tensors(inputs),
            outputs=tensors(outputs),
        )

    def _config(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._model(request.name, context)
        if self.hide_config:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "model config is restricted")
        config = message("ModelConfig")(name=request.name)
        config.max_batch_size = MAX_BATCH_SIZE.get(request.name, 0)
        config.model_transaction_policy.decoupled = request.name == "stream"
        return message("ModelConfigResponse")(config=config)

    def _fault(self, context: grpc.ServicerContext) -> Any:
        """This request's fault (after applying a stall), or None."""
        with self._lock:
            self.requests += 1
            number = self.requests
        fault = self.faults.get(number) or self.faults.get("every")
        if callable(fault):
            fault = fault(number)
        if fault == "stall":  # the whole server stalls: requests arriving meanwhile wait
            self.stalled_until = time.monotonic() + self.stall_s
            fault = None
        delay = self.stalled_until - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if isinstance(fault, grpc.StatusCode):
            context.abort(fault, f"injected {fault.name}")
        return fault

    def _receive(self, body: bytes, context: grpc.ServicerContext) -> tuple[Any, Any]:
        """(fault, request) of an inference request's bytes, recorded."""
        fault = self._fault(context)
        self.bodies.append(body)
        self.headers.append(dict(context.invocation_metadata()))
        return fault, message("ModelInferRequest").FromString(body)

    def _outputs(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The ModelInferResponse of a V2_MODELS request."""
        _, outputs = self._model(request.model_name, context)
        arrays = {
            tensor.name: _raw_to_array(raw, tensor.datatype, list(tensor.shape))
            for tensor, raw in zip(request.inputs, request.raw_input_contents, strict=True)
        }
        results = V2_MODELS[request.model_name][2](**arrays)
        response = message("ModelInferResponse")(model_name=request.model_name, id=request.id)
        for name, datatype, _ in outputs:
            array = results[name]
            response.outputs.add(name=name, datatype=datatype, shape=array.shape)
            response.raw_output_contents.append(_array_to_raw(array, datatype))
        return response

    def _infer(self, body: bytes, context: grpc.ServicerContext) -> bytes:
        fault, request = self._receive(body, context)
        if fault == "malformed":
            return b"\xff\xff\xff not a message"
        return self._outputs(request, context).SerializeToString()  # type: ignore[no-any-return]

    def _stream_infer(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator:
        answer = message("ModelStreamInferResponse")
        for body in requests:
            fault, request = self._receive(body, context)
            if fault == "malformed":
                yield b"\xff\xff\xff not a message"
            elif fault == "error":
                yield answer(error_message="injected error").SerializeToString()
            elif request.model_name != "stream":
                yield answer(infer_response=self._outputs(request, context)).SerializeToString()
            else:
                yield from self._tokens(request, answer)

    def _tokens(self, request: Any, answer: Any) -> Iterator[bytes]:
        """The decoupled model's responses to one request."""
        flag = request.parameters.get("triton_enable_empty_final_response")
        empty_final = flag is not None and flag.bool_param
        for k in range(self.tokens):
            time.sleep(self.ttft_s if k == 0 else self.itl_s)
            response = message("ModelInferResponse")(model_name="stream", id=request.id)
            response.outputs.add(name="TOKEN", datatype="INT32", shape=[1])
            response.raw_output_contents.append(np.int32(k).tobytes())
            if not empty_final and k == self.tokens - 1:
                response.parameters["triton_final_response"].bool_param = True
            yield answer(infer_response=response).SerializeToString()
        if empty_final:
            final = message("ModelInferResponse")(model_name="stream", id=request.id)
            final.parameters["triton_final_response"].bool_param = True
            yield answer(infer_response=final).SerializeToString()

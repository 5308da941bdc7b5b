"""KServe v2 / Triton over gRPC: model metadata and config, and a client that sends input data.

Before a run, as perf_analyzer: ServerLive, ServerReady, ModelMetadata (inputs,
datatypes, shapes), ModelReady, and Triton's ModelConfig where the server answers it
(max_batch_size: whether the first dimension is the batch; decoupled: the model answers
over a stream). Requests carry their tensors in raw_input_contents, as perf_analyzer
sends them; each distinct input tuple is serialized once and its bytes reused, so a
call's Python work is the RPC itself and reading the response. ModelInfer sends one
request per call; with streaming, each worker keeps one ModelStreamInfer stream open and
each response to a request is an item the engine stamps (a decoupled model's responses,
up to the one flagged final).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from neuronperf_native.engine import RequestFailed
from neuronperf_native.targets._grpc import (
    RpcError,
    Stream,
    call_metadata,
    failure,
    open_channel,
)
from neuronperf_native.targets._per_thread import PerThread
from neuronperf_native.targets._v2_messages import METHODS, message
from neuronperf_native.targets.endpoint import Endpoint, EndpointError
from neuronperf_native.targets.kserve import (
    _NUMPY,
    ModelMetadata,
    TensorMeta,
    _LazyOutputs,
    _raw_contents,
    _raw_tensor,
    _request_tensors,
)

__all__ = ["GrpcModelMetadata", "KServeGrpcClient", "encode_request", "fetch_metadata"]

_CACHED_REQUESTS = 4096
#: Triton's request parameter asking a decoupled model to flag its last response, and
#: the response parameter that flags it.
ENABLE_FINAL_RESPONSE = "triton_enable_empty_final_response"
FINAL_RESPONSE = "triton_final_response"
#: Where InferTensorContents holds each datatype's elements when not sent raw.
_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

_INFER_REQUEST = message("ModelInferRequest")
_INFER_RESPONSE = message("ModelInferResponse")
_STREAM_RESPONSE = message("ModelStreamInferResponse")


@dataclasses.dataclass(frozen=True)
class GrpcModelMetadata(ModelMetadata):
    """ModelMetadata with Triton's decoupled flag (the model answers over a stream)."""

    decoupled: bool = False


def _tensors(where: str, entries: Sequence[Any]) -> tuple[TensorMeta, ...]:
    out = []
    for entry in entries:
        if entry.datatype not in _NUMPY:
            raise EndpointError(
                f"{where}: tensor '{entry.name}' has unsupported datatype {entry.datatype!r}"
            )
        out.append(TensorMeta(entry.name, entry.datatype, tuple(entry.shape)))
    return tuple(out)


class _Probe:
    """The RPCs made before a run, each bounded by the connect timeout."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.channel = open_channel(endpoint)
        self.metadata = call_metadata(endpoint)

    def __call__(self, method: str, **fields: Any) -> Any:
        """The response of `method` to a request of `fields` (RpcError when it failed)."""
        rpc = self.channel.unary_unary(
            METHODS[method],
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=message(method + "Response").FromString,
        )
        return rpc(
            message(method + "Request")(**fields),
            timeout=self.endpoint.connect_timeout_s,
            metadata=self.metadata,
        )


def fetch_metadata(endpoint: Endpoint) -> GrpcModelMetadata:
    """The model's metadata and config from the server, before any run: EndpointError
    naming the URL when the server does not answer within the connect timeout or is
    not ready, naming the model when the server does not have it or it is not ready."""
    where = f"{endpoint.host_port} (gRPC)"
    model = {"name": endpoint.model_name, "version": endpoint.model_version}
    version = f" version {endpoint.model_version}" if endpoint.model_version else ""
    probe = _Probe(endpoint)
    try:
        try:
            live = probe("ServerLive").live
            ready = probe("ServerReady").ready
        except RpcError as error:
            raise EndpointError(f"cannot reach {where}: {failure(error)}") from None
        if not (live and ready):
            raise EndpointError(f"{where} is {'not ready' if live else 'not live'}")
        try:
            meta = probe("ModelMetadata", **model)
        except RpcError as error:
            raise EndpointError(
                f"{where} has no model '{endpoint.model_name}'{version} ({failure(error)})"
            ) from None
        try:
            model_ready = probe("ModelReady", **model).ready
        except RpcError as error:
            model_ready, why = False, failure(error)
        else:
            why = "ModelReady says not ready"
        if not model_ready:
            raise EndpointError(f"model '{endpoint.model_name}' on {where} is not ready ({why})")
        try:
            config = probe("ModelConfig", **model).config
        except RpcError:
            config = None  # not Triton, or its config is not shown
    finally:
        probe.channel.close()
    name = f"{where} model '{endpoint.model_name}'"
    return GrpcModelMetadata(
        meta.name or endpoint.model_name,
        _tensors(name, meta.inputs),
        _tensors(name, meta.outputs),
        None if config is None else config.max_batch_size,
        decoupled=config is not None and config.model_transaction_policy.decoupled,
    )


def encode_request(
    endpoint: Endpoint, metadata: ModelMetadata, arrays: Sequence[Any], final_flag: bool = False
) -> bytes:
    """The serialized ModelInferRequest for one input tuple (in metadata input order;
    None for an absent optional input). final_flag asks a decoupled model to flag its
    last response."""
    request = _INFER_REQUEST(model_name=endpoint.model_name, model_version=endpoint.model_version)
    for meta, array in _request_tensors(metadata, arrays):
        request.inputs.add(name=meta.name, datatype=meta.datatype, shape=array.shape)
        request.raw_input_contents.append(_raw_contents(array, meta.datatype))
    if final_flag:
        request.parameters[ENABLE_FINAL_RESPONSE].bool_param = True
    return request.SerializeToString()  # type: ignore[no-any-return]


class GrpcOutputs(_LazyOutputs):
    """A ModelInferResponse's outputs by name, decoded to numpy on first access (the
    timed loop only parses the message)."""

    def __init__(self, response: Any, batching: bool) -> None:
        super().__init__(batching)
        self.response = response

    def _tensors(self) -> Iterator[tuple[str, np.ndarray]]:
        raw = self.response.raw_output_contents
        for k, out in enumerate(self.response.outputs):
            shape = tuple(out.shape)
            if k < len(raw):
                array = _raw_tensor(raw[k], out.datatype, int(np.prod(shape)))
            else:
                array = _from_contents(out)
            yield out.name, array.reshape(shape)


def _from_contents(out: Any) -> np.ndarray:
    field = _CONTENTS.get(out.datatype)
    if field is None:
        raise RequestFailed(f"malformed response: output '{out.name}' has no raw contents")
    values = getattr(out.contents, field)
    if out.datatype == "BYTES":
        return np.array(list(values), dtype=object)
    return np.asarray(values, dtype=_NUMPY[out.datatype])


def _parse(kind: Any, raw: bytes) -> Any:
    try:
        return kind.FromString(raw)
    except Exception:  # protobuf's DecodeError, whichever runtime raises it
        raise RequestFailed(f"malformed response: not a {kind.DESCRIPTOR.name}") from None


class _Worker:
    """One worker thread's channel, its ModelInfer call, and its stream (opened when
    first streamed, dropped after a failure so the next request starts clean)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.channel = open_channel(endpoint)
        self.infer = self.channel.unary_unary(
            METHODS["ModelInfer"], request_serializer=None, response_deserializer=None
        )
        self._metadata = call_metadata(endpoint)
        self._stream: Stream | None = None

    def stream(self) -> Stream:
        if self._stream is None:
            self._stream = Stream(self.channel, METHODS["ModelStreamInfer"], self._metadata)
        return self._stream

    def drop_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def close(self) -> None:
        self.drop_stream()
        self.channel.close()


class KServeGrpcClient:
    """The model a copy calls: one ModelInfer per call on this worker's own channel,
    or with streaming its responses over the worker's ModelStreamInfer stream. A
    failed exchange (gRPC status other than OK, a reset, a malformed message, a
    stream response's error) raises RequestFailed: counted, never timed."""

    def __init__(
        self, endpoint: Endpoint, metadata: ModelMetadata, streaming: bool = False
    ) -> None:
        self.endpoint = endpoint
        self.metadata = metadata
        self.streaming = streaming
        self.decoupled = isinstance(metadata, GrpcModelMetadata) and metadata.decoupled
        if self.decoupled and not streaming:
            raise EndpointError(
                f"model '{metadata.name}' is decoupled: it answers over a stream "
                "(--streaming, streaming=True)"
            )
        if streaming and endpoint.request_timeout_s is not None:
            raise EndpointError(
                "request_timeout_s bounds one ModelInfer call: a stream of responses is "
                "bounded by call_timeout_s"
            )
        self._metadata = call_metadata(endpoint)
        self._workers = PerThread(lambda: _Worker(endpoint), _Worker.close)
        self._requests: dict[tuple[int, ...], tuple[tuple, bytes]] = {}

    def _request(self, arrays: tuple) -> bytes:
        key = tuple(map(id, arrays))
        cached = self._requests.get(key)
        if cached is not None:
            return cached[1]
        body = encode_request(self.endpoint, self.metadata, arrays, self.decoupled)
        if len(self._requests) < _CACHED_REQUESTS:
            self._requests[key] = (arrays, body)  # the arrays keep their ids
        return body

    def __call__(self, *arrays: Any) -> Any:
        body = self._request(arrays)
        worker = self._workers.get()
        if self.streaming:
            return self._responses(worker, body)
        try:
            raw = worker.infer(
                body, timeout=self.endpoint.request_timeout_s, metadata=self._metadata
            )
        except RpcError as error:
            raise RequestFailed(failure(error)) from None
        return GrpcOutputs(_parse(_INFER_RESPONSE, raw), self.metadata.batching)

    def _responses(self, worker: _Worker, body: bytes) -> Iterator[GrpcOutputs]:
        """Yields each response to one request with outputs; ends after the final one
        (a decoupled model's flagged response, else the first)."""
        stream = worker.stream()
        finished = False
        try:
            stream.send(body)
            while not finished:
                try:
                    raw = stream.receive()
                except RpcError as error:
                    raise RequestFailed(failure(error)) from None
                except StopIteration:
                    raise RequestFailed("the server ended the stream") from None
                answer = _parse(_STREAM_RESPONSE, raw)
                if answer.error_message:
                    raise RequestFailed(answer.error_message[:160])
                response = answer.infer_response
                flag = response.parameters.get(FINAL_RESPONSE)
                finished = not self.decoupled or (flag is not None and flag.bool_param)
                if response.outputs:
                    yield GrpcOutputs(response, self.metadata.batching)
        finally:
            if not finished:  # failed or abandoned: its late responses must not reach
                worker.drop_stream()  # the next request

    def close(self) -> None:
        """Closes every worker's channel (and stream)."""
        self._workers.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "metadata": self.metadata, "streaming": self.streaming}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

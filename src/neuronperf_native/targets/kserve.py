"""KServe v2 / Triton over HTTP: model metadata, and a client that sends input data.

Shapes and datatypes come from the server's model metadata (GET v2/models/NAME), as
perf_analyzer reads them. Whether the first dimension is the batch comes from Triton's
model config (max_batch_size > 0) where the server shows it, else from the metadata (a
model whose every input's first dimension is -1 batches); any other -1 needs --shape.
Requests carry tensors in Triton's binary tensor extension by default (perf_analyzer's
default too) or as JSON lists; responses are read in either form. Each distinct input
tuple is encoded once and its body reused, as perf_analyzer prepares its requests; the
engine sends them natively (native_model()), checking each answer's status and JSON head.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native import _engine
from neuronperf_native.engine import NativeModel, RequestFailed
from neuronperf_native.inputs import TensorSpec
from neuronperf_native.inputs.specs import bf16_to_float32
from neuronperf_native.targets._http import Connection, Connections, TransportError, http_options
from neuronperf_native.targets.endpoint import Endpoint, EndpointError

__all__ = ["KServeClient", "ModelMetadata", "TensorMeta", "fetch_metadata"]

#: Triton datatype -> numpy dtype (BYTES: object arrays of bytes; BF16: uint16 bits).
_NUMPY = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BF16": np.uint16,
    "BYTES": np.object_,
}
#: Distinct input tuples whose encoded request is kept (a dataset beyond it is
#: encoded request by request).
_CACHED_REQUESTS = 4096
_HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclasses.dataclass(frozen=True)
class TensorMeta:
    """One tensor of the model metadata: name, Triton datatype, shape (-1: variable)."""

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """What the server says about a model: its inputs and outputs."""

    name: str
    inputs: tuple[TensorMeta, ...]
    outputs: tuple[TensorMeta, ...]
    max_batch_size: int | None = None  # Triton's model config, when the server shows it

    @property
    def batching(self) -> bool:
        """Whether the first dimension is the batch: max_batch_size > 0, or without a
        config every input's first dimension is -1."""
        if self.max_batch_size is not None:
            return self.max_batch_size > 0
        return bool(self.inputs) and all(t.shape[:1] == (-1,) for t in self.inputs)

    def specs(self, tensors: Sequence[TensorMeta]) -> list[TensorSpec]:
        """TensorSpecs of tensors, without the batch dimension of a batching model."""
        cut = 1 if self.batching else 0
        return [TensorSpec(t.name, t.datatype, t.shape[cut:]) for t in tensors]


def _tensors(where: str, entries: Any) -> tuple[TensorMeta, ...]:
    if not isinstance(entries, list):
        raise EndpointError(f"{where}: the model metadata has no list of tensors")
    out = []
    for entry in entries:
        try:
            name, datatype, shape = entry["name"], entry["datatype"], entry["shape"]
            dims = tuple(int(d) for d in shape)
        except (KeyError, TypeError, ValueError):
            raise EndpointError(f"{where}: malformed tensor metadata {entry!r}") from None
        if datatype not in _NUMPY:
            raise EndpointError(f"{where}: tensor '{name}' has unsupported datatype {datatype!r}")
        out.append(TensorMeta(str(name), datatype, dims))
    return tuple(out)


def fetch_metadata(endpoint: Endpoint) -> ModelMetadata:
    """The model's metadata from the server, before any run: EndpointError naming the
    URL when the server does not answer within the connect timeout, naming the model
    when the server does not have it or it is not ready."""
    connection = Connection(endpoint)
    try:
        url = endpoint.path(endpoint.model_path)
        try:
            response = connection.request(url)
        except TransportError as error:
            raise EndpointError(f"cannot reach {endpoint.url}: {error}") from None
        if response.status != 200:
            raise EndpointError(
                f"{endpoint.url} has no model '{endpoint.model_name}'"
                f"{' version ' + endpoint.model_version if endpoint.model_version else ''} "
                f"({response.failure()})"
            )
        ready = connection.request(endpoint.path(endpoint.model_path + "/ready"))
        if ready.status != 200:
            raise EndpointError(
                f"model '{endpoint.model_name}' on {endpoint.url} is not ready ({ready.failure()})"
            )
        max_batch_size = _max_batch_size(
            connection.request(endpoint.path(endpoint.model_path + "/config"))
        )
    finally:
        connection.close()
    try:
        meta = json.loads(response.body)
    except ValueError:
        raise EndpointError(f"{url}: the model metadata is not JSON") from None
    if not isinstance(meta, dict):
        raise EndpointError(f"{url}: the model metadata is not a JSON object")
    return ModelMetadata(
        str(meta.get("name", endpoint.model_name)),
        _tensors(url, meta.get("inputs")),
        _tensors(url, meta.get("outputs", [])),
        max_batch_size,
    )


def _max_batch_size(response: _engine.HttpResponse) -> int | None:
    """max_batch_size of a Triton model config answer; None when there is none."""
    if response.status != 200:
        return None
    try:
        value = json.loads(response.body).get("max_batch_size")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bytes_elements(array: np.ndarray) -> bytes:
    """BYTES elements, each as a 4-byte little-endian length and the bytes."""
    parts = []
    for item in array.reshape(-1):
        raw = item if isinstance(item, bytes) else str(item).encode()
        parts.append(len(raw).to_bytes(4, "little"))
        parts.append(raw)
    return b"".join(parts)


def _json_data(array: np.ndarray, datatype: str) -> list[Any]:
    flat = array.reshape(-1)
    if datatype == "BYTES":
        return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in flat]
    if datatype == "BF16":
        return bf16_to_float32(flat).tolist()
    return flat.tolist()


def _request_tensors(
    metadata: ModelMetadata, arrays: Sequence[Any]
) -> Iterator[tuple[TensorMeta, np.ndarray]]:
    """Each present input of one input tuple (in metadata input order; None for an absent
    optional input) with its array as sent: without batching, a leading 1 dropped."""
    for meta, value in zip(metadata.inputs, arrays, strict=True):
        if value is None:
            continue
        array = np.asarray(value)
        if not metadata.batching:
            array = array[0] if array.ndim and array.shape[0] == 1 else array
        yield meta, array


def _raw_contents(array: np.ndarray, datatype: str) -> bytes:
    """A tensor's raw bytes: little-endian elements, BYTES elements length-prefixed."""
    if datatype == "BYTES":
        return _bytes_elements(array)
    return np.ascontiguousarray(array, np.dtype(_NUMPY[datatype]).newbyteorder("<")).tobytes()


def encode_request(
    metadata: ModelMetadata, arrays: Sequence[Any], binary: bool
) -> tuple[bytes, list[str]]:
    """The v2 infer request body for one input tuple (in metadata input order; None for
    an absent optional input), and its extra headers."""
    entries: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for meta, array in _request_tensors(metadata, arrays):
        entry: dict[str, Any] = {
            "name": meta.name,
            "datatype": meta.datatype,
            "shape": list(array.shape),
        }
        if binary:
            blob = _raw_contents(array, meta.datatype)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = _json_data(array, meta.datatype)
        entries.append(entry)
    outputs = [{"name": t.name, "parameters": {"binary_data": binary}} for t in metadata.outputs]
    head = json.dumps({"inputs": entries, "outputs": outputs}, separators=(",", ":")).encode()
    kind = "application/octet-stream" if binary else "application/json"
    headers = [f"Content-Type: {kind}"]
    if binary:
        headers.append(f"{_HEADER_LENGTH}: {len(head)}")
    return head + b"".join(blobs), headers


def _decode_bytes(raw: bytes, count: int) -> np.ndarray:
    out = np.empty(count, dtype=object)
    offset = 0
    for i in range(count):
        n = int.from_bytes(raw[offset : offset + 4], "little")
        out[i] = raw[offset + 4 : offset + 4 + n]
        offset += 4 + n
    return out


def _raw_tensor(raw: bytes, datatype: str, count: int) -> np.ndarray:
    """A tensor's `count` elements from its raw bytes (little-endian; BYTES elements
    each after its 4-byte length), as the binary extension and gRPC carry them."""
    if datatype == "BYTES":
        return _decode_bytes(raw, count)
    return np.frombuffer(raw, np.dtype(_NUMPY[datatype]).newbyteorder("<"))


class _LazyOutputs(Mapping[str, np.ndarray]):
    """A response's outputs by name, decoded to numpy on first access (the timed loop
    checks the answer only); a subclass yields each output's name and shaped array."""

    def __init__(self, batching: bool) -> None:
        self._batching = batching
        self._arrays: dict[str, np.ndarray] | None = None

    def _tensors(self) -> Iterator[tuple[str, np.ndarray]]:
        raise NotImplementedError

    def _decode(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = {
                name: array if self._batching else array[np.newaxis]
                for name, array in self._tensors()
            }
        return self._arrays

    def __getitem__(self, name: str) -> np.ndarray:
        return self._decode()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decode())

    def __len__(self) -> int:
        return len(self._decode())


class V2Outputs(_LazyOutputs):
    """The outputs of a v2 HTTP response: JSON data, or binary tensors after the head."""

    def __init__(self, head: dict[str, Any], body: bytes, offset: int, batching: bool) -> None:
        super().__init__(batching)
        self._head = head
        self._body = body
        self._offset = offset

    def _tensors(self) -> Iterator[tuple[str, np.ndarray]]:
        offset = self._offset
        for out in self._head.get("outputs", []):
            shape = [int(d) for d in out["shape"]]
            datatype = out["datatype"]
            size = (out.get("parameters") or {}).get("binary_data_size")
            if size is not None:
                count = int(np.prod(shape)) if shape else 1
                array = _raw_tensor(self._body[offset : offset + int(size)], datatype, count)
                offset += int(size)
            elif datatype == "BYTES":
                array = np.array([str(x).encode() for x in out["data"]], dtype=object)
            else:
                array = np.asarray(out["data"], dtype=_NUMPY[datatype])
            yield out["name"], array.reshape(shape)


def parse_response(response: _engine.HttpResponse, batching: bool) -> V2Outputs:
    """The outputs of a 200 response; RequestFailed when it is malformed."""
    body = response.body
    length = response.header(_HEADER_LENGTH)
    try:
        offset = len(body) if length is None else int(length)
        head = json.loads(body[:offset])
    except ValueError:
        raise RequestFailed("malformed response: not JSON") from None
    if not isinstance(head, dict) or not isinstance(head.get("outputs", []), list):
        raise RequestFailed("malformed response: not a v2 infer response")
    return V2Outputs(head, body, offset, batching)


class KServeClient:
    """The model a copy runs: natively in timed runs (native_model(): no Python per
    request), or called, one v2 infer request per call on this thread's own connection,
    for the output checks and runs the engine drives through Python. A failed exchange
    (no connection, reset, timeout, HTTP status other than 200, malformed body) is a
    RequestFailed: counted, never timed."""

    def __init__(self, endpoint: Endpoint, metadata: ModelMetadata, binary: bool = True) -> None:
        self.endpoint = endpoint
        self.metadata = metadata
        self.binary = binary
        self._url = endpoint.path(endpoint.model_path + "/infer")
        self._connections = Connections(endpoint)
        self._requests: dict[tuple[int, ...], tuple[tuple, bytes, list[str]]] = {}

    def _request(self, arrays: tuple) -> tuple[bytes, list[str]]:
        key = tuple(map(id, arrays))
        cached = self._requests.get(key)
        if cached is not None:
            return cached[1], cached[2]
        body, headers = encode_request(self.metadata, arrays, self.binary)
        if len(self._requests) < _CACHED_REQUESTS:
            self._requests[key] = (arrays, body, headers)  # the arrays keep their ids
        return body, headers

    def native_model(
        self, inputs: Sequence[tuple], input_tokens: Sequence[int] = ()
    ) -> NativeModel:
        """The engine's model of this endpoint for these argument tuples: each encoded
        once, sent round-robin by each worker over its own connection."""
        if not inputs:
            raise ValueError("a served model needs inputs to send")
        requests = [(*self._request(tuple(arrays)), -1) for arrays in inputs]
        return _engine.served_model(
            options=http_options(self.endpoint),
            url=self._url,
            requests=requests,
            answer="kserve",
            decoder=None,
        )

    def __call__(self, *arrays: Any) -> V2Outputs:
        body, headers = self._request(arrays)
        try:
            response = self._connections.get().request(self._url, body, headers)
        except TransportError as error:
            raise RequestFailed(str(error)) from None
        if response.status != 200:
            raise RequestFailed(response.failure())
        return parse_response(response, self.metadata.batching)

    def close(self) -> None:
        """Closes every worker's connection."""
        self._connections.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "metadata": self.metadata, "binary": self.binary}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["endpoint"], state["metadata"], state["binary"])  # type: ignore[misc]

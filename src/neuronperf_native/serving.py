"""Benchmark a served model: a KServe v2 / Triton or OpenAI-compatible endpoint.

`benchmark(url, model_name, ...)` checks the server and the model before any work
(one line naming the URL, model or tensor), then runs benchmark()'s configurations
with a client in each model copy instead of a loaded model: copies are client
processes, workers are requests in flight (perf_analyzer's concurrency), and open
loop, searches, stability and reports work as in-process.
"""

from __future__ import annotations

from typing import Any

from neuronperf_native import benchmarking
from neuronperf_native.inputs import InputData, InputDataError, load_input_data
from neuronperf_native.targets import Endpoint, EndpointError
from neuronperf_native.targets.kserve import KServeClient, ModelMetadata, fetch_metadata
from neuronperf_native.targets.openai_compat import OpenAIClient, check_openai_model

__all__ = ["benchmark", "check_input_data", "connect"]

# Endpoint fields that benchmark() takes as keywords.
_ENDPOINT_KEYWORDS = (
    "service_kind",
    "protocol",
    "endpoint",
    "model_version",
    "headers",
    "verify_ssl",
    "ca_file",
    "cert_file",
    "key_file",
    "connect_timeout_s",
    "request_timeout_s",
)


#: The prompts of an OpenAI-compatible target given none: 32 tokens in, 32 out.
DEFAULT_PROMPT = {"synthetic_input_tokens_mean": 32, "output_tokens_mean": 32}
#: Synthetic token ids are drawn below this without a tokenizer to size the vocabulary
#: (ids every LLM vocabulary has; the default 32,000 exceeds small models').
SAFE_VOCAB_SIZE = 1000
_DEFAULT_VOCAB_SIZE = 32_000


def _openai_prompts(inputs: Any, kwargs: dict[str, Any]) -> None:
    """Prompt keywords of an OpenAI-compatible target: DEFAULT_PROMPT when none are
    given, and synthetic ids drawn from the tokenizer's vocabulary (else SAFE_VOCAB_SIZE)
    unless vocab_size says otherwise."""
    if inputs is None and not any(
        kwargs.get(k) is not None for k in ("synthetic_input_tokens_mean", "input_file")
    ):
        kwargs.update(DEFAULT_PROMPT)
    if kwargs.get("synthetic_input_tokens_mean") is None:
        return
    if kwargs.get("vocab_size", _DEFAULT_VOCAB_SIZE) == _DEFAULT_VOCAB_SIZE:
        tokenizer = kwargs.get("tokenizer")
        if tokenizer is None:
            kwargs["vocab_size"] = SAFE_VOCAB_SIZE
        else:
            from transformers import AutoTokenizer

            kwargs["vocab_size"] = len(
                AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
            )


class _ClientLoader:
    """load_fn of a served target: builds the client in each model copy (picklable)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, model_filename: Any, device_id: int = 0) -> Any:
        return self.client


def check_input_data(data: InputData, metadata: ModelMetadata) -> None:
    """EndpointError naming the tensor unless data's inputs are the model's, in order,
    with its datatypes."""
    given = {spec.name: spec for spec in data.inputs}
    for tensor in metadata.inputs:
        if tensor.name not in given:
            raise EndpointError(
                f"input data has no tensor '{tensor.name}' that model '{metadata.name}' takes"
            )
    for spec in data.inputs:
        wanted = next((t for t in metadata.inputs if t.name == spec.name), None)
        if wanted is None:
            raise EndpointError(
                f"input data tensor '{spec.name}' is not an input of model '{metadata.name}' "
                f"(its inputs: {', '.join(t.name for t in metadata.inputs)})"
            )
        if spec.dtype != wanted.datatype:
            raise EndpointError(
                f"input data tensor '{spec.name}' is {spec.dtype} but model '{metadata.name}' "
                f"takes {wanted.datatype}"
            )
    if [s.name for s in data.inputs] != [t.name for t in metadata.inputs]:
        raise EndpointError(
            f"input data tensors {[s.name for s in data.inputs]} must follow the model's "
            f"input order {[t.name for t in metadata.inputs]}"
        )


def _triton_data(
    endpoint: Endpoint, metadata: ModelMetadata, inputs: Any, options: dict[str, Any]
) -> InputData:
    """The input data: an InputData checked against the metadata, or a source
    (random, zero, a directory, JSON files) loaded with the metadata's shapes."""
    if isinstance(inputs, InputData):
        check_input_data(inputs, metadata)
        return inputs
    try:
        return load_input_data(
            inputs,
            metadata.specs(metadata.inputs),
            metadata.specs(metadata.outputs),
            **options,
        )
    except InputDataError as error:
        raise EndpointError(f"model '{metadata.name}' on {endpoint.url}: {error}") from None


def connect(url: str, model_name: str, **options: Any) -> tuple[Endpoint, ModelMetadata | None]:
    """The endpoint, checked: reachable within its connect timeout, serving the model
    (and for Triton/KServe its metadata). EndpointError otherwise."""
    endpoint = Endpoint(url, model_name, **options)
    if endpoint.protocol == "grpc":
        raise EndpointError("-i grpc is not supported yet: use the HTTP port (-i http)")
    if endpoint.service_kind == "openai":
        check_openai_model(endpoint)
        return endpoint, None
    return endpoint, fetch_metadata(endpoint)


def benchmark(
    url: str,
    model_name: str,
    inputs: Any = "random",
    *,
    binary_data: bool = True,
    shapes: dict[str, Any] | None = None,
    string_length: int = 128,
    string_data: str | None = None,
    seed: int = 0,
    ignore_eos: bool = True,
    extra_body: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Benchmarks the model `model_name` served at `url`; returns benchmark()'s reports.

    Triton / KServe v2 (service_kind="triton", default): `inputs` is input data
    ("random", "zero", a directory, perf_analyzer JSON files, or an InputData) for
    the model's inputs as its metadata declares them (`shapes` for variable dims);
    expected outputs in the data are checked as in-process. `binary_data=False`
    sends JSON tensors. OpenAI-compatible (service_kind="openai", endpoint
    "v1/completions" or "v1/chat/completions"): `inputs` is one (input_ids,
    max_new_tokens) request, or None with the generative prompt options (none given:
    DEFAULT_PROMPT; synthetic ids below the tokenizer's vocabulary size, else below
    SAFE_VOCAB_SIZE); with `streaming=True` each event's tokens are stamped;
    `ignore_eos` asks for exactly max_new_tokens. Endpoint options: see
    targets.Endpoint. Every other keyword is benchmark()'s; copies default to 1 and
    workers (requests in flight) to 1.
    """
    endpoint_options = {k: kwargs.pop(k) for k in _ENDPOINT_KEYWORDS if k in kwargs}
    endpoint, metadata = connect(url, model_name, **endpoint_options)
    kwargs = benchmarking.expand_settings(kwargs)
    kwargs.setdefault("device_type", "cpu")
    kwargs.setdefault("n_models", [1])
    kwargs.setdefault("workers_per_model", [1])
    kwargs.setdefault("model_name", endpoint.model_name)
    if metadata is None:
        _openai_prompts(inputs, kwargs)
        client: Any = OpenAIClient(
            endpoint,
            streaming=bool(kwargs.get("streaming", False)),
            tokenizer=kwargs.get("tokenizer"),
            ignore_eos=ignore_eos,
            extra_body=extra_body,
        )
        data = inputs
    else:
        if not metadata.batching:
            sizes = kwargs.get("batch_sizes")
            if sizes not in (None, 1, [1], (1,)):
                raise EndpointError(
                    f"model '{metadata.name}' does not batch (its inputs have no leading -1 "
                    f"dimension): batch_sizes must be 1, got {sizes!r}"
                )
        options = {
            "shapes": shapes,
            "string_length": string_length,
            "string_data": string_data,
            "seed": seed,
        }
        data = _triton_data(endpoint, metadata, inputs, options)
        client = KServeClient(endpoint, metadata, binary=binary_data)
    try:
        return benchmarking.benchmark(_ClientLoader(client), endpoint.url, data, **kwargs)
    finally:
        client.close()  # copies in threads used this client; processes closed theirs

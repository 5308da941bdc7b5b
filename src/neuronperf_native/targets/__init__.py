"""What a benchmark targets when it is not a model loaded in-process: a served endpoint.

`Endpoint` says where the server is and how to talk to it (perf_analyzer's options);
`kserve` speaks the KServe v2 / Triton protocol, `openai_compat` OpenAI-compatible
completions. Each gives the model copies a client callable that the engine calls like
a model, so every load mode, search, stability rule and report works unchanged; a
failed request raises engine.RequestFailed and is counted, not timed.
"""

from neuronperf_native.targets.endpoint import (
    OPENAI_ENDPOINTS,
    PROTOCOLS,
    SERVICE_KINDS,
    Endpoint,
    EndpointError,
    parse_header,
)

__all__ = [
    "OPENAI_ENDPOINTS",
    "PROTOCOLS",
    "SERVICE_KINDS",
    "Endpoint",
    "EndpointError",
    "parse_header",
]

"""OpenAI-compatible completions and chat completions, streamed (SSE) or not.

The model a copy calls is `client(input_ids, max_new_tokens)`, the generative
benchmark's calling convention, so its prompt sources feed a server as they feed a
model in-process. /v1/completions sends the token ids themselves (vLLM and most
servers take a list of ids as the prompt; with a tokenizer, the decoded text);
chat completions send text, so they need a tokenizer from a local path. With
`ignore_eos` (vLLM's extension) the server generates exactly max_new_tokens.

The engine sends the requests natively (native_model()) and stamps each piece of a
streamed answer as libcurl hands it over; once the answer is in, decode_stream() reads
its server-sent events with sseclient-py, and each event that carries tokens is an
item stamped with the arrival of the piece that completed it. Its tokens are the growth
of the server's running usage when it sends one (`stream_options.continuous_usage_stats`;
an event whose text is held back, such as part of a character, still counts), else the
local tokenizer's count of the event's text, else one per event with text. A non-200
answer, an `error` event, malformed JSON or a stream that ends without [DONE] is a
RequestFailed (counted, never timed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from neuronperf_native import _engine
from neuronperf_native.engine import NativeModel, RequestFailed
from neuronperf_native.targets._http import Connection, Connections, TransportError, http_options
from neuronperf_native.targets.endpoint import Endpoint, EndpointError

__all__ = ["OpenAIClient", "check_openai_model"]

_CACHED_REQUESTS = 4096
_JSON = ["Content-Type: application/json", "Accept: text/event-stream"]


def check_openai_model(endpoint: Endpoint) -> None:
    """Before the run: EndpointError naming the URL when the server does not answer
    within the connect timeout, naming the model when GET v1/models lists others."""
    connection = Connection(endpoint)
    try:
        response = connection.request(endpoint.path("v1/models"))
    except TransportError as error:
        raise EndpointError(f"cannot reach {endpoint.url}: {error}") from None
    finally:
        connection.close()
    if response.status != 200:
        return  # a server without the listing: the first request will tell
    try:
        names = [m["id"] for m in json.loads(response.body)["data"]]
    except (ValueError, KeyError, TypeError):
        return
    if names and endpoint.model_name not in names:
        raise EndpointError(
            f"{endpoint.url} serves no model '{endpoint.model_name}' (it serves "
            f"{', '.join(map(repr, names))})"
        )


def _sseclient() -> Any:
    try:
        import sseclient
    except ImportError:
        raise EndpointError(
            "streamed OpenAI answers are read with sseclient-py: "
            "pip install 'neuronperf-native[serving]'"
        ) from None
    return sseclient


def _load_tokenizer(path: str | None) -> Any:
    if path is None:
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


class OpenAIClient:
    """The model a copy runs: natively (native_model()), or, not streamed, one
    completion request per call on this thread's own connection."""

    def __init__(
        self,
        endpoint: Endpoint,
        streaming: bool = False,
        tokenizer: str | None = None,
        ignore_eos: bool = True,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if endpoint.service_kind != "openai":
            raise EndpointError(f"{endpoint.describe()} is not an OpenAI-compatible endpoint")
        self.endpoint = endpoint
        self.streaming = streaming
        self.tokenizer = tokenizer
        self.ignore_eos = ignore_eos
        self.extra_body = dict(extra_body or {})
        self._chat = endpoint.endpoint == "v1/chat/completions"
        if self._chat and tokenizer is None:
            raise EndpointError(
                "chat completions send text: give a tokenizer (a local path) to decode the "
                "prompts' token ids"
            )
        self._sse: Any = _sseclient() if streaming else None
        self._tokenizer = _load_tokenizer(tokenizer)
        self._url = endpoint.path(endpoint.endpoint or "")
        self._connections = Connections(endpoint)
        self._bodies: dict[tuple[int, int], tuple[Any, bytes]] = {}

    def request_body(self, input_ids: Any, max_new_tokens: int) -> bytes:
        """The JSON body of one request (encoded once per distinct prompt)."""
        key = (id(input_ids), int(max_new_tokens))
        cached = self._bodies.get(key)
        if cached is not None:
            return cached[1]
        ids = [int(i) for i in np.asarray(input_ids).reshape(-1)]
        body: dict[str, Any] = {
            "model": self.endpoint.model_name,
            "max_tokens": int(max_new_tokens),
        }
        if self._chat:
            body["messages"] = [{"role": "user", "content": self._tokenizer.decode(ids)}]
        else:
            body["prompt"] = self._tokenizer.decode(ids) if self._tokenizer else ids
        if self.ignore_eos:
            body["ignore_eos"] = True
        if self.streaming:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
        body.update(self.extra_body)
        raw = json.dumps(body, separators=(",", ":")).encode()
        if len(self._bodies) < _CACHED_REQUESTS:
            self._bodies[key] = (input_ids, raw)
        return raw

    def native_model(
        self, inputs: Sequence[tuple], input_tokens: Sequence[int] = ()
    ) -> NativeModel:
        """The engine's model of this endpoint for these (input_ids, max_new_tokens)
        requests with their prompt lengths: each body encoded once, sent round-robin by
        each worker over its own connection; streamed answers read by decode_stream."""
        if not inputs:
            raise ValueError("a served model needs inputs to send")
        counts = list(input_tokens) or [-1] * len(inputs)
        requests = [
            (self.request_body(*args), _JSON, n) for args, n in zip(inputs, counts, strict=True)
        ]
        return _engine.served_model(
            options=http_options(self.endpoint),
            url=self._url,
            requests=requests,
            answer="status" if self.streaming else "openai",
            decoder=self.decode_stream if self.streaming else None,
        )

    def __call__(self, input_ids: Any, max_new_tokens: int) -> Any:
        """One completion, not streamed: the server's count of its tokens (or None)."""
        if self.streaming:
            raise TypeError(
                "a streamed OpenAI endpoint is read by the engine itself (each chunk stamped "
                "natively): run it with a list of inputs and no preprocess_fn"
            )
        body = self.request_body(input_ids, max_new_tokens)
        try:
            response = self._connections.get().request(self._url, body, _JSON)
        except TransportError as error:
            raise RequestFailed(str(error)) from None
        if response.status != 200:
            raise RequestFailed(response.failure())
        try:
            answer = json.loads(response.body)
            usage = answer.get("usage") or {}
            answer["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise RequestFailed("malformed response: no choices") from None
        return usage.get("completion_tokens")

    def _text_tokens(self, text: str) -> int:
        if self._tokenizer is None:
            return 1
        return len(self._tokenizer.encode(text, add_special_tokens=False)) or 1

    def decode_stream(
        self, body: bytes, chunks: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """The items of a streamed answer as (at_ns, tokens): each event that carries
        tokens, stamped with the arrival of the chunk (end offset in body, at_ns) that
        completed it. RequestFailed when the stream is malformed or reports an error."""
        arrived = [0]  # the stamp of the chunk sseclient read last

        def pieces() -> Iterator[bytes]:
            start = 0
            for end, at_ns in chunks:
                arrived[0] = at_ns
                yield body[start:end]
                start = end

        items: list[tuple[int, int]] = []
        seen = 0
        continuous = False  # the server sends its running usage with each choice
        for event in self._sse.SSEClient(pieces()).events():
            data = event.data
            if data.strip() == "[DONE]":
                return items
            try:
                message = json.loads(data)
            except ValueError:
                raise RequestFailed(f"malformed event: {data[:80]!r}") from None
            if not isinstance(message, dict) or "error" in message:
                reason = message.get("error") if isinstance(message, dict) else message
                raise RequestFailed(f"error event: {str(reason)[:160]}")
            text = _choice_text(message, self._chat)
            total = (message.get("usage") or {}).get("completion_tokens")
            if not isinstance(total, int) or isinstance(total, bool):
                total = None
            continuous = continuous or (total is not None and bool(message.get("choices")))
            if total is not None and continuous:
                n, seen = max(0, total - seen), max(seen, total)  # the server's count
            elif text:
                n = self._text_tokens(text)
                seen += n
            else:
                continue
            if n:
                items.append((arrived[0], n))
        raise RequestFailed("the stream ended without [DONE]")

    def close(self) -> None:
        """Closes every worker's connection."""
        self._connections.close()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "streaming": self.streaming,
            "tokenizer": self.tokenizer,
            "ignore_eos": self.ignore_eos,
            "extra_body": self.extra_body,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


def _choice_text(message: dict[str, Any], chat: bool) -> str:
    """The text of an event's first choice ('' for usage-only or role-only events)."""
    choices: Sequence[Any] = message.get("choices") or []
    if not choices:
        return ""
    try:
        choice = choices[0]
        text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
    except AttributeError:
        raise RequestFailed("malformed event: a choice is not an object") from None
    return text or ""

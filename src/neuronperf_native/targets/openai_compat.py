"""OpenAI-compatible completions and chat completions, streamed (SSE) or not.

The model a copy calls is `client(input_ids, max_new_tokens)`, the generative
benchmark's calling convention, so its prompt sources feed a server as they feed a
model in-process. /v1/completions sends the token ids themselves (vLLM and most
servers take a list of ids as the prompt; with a tokenizer, the decoded text);
chat completions send text, so they need a tokenizer from a local path. With
`ignore_eos` (vLLM's extension) the server generates exactly max_new_tokens.

Streamed, the call returns an iterator that yields, per server-sent event that
carries tokens, that event's tokens (the engine stamps each on arrival): the growth of
the server's running usage when it sends one (`stream_options.continuous_usage_stats`;
an event whose text is held back, such as part of a character, still counts), else the
local tokenizer's count of the event's text, else one per event with text. Events are parsed by
sseclient-py; a non-200 answer, an `error` event, malformed JSON or a stream that
ends without [DONE] raises RequestFailed (counted, never timed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from neuronperf_native.engine import RequestFailed
from neuronperf_native.targets._curl import Connection, Connections, TransportError
from neuronperf_native.targets.endpoint import Endpoint, EndpointError

__all__ = ["OpenAIClient", "check_openai_model"]

_CACHED_REQUESTS = 4096
_JSON = ["Content-Type: application/json", "Accept: text/event-stream"]
#: Token lists handed to the engine, one per count (an item's length is its tokens).
_TOKENS = [[0] * n for n in range(64)]


def _tokens(n: int) -> list[int]:
    return _TOKENS[n] if n < len(_TOKENS) else [0] * n


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


def _load_tokenizer(path: str | None) -> Any:
    if path is None:
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


class OpenAIClient:
    """One completion request per call on this worker's own connection."""

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

    def __call__(self, input_ids: Any, max_new_tokens: int) -> Any:
        body = self.request_body(input_ids, max_new_tokens)
        connection = self._connections.get()
        if self.streaming:
            return self._events(connection.stream(self._url, body, _JSON))
        try:
            response = connection.request(self._url, body, _JSON)
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

    def _events(self, chunks: Iterator[bytes]) -> Iterator[list[int]]:
        """Yields each event's tokens; RequestFailed on a failure anywhere in the stream."""
        import sseclient

        seen = 0
        continuous = False  # the server sends its running usage with each choice
        done = False
        try:
            for event in sseclient.SSEClient(chunks).events():
                data = event.data
                if data.strip() == "[DONE]":
                    done = True
                    break
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
                if n == 0:
                    continue
                yield _tokens(n)
        except TransportError as error:
            raise RequestFailed(str(error)) from None
        if not done:
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

"""Ready-made streaming for the generative models people have: each a callable
``model(input_ids, max_new_tokens)`` returning an iterator of token ids (ints), what a
streamed benchmark (``streaming=True``) calls.

- HFGenerateStream: a Hugging Face causal LM's own ``generate`` with a streamer; generate
  runs on a helper thread and each token id is handed over as it is produced.
- HFDecodeLoop: a prefill then a decode loop with the KV cache, greedy, one forward per
  token, in this thread (no helper thread: the cleanest TTFT/ITL of the model itself).
- NeuronDecodeLoop: the shape of Neuron's compiled LLMs, whose KV cache lives on the
  device: context encoding of the prompt, then token generation one position at a
  time. style="nxdi" calls an NxD Inference model as ``model(input_ids=,
  attention_mask=, position_ids=, seq_ids=)`` (logits in ``.logits``); style="tnx" a
  transformers-neuronx model as ``model.forward(input_ids, cache_ids=)`` (logits of the
  last position).

All decode greedily (argmax) and ignore EOS, so a request streams exactly
max_new_tokens tokens (benchmarks want fixed output lengths, as vLLM's ignore_eos).
torch is imported on first use.
"""

from __future__ import annotations

import inspect
import queue
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["HFDecodeLoop", "HFGenerateStream", "NeuronDecodeLoop"]


def _torch() -> Any:
    import torch

    return torch


def _prompt(input_ids: Any) -> Any:
    """The prompt as a (1, n) int64 tensor (from a tensor, numpy array or list)."""
    torch = _torch()
    ids = torch.as_tensor(input_ids, dtype=torch.long)
    return ids.reshape(1, -1) if ids.dim() < 2 else ids


def _greedy(logits: Any) -> Any:
    """The next token of each sequence, shaped (batch, 1)."""
    return logits.argmax(dim=-1, keepdim=True)


class _TokenQueue:
    """A transformers streamer (put/end) that queues each generated token id; the
    prompt (the first put) is skipped."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.queue.put(token)

    def end(self) -> None:
        self.queue.put(None)


class HFGenerateStream:
    """Streams ``model.generate(input_ids, max_new_tokens=..., streamer=...)``: generate
    runs on a helper thread (it releases the GIL inside torch), tokens come through a
    queue as the streamer receives them. An exception in generate is raised from the
    stream. generate_kwargs go to every generate call (greedy, no EOS stop by default)."""

    def __init__(self, model: Any, **generate_kwargs: Any) -> None:
        if not callable(getattr(model, "generate", None)):
            raise TypeError(f"model must have a generate() method, got {type(model).__name__}")
        self.model = model
        config = getattr(model, "generation_config", None)
        pad = getattr(config, "pad_token_id", None)
        if pad is None:
            pad = getattr(config, "eos_token_id", None)
        if isinstance(pad, list):
            pad = pad[0]
        defaults: dict[str, Any] = {
            "do_sample": False,
            "pad_token_id": pad if pad is not None else 0,
        }
        defaults["eos_token_id"] = None
        self.generate_kwargs = {**defaults, **generate_kwargs}

    def __call__(self, input_ids: Any, max_new_tokens: int) -> Iterator[int]:
        torch = _torch()
        ids = _prompt(input_ids)
        streamer = _TokenQueue()
        failure: list[BaseException] = []

        def generate() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(
                        ids,
                        attention_mask=torch.ones_like(ids),
                        max_new_tokens=int(max_new_tokens),
                        min_new_tokens=int(max_new_tokens),
                        streamer=streamer,
                        **self.generate_kwargs,
                    )
            except BaseException as error:
                failure.append(error)
                streamer.end()

        worker = threading.Thread(target=generate, name="npf-hf-generate", daemon=True)
        worker.start()
        return self._tokens(streamer, worker, failure)

    @staticmethod
    def _tokens(
        streamer: _TokenQueue, worker: threading.Thread, failure: list[BaseException]
    ) -> Iterator[int]:
        try:
            while (token := streamer.queue.get()) is not None:
                yield token
        finally:
            worker.join()
        if failure:
            raise failure[0]


class HFDecodeLoop:
    """Prefill + decode loop with the KV cache on a Hugging Face causal LM: one forward
    over the prompt, then one forward per token, each yielded as soon as it is chosen."""

    def __init__(self, model: Any) -> None:
        if not callable(model):
            raise TypeError(f"model must be a causal LM module, got {type(model).__name__}")
        self.model = model
        forward = getattr(model, "forward", model)
        # transformers 5 names the cache argument `cache`, earlier ones `past_key_values`.
        self._cache_arg = (
            "cache" if "cache" in inspect.signature(forward).parameters else ("past_key_values")
        )

    def __call__(self, input_ids: Any, max_new_tokens: int) -> Iterator[int]:
        torch = _torch()
        ids = _prompt(input_ids)
        with torch.inference_mode():
            out = self.model(input_ids=ids, use_cache=True)
            for step in range(int(max_new_tokens)):
                token = _greedy(out.logits[:, -1, :])
                yield int(token[0, 0])
                if step + 1 == max_new_tokens:
                    return
                cache = out.get("cache", out.get("past_key_values"))
                out = self.model(input_ids=token, use_cache=True, **{self._cache_arg: cache})


class NeuronDecodeLoop:
    """Context encoding, then token generation, on a model that keeps its KV cache
    itself (Neuron's compiled LLMs): style "nxdi" (NxD Inference) or "tnx"
    (transformers-neuronx); see the module docstring for the calls."""

    STYLES = ("nxdi", "tnx")

    def __init__(self, model: Any, style: str = "nxdi") -> None:
        if style not in self.STYLES:
            raise ValueError(f"style must be one of {', '.join(self.STYLES)}, got {style!r}")
        if not callable(model):
            raise TypeError(f"model must be callable, got {type(model).__name__}")
        self.model = model
        self.style = style

    def _step(self, ids: Any, start: int) -> Any:
        """Logits of the last position after feeding `ids` from position `start`."""
        torch = _torch()
        n = ids.shape[1]
        positions = torch.arange(start, start + n, dtype=torch.long)
        if self.style == "tnx":
            return self.model.forward(ids, cache_ids=positions.to(torch.int32))
        out = self.model(
            input_ids=ids,
            attention_mask=torch.ones((1, start + n), dtype=torch.long),
            position_ids=positions.reshape(1, -1),
            seq_ids=torch.zeros(1, dtype=torch.int32),
        )
        return out.logits[:, -1, :]

    def __call__(self, input_ids: Any, max_new_tokens: int) -> Iterator[int]:
        torch = _torch()
        ids = _prompt(input_ids)
        position = ids.shape[1]
        with torch.inference_mode():
            logits = self._step(ids, 0)  # context encoding
            for step in range(int(max_new_tokens)):
                token = _greedy(logits)
                yield int(token[0, 0])
                if step + 1 == max_new_tokens:
                    return
                logits = self._step(token, position)  # token generation
                position += 1

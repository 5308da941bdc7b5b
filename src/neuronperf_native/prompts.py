"""Prompts of a generative benchmark: each request's input token ids and tokens to generate.

Sources (AIPerf/GenAI-Perf's option names): synthetic lengths (input and output tokens
with a mean and stddev, seeded, ids drawn uniformly from a vocabulary), a ShareGPT JSON
file (each conversation's first turn is the prompt, its answer's length the output),
or JSON lines with ``prompt`` (text) or ``input_ids`` and ``output_tokens``. Text needs a
tokenizer from a local path (transformers.AutoTokenizer; never downloaded). The model
is called as ``model(input_ids, max_new_tokens)`` unless request_fn(input_ids,
max_new_tokens) maps a prompt to the call's arguments (once per prompt, untimed).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["PromptError", "PromptOptions", "Prompts"]

# The largest prompt or output length accepted (tokens): beyond any model's context.
_MAX_TOKENS = 10_000_000
# The most prompts, the most tokens all prompts may hold together (int64 ids: 1 GiB),
# and the largest prompt file (bytes; a file growing meanwhile is cut there): checked
# before anything is drawn or read.
_MAX_PROMPTS = 1_000_000
_MAX_TOTAL_TOKENS = 2**27
_MAX_FILE_CHARS = 2**30


class PromptError(ValueError):
    """A prompt source that cannot be used: names the option or file and the cause."""


@dataclasses.dataclass(frozen=True)
class Prompts:
    """The prompts requests cycle through: token ids (int64 arrays) and, per prompt, the
    tokens to generate. Picklable (it travels to fresh-interpreter copies)."""

    input_ids: tuple[np.ndarray, ...]
    max_new_tokens: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def input_tokens(self) -> list[int]:
        """Each prompt's length in tokens."""
        return [len(ids) for ids in self.input_ids]

    def rotated(self, start: int) -> Prompts:
        """The same prompts from `start` on (wrapping): each copy starts elsewhere."""
        k = start % len(self)
        return Prompts(
            self.input_ids[k:] + self.input_ids[:k],
            self.max_new_tokens[k:] + self.max_new_tokens[:k],
        )

    def arguments(self, request_fn: Callable[..., Any] | None = None) -> list[tuple]:
        """The engine inputs: (input_ids, max_new_tokens) per prompt, or what
        request_fn(input_ids, max_new_tokens) returns (a tuple is the arguments)."""
        pairs = zip(self.input_ids, self.max_new_tokens, strict=True)
        if request_fn is None:
            return [(ids, n) for ids, n in pairs]
        out = []
        for ids, n in pairs:
            args = request_fn(ids, n)
            out.append(args if isinstance(args, tuple) else (args,))
        return out


def _count(name: str, value: Any, minimum: int, maximum: int = _MAX_TOKENS) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not minimum <= int(value) <= maximum:
        raise ValueError(f"{name} must be in [{minimum}, {maximum:,}], got {value!r}")
    return int(value)


def _stddev(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0 <= float(value) <= _MAX_TOKENS):
        raise ValueError(f"{name} must be a number in [0, {_MAX_TOKENS:,}], got {value!r}")
    return float(value)


def _check_file(path: str) -> None:
    """A prompt file that can be read whole: a regular file within _MAX_FILE_CHARS bytes."""
    if not os.path.exists(path):
        raise PromptError(f"input_file {path!r}: no such file")
    if not os.path.isfile(path):
        raise PromptError(f"input_file {path!r}: not a regular file")
    if os.path.getsize(path) > _MAX_FILE_CHARS:
        raise PromptError(
            f"input_file {path!r}: larger than {_MAX_FILE_CHARS:,} bytes, the most a prompt "
            "file may be"
        )


def _path(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise TypeError(f"{name} must be a path, got {value!r}")
    return os.fspath(value)


@dataclasses.dataclass(frozen=True)
class PromptOptions:
    """Where the prompts come from (validated on construction, errors naming the option).

    Synthetic when synthetic_input_tokens_mean is given; from input_file otherwise
    (when given). output_tokens_mean/stddev set every prompt's max_new_tokens (drawn,
    seeded), overriding a file's. num_prompts: how many synthetic prompts (requests
    cycle through them); seed: of the draws; vocab_size: synthetic ids are in [0, it).
    """

    synthetic_input_tokens_mean: int | None = None
    synthetic_input_tokens_stddev: float = 0.0
    output_tokens_mean: int | None = None
    output_tokens_stddev: float = 0.0
    num_prompts: int = 100
    vocab_size: int = 32_000
    prompt_seed: int = 0
    input_file: str | None = None
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.synthetic_input_tokens_mean is not None:
            set_(
                self,
                "synthetic_input_tokens_mean",
                _count("synthetic_input_tokens_mean", self.synthetic_input_tokens_mean, 1),
            )
        if self.output_tokens_mean is not None:
            set_(
                self, "output_tokens_mean", _count("output_tokens_mean", self.output_tokens_mean, 1)
            )
        for name in ("synthetic_input_tokens_stddev", "output_tokens_stddev"):
            set_(self, name, _stddev(name, getattr(self, name)))
        set_(self, "num_prompts", _count("num_prompts", self.num_prompts, 1, _MAX_PROMPTS))
        set_(self, "vocab_size", _count("vocab_size", self.vocab_size, 1))
        if (
            isinstance(self.prompt_seed, bool)
            or not isinstance(self.prompt_seed, numbers.Integral)
            or not 0 <= self.prompt_seed < 2**32
        ):
            raise ValueError(f"prompt_seed must be an int in [0, 2**32), got {self.prompt_seed!r}")
        set_(self, "input_file", _path("input_file", self.input_file))
        set_(self, "tokenizer", _path("tokenizer", self.tokenizer))
        synthetic = self.synthetic_input_tokens_mean is not None
        if synthetic and self.input_file is not None:
            raise ValueError("give synthetic_input_tokens_mean or input_file, not both")
        if not synthetic:
            given = [
                name
                for name, unset in (
                    ("synthetic_input_tokens_stddev", self.synthetic_input_tokens_stddev == 0),
                    ("num_prompts", self.num_prompts == 100),
                    ("vocab_size", self.vocab_size == 32_000),
                )
                if not unset
            ]
            if given:
                raise ValueError(
                    f"{given[0]} shapes synthetic prompts: it needs synthetic_input_tokens_mean"
                )
        if self.output_tokens_stddev and self.output_tokens_mean is None:
            raise ValueError("output_tokens_stddev needs output_tokens_mean")
        if synthetic and self.output_tokens_mean is None:
            raise ValueError("synthetic prompts need output_tokens_mean (the tokens to generate)")
        if synthetic and self.num_prompts * self.synthetic_input_tokens_mean > _MAX_TOTAL_TOKENS:
            raise ValueError(
                f"num_prompts {self.num_prompts:,} x synthetic_input_tokens_mean "
                f"{self.synthetic_input_tokens_mean:,} is more than {_MAX_TOTAL_TOKENS:,} "
                "tokens, the most all prompts may hold: lower one of them"
            )
        if self.tokenizer is not None and not os.path.isdir(self.tokenizer):
            raise PromptError(
                f"tokenizer {self.tokenizer!r} is not a local folder (tokenizers are never "
                "downloaded)"
            )
        if self.input_file is not None:
            _check_file(self.input_file)
        if not self.active and self.output_tokens_mean is not None:
            raise ValueError(
                "output_tokens_mean needs prompts: synthetic_input_tokens_mean or input_file"
            )

    @property
    def active(self) -> bool:
        """Whether these options define prompts (synthetic, or a file)."""
        return self.synthetic_input_tokens_mean is not None or self.input_file is not None

    def build(self) -> Prompts:
        """The prompts (reads input_file and loads the tokenizer when needed)."""
        rng = np.random.default_rng(self.prompt_seed)
        if self.synthetic_input_tokens_mean is not None:
            n = self.num_prompts
            lengths = _lengths(
                rng, self.synthetic_input_tokens_mean, self.synthetic_input_tokens_stddev, n
            )
            if int(lengths.sum()) > _MAX_TOTAL_TOKENS:
                raise PromptError(
                    f"synthetic_input_tokens_stddev {self.synthetic_input_tokens_stddev:g} drew "
                    f"{int(lengths.sum()):,} prompt tokens, more than {_MAX_TOTAL_TOKENS:,}, the "
                    "most all prompts may hold: lower it"
                )
            ids = tuple(rng.integers(0, self.vocab_size, size=k, dtype=np.int64) for k in lengths)
            outputs: list[int | None] = [None] * n
        else:
            assert self.input_file is not None
            ids, outputs = _read_file(self.input_file, self.tokenizer)
        if self.output_tokens_mean is not None:
            drawn = _lengths(rng, self.output_tokens_mean, self.output_tokens_stddev, len(ids))
            outputs = [int(k) for k in drawn]
        missing = [i for i, k in enumerate(outputs) if k is None]
        if missing:
            raise PromptError(
                f"input_file {self.input_file}: prompt {missing[0]} has no output length "
                "(give output_tokens in the file, or output_tokens_mean)"
            )
        return Prompts(tuple(ids), tuple(int(k) for k in outputs))  # type: ignore[arg-type]


def _lengths(rng: np.random.Generator, mean: int, stddev: float, n: int) -> np.ndarray:
    """n lengths ~ round(Normal(mean, stddev)), at least 1."""
    if stddev == 0:
        return np.full(n, mean, dtype=np.int64)
    return np.maximum(1, np.rint(rng.normal(mean, stddev, size=n))).astype(np.int64)


def _load_tokenizer(path: str | None, where: str) -> Any:
    if path is None:
        raise PromptError(
            f"{where} holds text prompts: they need tokenizer (a local folder holding one)"
        )
    try:
        from transformers import AutoTokenizer  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise PromptError(
            "text prompts need the transformers package (pip install transformers)"
        ) from None
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise PromptError(
            f"tokenizer {path!r}: cannot load it: {str(error).splitlines()[0]}"
        ) from None


def _read_file(
    path: str, tokenizer_path: str | None
) -> tuple[tuple[np.ndarray, ...], list[int | None]]:
    """(token ids, output lengths or None) of a ShareGPT JSON file or a JSON-lines file."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(_MAX_FILE_CHARS + 1)
    except (OSError, UnicodeDecodeError) as error:
        raise PromptError(f"input_file {path}: cannot read: {error}") from None
    if len(text) > _MAX_FILE_CHARS:
        raise PromptError(
            f"input_file {path}: longer than {_MAX_FILE_CHARS:,} characters, the most a "
            "prompt file may be"
        )
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except ValueError as error:
            raise PromptError(f"input_file {path}: not valid JSON: {error}") from None
        entries = _sharegpt_entries(path, records)
    else:
        entries = _jsonl_entries(path, text)
    if not entries:
        raise PromptError(f"input_file {path}: holds no prompts")
    tokenizer: Any = None
    ids: list[np.ndarray] = []
    outputs: list[int | None] = []
    for prompt, output in entries:
        if tokenizer is None and (isinstance(prompt, str) or isinstance(output, str)):
            tokenizer = _load_tokenizer(tokenizer_path, f"input_file {path}")
        if isinstance(prompt, str):
            prompt = tokenizer.encode(prompt)
        if isinstance(output, str):
            output = len(tokenizer.encode(output, add_special_tokens=False))
        ids.append(np.asarray(prompt, dtype=np.int64))
        outputs.append(output)
    return tuple(ids), outputs


def _sharegpt_entries(path: str, records: Any) -> list[tuple[Any, Any]]:
    """(prompt text, answer text) of each conversation with at least two turns (vLLM's
    reading of ShareGPT: the first turn is the prompt, the second the reference output)."""
    entries = []
    for i, record in enumerate(records):
        turns = record.get("conversations") if isinstance(record, dict) else None
        if not isinstance(turns, list):
            raise PromptError(
                f"input_file {path}: entry {i} has no 'conversations' list (ShareGPT format)"
            )
        if len(turns) < 2:
            continue
        texts = [turn.get("value") if isinstance(turn, dict) else None for turn in turns[:2]]
        if not all(isinstance(t, str) for t in texts):
            raise PromptError(f"input_file {path}: entry {i}: each turn needs a 'value' string")
        if texts[0] and texts[1]:
            entries.append((texts[0], texts[1]))
    return entries


def _jsonl_entries(path: str, text: str) -> list[tuple[Any, int | None]]:
    """(prompt text or ids, output tokens or None) per line: {"prompt" or "input_ids",
    "output_tokens"}."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"input_file {path} line {number}"
        try:
            record = json.loads(line)
        except ValueError as error:
            raise PromptError(f"{where}: not JSON: {error}") from None
        if not isinstance(record, dict):
            raise PromptError(f"{where}: expected an object with 'prompt' or 'input_ids'")
        has_text, has_ids = "prompt" in record, "input_ids" in record
        if has_text == has_ids:
            raise PromptError(f"{where}: give 'prompt' (text) or 'input_ids', exactly one")
        prompt = record["prompt"] if has_text else record["input_ids"]
        if has_text and not isinstance(prompt, str):
            raise PromptError(f"{where}: 'prompt' must be a string")
        if has_ids and not (
            isinstance(prompt, list)
            and prompt
            and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in prompt)
        ):
            raise PromptError(
                f"{where}: 'input_ids' must be a non-empty list of token ids (ints >= 0)"
            )
        output = record.get("output_tokens")
        if output is not None and (
            isinstance(output, bool) or not isinstance(output, int) or output < 1
        ):
            raise PromptError(f"{where}: 'output_tokens' must be an int >= 1, got {output!r}")
        entries.append((prompt, output))
    return entries

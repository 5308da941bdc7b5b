"""A tiny Llama with random weights and a tokenizer trained here: no download.

    python examples/tiny_llama.py OUT_DIR [--seed N] [--hub-cache DIR]

writes a folder that transformers (AutoModelForCausalLM / AutoTokenizer) and vLLM
(`vllm serve OUT_DIR`) load: config.json and model.safetensors of a 2-layer
LlamaForCausalLM (hidden size 256, 4 heads of 64, vocabulary of the tokenizer), and a
byte-level BPE tokenizer trained on generated text, with a chat template so that
chat completions work. Its output is noise, which is all a benchmark needs: token
counts, timing, a server that answers. `--hub-cache DIR` also lays the folder out in
the Hugging Face cache layout as the model `local/tiny` (for tools that load a
tokenizer only by hub name, with HF_HUB_OFFLINE=1 and HF_HUB_CACHE=DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from pathlib import Path

#: Tokenizer vocabulary size (the model's embedding size follows it).
VOCAB_SIZE = 2048
#: Name of the model in the hub cache layout.
HUB_NAME = "local/tiny"
#: A chat template: each message on its own line after its role, then the answer's role.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)
_SPECIAL = ("<s>", "</s>", "<unk>", "<pad>")
_WORDS = [
    "the",
    "model",
    "serves",
    "tokens",
    "fast",
    "slow",
    "first",
    "last",
    "time",
    "latency",
    "request",
    "server",
    "client",
    "batch",
    "copy",
    "engine",
    "stream",
    "chunk",
    "rate",
    "load",
    "queue",
    "wait",
    "send",
    "answer",
    "prompt",
    "output",
    "input",
    "core",
    "memory",
    "cache",
    "layer",
    "head",
    "weight",
    "value",
    "key",
    "query",
    "sample",
    "seed",
    "random",
    "benchmark",
    "percentile",
    "median",
    "throughput",
    "second",
    "millisecond",
    "token",
    "word",
    "line",
    "text",
    "number",
]


def _corpus(seed: int, lines: int = 4000) -> list[str]:
    """Seeded sentences over a small vocabulary, with digits and punctuation, so the
    tokenizer learns merges for common words and still covers any text byte by byte."""
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 16))]
        if rng.random() < 0.3:
            words.append(str(rng.randint(0, 9999)))
        out.append(" ".join(words).capitalize() + rng.choice(".!?,;:"))
    return out


def build_tokenizer(out_dir: Path, seed: int = 0):
    """Trains a byte-level BPE tokenizer on generated text and saves it in out_dir as
    transformers' fast tokenizer files; returns the tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(_SPECIAL),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(out_dir))
    return fast


def build(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Writes the tiny Llama and its tokenizer to out_dir (created); returns its path."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(path, seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.save_pretrained(str(path), safe_serialization=True)
    GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ).save_pretrained(str(path))
    return path


def to_hub_cache(model_dir: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """Copies model_dir into cache_dir in the Hugging Face cache layout as HUB_NAME
    (models--local--tiny/snapshots/<40 zeros>/ and refs/main); returns the snapshot."""
    revision = "0" * 40
    repo = Path(cache_dir) / ("models--" + HUB_NAME.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    if snapshot.exists():
        shutil.rmtree(snapshot)
    shutil.copytree(model_dir, snapshot)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder to write (created)")
    parser.add_argument("--seed", type=int, default=0, help="weights and corpus seed")
    parser.add_argument("--hub-cache", metavar="DIR", help=f"also lay it out as {HUB_NAME}")
    args = parser.parse_args()
    path = build(args.out_dir, args.seed)
    config = json.loads((path / "config.json").read_text())
    print(f"wrote {path}: {config['architectures'][0]}, vocabulary {config['vocab_size']}")
    if args.hub_cache:
        print(f"hub cache: {to_hub_cache(path, args.hub_cache)}")


if __name__ == "__main__":
    main()

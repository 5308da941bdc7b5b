"""Stream the tiny Llama of examples/tiny_llama.py and read its TTFT, ITL, TPOT, tokens/s
and goodput. Build it first (random weights, a tokenizer trained here, no download):
python examples/tiny_llama.py tiny. TinyLlama loads the folder TINY_LLAMA names (default
./tiny) and is also a CLI model: neuronperf-native bench examples/generative.py:TinyLlama"""

import os
import sys

from transformers import AutoModelForCausalLM

import neuronperf_native as npf
from neuronperf_native.generative import HFDecodeLoop

MODEL_DIR = os.environ.get("TINY_LLAMA", "tiny")


class TinyLlama:
    """model(input_ids, max_new_tokens) -> an iterator of token ids (prefill + KV-cache
    decode loop); HFGenerateStream(model) would stream generate() itself."""

    def __init__(self) -> None:
        model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, local_files_only=True)
        self.stream = HFDecodeLoop(model.eval())

    def __call__(self, input_ids, max_new_tokens):
        return self.stream(input_ids, max_new_tokens)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    reports = npf.cpu.benchmark(
        TinyLlama,
        None,  # the prompts are the inputs
        streaming=True,
        synthetic_input_tokens_mean=64,
        output_tokens_mean=32,
        vocab_size=1000,  # ids below the tokenizer's ~2,000
        goodput={"ttft": 200, "tpot": 50},  # ms: requests meeting both count in goodput
        n_models=[1],
        workers_per_model=[1, 2],
        duration=seconds,
        multiprocess=False,
    )
    npf.print_reports(reports)

"""Stream a tiny Llama (random weights from a config: nothing downloaded) and read its
TTFT, ITL, TPOT, tokens/s and goodput. The class is also a CLI model:
neuronperf-native bench examples/generative.py:TinyLlama --streaming ..."""

import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

import neuronperf_native as npf
from neuronperf_native.generative import HFDecodeLoop


class TinyLlama:
    """model(input_ids, max_new_tokens) -> an iterator of token ids (prefill + KV-cache
    decode loop); swap in HFGenerateStream(model) to stream generate() itself."""

    def __init__(self) -> None:
        config = LlamaConfig(
            vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        )  # fmt: skip
        torch.manual_seed(0)
        self.stream = HFDecodeLoop(LlamaForCausalLM(config).eval())

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
        vocab_size=512,
        goodput={"ttft": 200, "tpot": 50},  # ms: requests meeting both count in goodput
        n_models=[1],
        workers_per_model=[1, 2],
        duration=seconds,
        multiprocess=False,
    )
    npf.print_reports(reports)

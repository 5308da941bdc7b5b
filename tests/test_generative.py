"""Ready-made streams (generative.py) on a tiny Llama built from a config with random
weights (no download), and Neuron's context-encoding/token-generation shape on stand-ins."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from neuronperf_native import engine  # noqa: E402
from neuronperf_native.generative import HFDecodeLoop, HFGenerateStream, NeuronDecodeLoop  # noqa: E402


def tiny_llama(seed=0):
    config = transformers.LlamaConfig(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(config).eval()


PROMPT = np.array([5, 17, 33, 2, 90, 41], dtype=np.int64)


def greedy_reference(model, n):
    """The greedy continuation by generate() itself, no streaming, EOS not special (the
    adapters stream fixed lengths, as vLLM's ignore_eos)."""
    ids = torch.as_tensor(PROMPT)[None]
    with torch.inference_mode():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=n,
            do_sample=False,
            pad_token_id=0,
            eos_token_id=None,
        )
    return out[0, len(PROMPT) :].tolist()


class StandInNxdiModel:
    """Stand-in for an NxD Inference causal LM (no Neuron here): keeps its KV cache
    itself; a call with several tokens is context encoding (the cache restarts), one
    token is token generation at position_ids."""

    def __init__(self, model):
        self.model = model
        self.cache = None
        self.calls = []

    def __call__(self, input_ids, attention_mask, position_ids, seq_ids):
        assert attention_mask.shape[1] == int(position_ids[0, -1]) + 1
        self.calls.append(
            ("context" if input_ids.shape[1] > 1 else "token", int(position_ids[0, 0]))
        )
        if input_ids.shape[1] > 1:
            self.cache = None
        out = self.model(input_ids=input_ids, use_cache=True, **self._cache())
        self.cache = out.get("cache", out.get("past_key_values"))
        return out

    def _cache(self):
        return {} if self.cache is None else {HFDecodeLoop(self.model)._cache_arg: self.cache}


class StandInTnxModel(StandInNxdiModel):
    """Stand-in for a transformers-neuronx model: forward(input_ids, cache_ids) returns
    the last position's logits."""

    def forward(self, input_ids, cache_ids):
        positions = cache_ids.to(torch.long).reshape(1, -1)
        mask = torch.ones((1, int(positions[0, -1]) + 1), dtype=torch.long)
        return super().__call__(input_ids, mask, positions, None).logits[:, -1, :]


def test_decode_loop_streams_the_greedy_continuation():
    model = tiny_llama()
    expected = greedy_reference(model, 7)
    assert list(HFDecodeLoop(model)(PROMPT, 7)) == expected


def test_generate_with_a_streamer_streams_the_same_tokens():
    model = tiny_llama()
    assert list(HFGenerateStream(model)(PROMPT, 7)) == greedy_reference(model, 7)


@pytest.mark.parametrize(
    ("style", "stand_in"), [("nxdi", StandInNxdiModel), ("tnx", StandInTnxModel)]
)
def test_neuron_shape_encodes_the_context_then_generates_token_by_token(style, stand_in):
    model = tiny_llama()
    neuron = stand_in(model)
    tokens = list(NeuronDecodeLoop(neuron, style=style)(PROMPT, 5))
    assert tokens == greedy_reference(model, 5)
    n = len(PROMPT)
    assert neuron.calls == [("context", 0)] + [("token", n + k) for k in range(4)]


def test_a_failing_generate_is_raised_from_the_stream():
    class Broken:
        generation_config = None

        def generate(self, *args, **kwargs):
            raise RuntimeError("out of memory on the device")

    with pytest.raises(RuntimeError, match="out of memory"):
        list(HFGenerateStream(Broken())(PROMPT, 3))


@pytest.mark.parametrize("adapter", [HFDecodeLoop, HFGenerateStream])
def test_the_engine_streams_a_tiny_llama(adapter):
    model = adapter(tiny_llama())
    prompts = [(PROMPT, 6), (PROMPT[:3], 4)]
    r = engine.run(
        model, prompts, workers=2, max_iterations=6, stream=True, input_tokens=[len(PROMPT), 3]
    )
    assert r.status == "finished", r.error
    t = r.tokens
    assert t.requests == 6
    assert t.output_tokens.min >= 4 and t.output_tokens.max <= 6
    assert t.output_tokens_total == 6 * 3 + 4 * 3  # each worker alternates the two prompts
    assert t.ttft.count == 6 and t.itl.count == t.output_tokens_total - 6


def test_bad_adapter_arguments():
    with pytest.raises(TypeError, match="generate"):
        HFGenerateStream(object())
    with pytest.raises(ValueError, match="style must be one of nxdi, tnx"):
        NeuronDecodeLoop(tiny_llama(), style="neuron")

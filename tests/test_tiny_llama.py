"""examples/tiny_llama.py builds a Llama and tokenizer that transformers loads and runs,
with no download: the served-model benchmarks and the generative tests use it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tiny_llama.py"


def _example():
    spec = importlib.util.spec_from_file_location("tiny_llama", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _example().build(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def test_transformers_loads_and_generates_exactly_the_tokens_asked(tiny: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny)
    config = json.loads((tiny / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["vocab_size"] == len(tokenizer)
    ids = tokenizer("The model serves tokens fast.", return_tensors="pt").input_ids
    assert tokenizer.decode(ids[0]) == "The model serves tokens fast."  # byte-level: lossless
    with torch.no_grad():
        out = model.generate(
            ids, max_new_tokens=12, min_new_tokens=12, do_sample=False, pad_token_id=0
        )
    assert out.shape == (1, ids.shape[1] + 12)


def test_the_tokenizer_covers_any_text_and_has_a_chat_template(tiny: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    text = "Ünïcode, 😀 and tabs\tall round-trip"
    assert tokenizer.decode(tokenizer(text).input_ids) == text
    assert tokenizer.unk_token_id not in tokenizer(text).input_ids
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "user: hi\nassistant: "


def test_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    module = _example()
    a = module.build_tokenizer(tmp_path / "a", seed=3)
    b = module.build_tokenizer(tmp_path / "b", seed=3)
    assert a.get_vocab() == b.get_vocab()
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (
        tmp_path / "b" / "tokenizer.json"
    ).read_bytes()


def test_the_hub_cache_layout_is_what_offline_loaders_read(tiny: Path, tmp_path: Path) -> None:
    snapshot = _example().to_hub_cache(tiny, tmp_path)
    repo = tmp_path / "models--local--tiny"
    revision = (repo / "refs" / "main").read_text()
    assert snapshot == repo / "snapshots" / revision and len(revision) == 40
    assert (snapshot / "tokenizer.json").read_bytes() == (tiny / "tokenizer.json").read_bytes()
    from transformers import AutoTokenizer

    by_name = AutoTokenizer.from_pretrained("local/tiny", cache_dir=tmp_path, local_files_only=True)
    assert by_name.get_vocab() == AutoTokenizer.from_pretrained(tiny).get_vocab()

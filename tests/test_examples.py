"""The code examples of the README and the docs pages run (the pipeline example is
examples/torch_pipeline.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "torch_pipeline.py"


def _block_after(page: str, marker: str) -> str:
    """The first ```python block of ``page`` (README.md, docs/api.md ...) after the first
    line naming ``marker``."""
    text = (ROOT / page).read_text()
    start = text.index(marker)
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert match is not None, f"no python block after {marker!r} in {page}"
    return match.group(1)


def test_the_pipeline_example_of_the_api_page_is_the_example_file():
    assert _block_after("docs/api.md", "examples/torch_pipeline.py") == EXAMPLE.read_text()


def test_the_readme_first_benchmark_runs(tmp_path):
    block = _block_after("README.md", "## A first benchmark")
    assert "duration=5)" in block
    script = block.replace("duration=5)", "duration=0.3, verbosity=0)")
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.strip().splitlines()
    assert header.split()[:3] == ["throughput_avg", "latency_ms_p50", "latency_ms_p99"]
    assert len(rows) == 4  # batch sizes 1 and 8 x 1 and 2 workers, as the README says
    (saved,) = tmp_path.glob("Model.results-*.json")
    assert [r["status"] for r in json.loads(saved.read_text())] == ["finished"] * 4


def test_torch_pipeline_example_runs(tmp_path):
    pytest.importorskip("torch")
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "0.2"],  # 0.2 s per configuration instead of 5
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    (index_file,) = tmp_path.glob("mlp*.json")
    configs = json.loads(index_file.read_text())["model_configs"]
    assert [(c["batch_size"], c["status"]) for c in configs] == [
        (1, "finished"),
        (2, "finished"),
        (4, "finished"),
    ]
    header, *rows = out.stdout.strip().splitlines()
    assert header.split()[:2] == ["throughput_avg", "latency_ms_p50"]
    cells = [row.split() for row in rows]
    columns = header.split()
    batch, workers = columns.index("batch_size"), columns.index("workers_per_model")
    assert sorted((int(c[batch]), int(c[workers])) for c in cells) == [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
        (4, 1),
        (4, 2),
    ]


def test_stateful_sequences_example_runs():
    """The sequence example on the engine (docs/input-data.md): a model that fails on any step out
    of order, interleaved, or without its start flag plays for 0.3 s."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "stateful_sequences.py"), "0.3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    completed = int(re.search(r"sequences completed: (\d+)", out.stdout).group(1))
    assert completed > 0
    still_open = int(re.search(r"still open at the end: (\d+)", lines[-1]).group(1))
    assert still_open <= 3  # one per worker at most: every other sequence was ended


def test_readme_sequences_example_runs(tmp_path):
    streams = [
        [{"INPUT0": [0.1 * s + 0.01 * k] * 8} for k in range(n)] for s, n in enumerate([3, 5, 8])
    ]
    (tmp_path / "streams.json").write_text(json.dumps({"data": streams}))
    block = _block_after("docs/input-data.md", "## Sequences (stateful models)")
    assert "duration=5," in block
    script = block.replace("duration=5,", "duration=0.5, verbosity=0,")
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    completed, p99_ms = out.stdout.split()
    assert int(completed) > 0 and float(p99_ms) > 0


GENERATIVE = ROOT / "examples" / "generative.py"


def test_the_generative_page_example_is_the_example_file():
    assert _block_after("docs/generative.md", "examples/generative.py") == GENERATIVE.read_text()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the README's `tiny` model (examples/tiny_llama.py tiny)."""
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    folder = tmp_path_factory.mktemp("generative")
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tiny_llama.py"), "tiny"],
        cwd=folder, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return folder


def test_generative_example_runs(tiny_dir: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(GENERATIVE), "1.0"],
        cwd=tiny_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.strip().splitlines()
    columns = header.split()
    assert {"ttft_ms_p50", "itl_ms_p99", "output_tokens_per_s", "goodput"} <= set(columns)
    assert len(rows) == 2
    fraction, goodput = columns.index("goodput_fraction"), columns.index("goodput")
    for row in (row.split() for row in rows):
        # No request finished in the window (a loaded machine): no fraction, and no goodput.
        if row[fraction] == "N/A":
            assert float(row[goodput]) == 0
        else:
            assert 0 <= float(row[fraction]) <= 1


def test_the_generative_page_cli_runs(tiny_dir: Path) -> None:
    """The generative page's commands (shortened), from the folder holding `tiny`."""
    (tiny_dir / "prompts.jsonl").write_text(
        '{"prompt": "the model serves tokens fast", "output_tokens": 32}\n'
    )
    bench = [sys.executable, "-m", "neuronperf_native", "bench", f"{GENERATIVE}:TinyLlama"]
    synthetic = [
        "--streaming", "--synthetic-input-tokens-mean", "16", "--output-tokens-mean", "8",
        "--vocab-size", "1000", "--concurrency-range", "1:2", "--goodput", "ttft:200",
        "tpot:50", "--duration", "0.3",
    ]  # fmt: skip
    text = [
        "--streaming", "--input-file", "prompts.jsonl", "--tokenizer", "tiny",
        "--request-rate", "20", "--burstiness", "0.5", "--duration", "0.5",
    ]  # fmt: skip
    for options in (synthetic, text):
        out = subprocess.run(
            bench + options, cwd=tiny_dir, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr
        assert "ttft_p50 (ms)" in out.stdout.splitlines()[0]

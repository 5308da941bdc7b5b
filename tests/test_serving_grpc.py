"""Served models over gRPC: a KServe v2 grpcio server on 127.0.0.1 as a target.

The server (tests/grpc_servers.py) is a real grpcio server that records the bytes it
received and misbehaves on request; the engine runs as for a loaded model, so these
tests check the client's wire format (read with a protobuf wire reader of their own,
not the package's .proto), the metadata it reads, streamed responses, what is counted,
and what fails before the run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

pytest.importorskip("grpc")

import grpc
from grpc_servers import GrpcV2Server
from helpers import assert_a_stall_fills_the_open_loop_tail
from servers import V2Server
from test_serving import _add_data, _closed_port

import neuronperf_native as npf
from neuronperf_native import engine, serving
from neuronperf_native.targets import Endpoint, EndpointError, kserve_grpc
from neuronperf_native.targets.kserve_grpc import KServeGrpcClient, fetch_metadata

pytestmark = pytest.mark.grpc  # run late: gRPC's threads stay in the process (conftest.py)

SHORT = {"duration": 0.5, "verbosity": 0, "protocol": "grpc"}
IN_THREADS = {**SHORT, "multiprocess": False}


def _fields(raw: bytes) -> dict[int, list[Any]]:
    """A protobuf message's top-level fields by number: varints as ints, length-delimited
    values as bytes (the wire format itself: field numbers are the protocol's)."""
    fields: dict[int, list[Any]] = {}
    at = 0

    def varint() -> int:
        nonlocal at
        value = shift = 0
        while True:
            byte = raw[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while at < len(raw):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.setdefault(number, []).append(varint())
        elif wire == 2:
            n = varint()
            fields.setdefault(number, []).append(raw[at : at + n])
            at += n
        else:
            raise AssertionError(f"field {number}: unexpected wire type {wire}")
    return fields


def _established(port: int) -> list[Any]:
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    ]


def _left_open(port: int, within_s: float = 1.0) -> list[Any]:
    """This process's connections to `port` still open `within_s` after the call returned:
    grpcio's core closes a closed channel's socket on its own thread, a few ms later."""
    deadline = time.monotonic() + within_s
    while (left := _established(port)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return left


def test_metadata_and_config_give_shapes_datatypes_batching_and_decoupling() -> None:
    with GrpcV2Server() as server:
        add = fetch_metadata(Endpoint(server.url, "add", protocol="grpc"))
        flip = fetch_metadata(Endpoint(server.url, "flip", protocol="grpc"))
        stream = fetch_metadata(Endpoint(server.url, "stream", protocol="grpc"))
    assert [(t.name, t.datatype, t.shape) for t in add.inputs] == [
        ("INPUT0", "FP32", (-1, 4)),
        ("INPUT1", "INT64", (-1, 4)),
    ]
    assert [(t.name, t.datatype, t.shape) for t in add.outputs][1] == ("OUTPUT1", "INT64", (-1, 1))
    assert add.max_batch_size == 8 and add.batching and not add.decoupled
    assert [s.shape for s in add.specs(add.inputs)] == [(4,), (4,)]
    # flip's input starts with -1 too, but its config says it does not batch
    assert flip.max_batch_size == 0 and not flip.batching
    assert stream.decoupled and not stream.batching
    with GrpcV2Server(hide_config=True) as server:  # no config: batching from the metadata
        hidden = fetch_metadata(Endpoint(server.url, "add", protocol="grpc"))
    assert hidden.max_batch_size is None and hidden.batching


def test_requests_carry_raw_input_contents_with_the_protocols_field_numbers(
    tmp_path: Path,
) -> None:
    data = _add_data(tmp_path / "add.json")
    with GrpcV2Server() as server:
        reports = serving.benchmark(
            server.url,
            "add",
            str(data),
            batch_sizes=[1, 2],
            headers=("X-Token: abc",),
            **IN_THREADS,
        )
        bodies, headers = list(server.bodies), list(server.headers)
    assert [r["status"] for r in reports] == ["finished", "finished"]
    for report in reports:
        assert report["requests_failed"] == 0 and report["total_infs"] > 0
        assert report["validation"]["mismatches"] == 0
        assert report["validation"]["steps_checked"] == 3
    request = _fields(bodies[0])
    assert request[1] == [b"add"]  # model_name; no model_version (empty), no id
    assert 2 not in request and 3 not in request
    first, second = (_fields(tensor) for tensor in request[5])  # inputs
    assert (first[1], first[2], first[3]) == ([b"INPUT0"], [b"FP32"], [b"\x01\x04"])  # [1, 4]
    assert (second[1], second[2]) == ([b"INPUT1"], [b"INT64"])
    raw0, raw1 = request[7]  # raw_input_contents, in input order
    assert np.frombuffer(raw0, "<f4").tolist() == [0.0, 1.0, 2.0, 3.0]
    assert np.frombuffer(raw1, "<i8").tolist() == [0, 1, 2, 3]
    assert 4 not in request and 6 not in request  # no parameters; every output returned
    assert len(set(bodies)) <= 6 < len(bodies)  # 3 rows at 2 batch sizes, sent again and again
    assert all(h.get("x-token") == "abc" for h in headers)


def test_each_distinct_input_is_serialized_once(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = []
    original = kserve_grpc.encode_request

    def counting(*args: Any, **kwargs: Any) -> bytes:
        encoded.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(kserve_grpc, "encode_request", counting)
    data = npf.inputs.load_input_data(
        "random",
        [
            npf.inputs.TensorSpec("INPUT0", "FP32", (4,)),
            npf.inputs.TensorSpec("INPUT1", "INT64", (4,)),
        ],
    )
    with GrpcV2Server() as server:
        (report,) = serving.benchmark(server.url, "add", data, **IN_THREADS)
    assert report["total_infs"] > 10 * len(encoded)
    assert 0 < len(encoded) <= 2  # the one input tuple (and its warm-up)


def test_a_wrong_expected_output_is_a_mismatch(tmp_path: Path) -> None:
    data = json.loads(_add_data(tmp_path / "add.json").read_text())
    data["validation_data"][2]["OUTPUT1"][0] = 5
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with GrpcV2Server() as server:
        (report,) = serving.benchmark(server.url, "add", str(tmp_path / "bad.json"), **IN_THREADS)
    first = report["validation"]["first_mismatch"]
    assert report["validation"]["mismatches"] == 1
    assert (first["step"], first["tensor"], first["expected"], first["got"]) == (
        2,
        "OUTPUT1",
        5,
        16,
    )


def test_bytes_and_unbatched_tensors_round_trip() -> None:
    text = npf.inputs.load_input_data(
        "random", [npf.inputs.TensorSpec("TEXT", "BYTES", (1,))], string_data="abc"
    )
    with GrpcV2Server() as server:
        endpoint = Endpoint(server.url, "upper", protocol="grpc")
        client = KServeGrpcClient(endpoint, fetch_metadata(endpoint))
        flip = Endpoint(server.url, "flip", protocol="grpc")
        flipper = KServeGrpcClient(flip, fetch_metadata(flip))
        try:
            assert client(*text.batches(2)[0])["UPPER"].tolist() == [[b"ABC"], [b"ABC"]]
            # no batch dimension on the wire; the engine's batch of one comes back
            out = flipper(np.array([[1, 2, 3]], np.int32))
            assert out["OUT"].tolist() == [[3, 2, 1]]
            assert _fields(server.bodies[-1])[5][0].endswith(b"\x1a\x01\x03")  # shape [3]
        finally:
            client.close()
            flipper.close()


def test_a_decoupled_model_streams_its_responses_as_items() -> None:
    """5 responses per request, the first after 20 ms, the next every 5 ms, then an
    empty response flagged final: 5 items, TTFT and ITL no less than sent."""
    with GrpcV2Server(tokens=5, ttft_s=0.02, itl_s=0.005) as server:
        (report,) = serving.benchmark(
            server.url,
            "stream",
            "zero",
            shapes={"PROMPT": [3]},
            streaming=True,
            workers_per_model=[2],
            **{**IN_THREADS, "duration": 1.0},
        )
        request = _fields(server.bodies[0])
    assert report["status"] == "finished" and report["requests_failed"] == 0
    assert report["output_tokens_per_request_avg"] == 5
    assert report["ttft_ms_p50"] >= 20.0 and report["itl_ms_p50"] >= 5.0
    assert report["latency_ms_p50"] >= 40.0
    (parameter,) = request[4]  # parameters: triton_enable_empty_final_response = true
    entry = _fields(parameter)
    assert entry[1] == [b"triton_enable_empty_final_response"]
    assert _fields(entry[2][0]) == {1: [1]}  # bool_param


def test_a_streamed_model_that_is_not_decoupled_answers_once_per_request() -> None:
    with GrpcV2Server() as server:
        (report,) = serving.benchmark(server.url, "add", streaming=True, **IN_THREADS)
        assert 4 not in _fields(server.bodies[0])  # no final-response flag asked
    assert report["requests_failed"] == 0 and report["output_tokens_per_request_avg"] == 1


def test_streaming_needs_grpc_and_a_decoupled_model_needs_streaming() -> None:
    with GrpcV2Server() as server:
        with pytest.raises(EndpointError, match="model 'stream' is decoupled"):
            serving.benchmark(server.url, "stream", "zero", shapes={"PROMPT": [3]}, **SHORT)
        with pytest.raises(EndpointError, match="applies to -i http"):
            serving.benchmark(server.url, "add", binary_data=False, **SHORT)
        with pytest.raises(EndpointError, match="request_timeout_s bounds one ModelInfer"):
            serving.benchmark(server.url, "add", streaming=True, request_timeout_s=1, **SHORT)
        assert server.requests == 0
    with V2Server() as http, pytest.raises(EndpointError, match="-i grpc"):
        serving.benchmark(http.url, "add", streaming=True)


@pytest.mark.parametrize(
    ("fault", "streaming", "reason"),
    [
        (grpc.StatusCode.INTERNAL, False, "gRPC INTERNAL: injected INTERNAL"),
        ("malformed", False, "malformed response: not a ModelInferResponse"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, True, "gRPC RESOURCE_EXHAUSTED: injected"),
        ("malformed", True, "malformed response: not a ModelStreamInferResponse"),
        ("error", True, "injected error"),
    ],
)
def test_failed_requests_are_counted_with_reasons_never_timed(
    fault: Any, streaming: bool, reason: str
) -> None:
    every_third = {"every": lambda n: fault if n % 3 == 0 else None}
    with GrpcV2Server(faults=every_third) as server:
        (report,) = serving.benchmark(server.url, "add", streaming=streaming, **IN_THREADS)
        sent = server.requests
    assert report["status"] == "finished"
    failed, completed = report["requests_failed"], report["total_infs"]
    assert failed > 0 and completed > 0
    # every third request the server saw failed (warm-up and validation ones among them)
    assert abs(failed - sent / 3) <= 3
    assert sum(report["failure_reasons"].values()) == failed
    (got,) = report["failure_reasons"]
    assert got.startswith(reason)
    assert engine.Histogram.decode(report["latency_hist"]).count == completed


def test_a_server_that_dies_mid_run_fails_the_rest_and_keeps_what_was_measured() -> None:
    with GrpcV2Server() as server:
        port = server.port
        threading.Timer(0.7, server.stop).start()
        (report,) = serving.benchmark(
            server.url, "add", workers_per_model=[2], **{**IN_THREADS, "duration": 1.5}
        )
    assert report["status"] == "finished"
    assert report["total_infs"] > 0 and report["requests_failed"] > 0
    # the calls in flight when it stopped were cancelled by it, the rest found no server
    reasons = report["failure_reasons"]
    assert all(r.startswith(("gRPC UNAVAILABLE", "gRPC CANCELLED")) for r in reasons), reasons
    assert max(reasons, key=reasons.get).startswith("gRPC UNAVAILABLE")
    assert _left_open(port) == []


def test_an_unreachable_server_fails_before_the_run_naming_the_url() -> None:
    port = _closed_port()
    start = time.monotonic()
    with pytest.raises(EndpointError, match=rf"cannot reach 127\.0\.0\.1:{port} \(gRPC\)"):
        serving.benchmark(f"127.0.0.1:{port}", "add", connect_timeout_s=5.0, **SHORT)
    assert time.monotonic() - start < 5  # refused at once
    # a listener that never answers: the connect timeout bounds the wait
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(EndpointError, match=rf"cannot reach {url} \(gRPC\): .*DEADLINE"):
            serving.benchmark(url, "add", connect_timeout_s=1.0, **SHORT)
        assert 0.9 <= time.monotonic() - start < 5


def test_unknown_models_and_mismatched_inputs_fail_before_the_run(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"data": [{"INPUT0": [1, 2, 3, 4], "INPUTX": [1, 2, 3, 4]}]}))
    with GrpcV2Server() as server:
        with pytest.raises(EndpointError, match=r"has no model 'nope' \(gRPC NOT_FOUND"):
            serving.benchmark(server.url, "nope", **SHORT)
        with pytest.raises(EndpointError, match="INPUT1"):
            serving.benchmark(server.url, "add", str(wrong), **SHORT)
        with pytest.raises(EndpointError, match="'IN'"):
            serving.benchmark(server.url, "flip", "zero", **SHORT)  # -1 without --shape
        assert server.requests == 0  # nothing was sent to infer
    with pytest.raises(EndpointError, match="a gRPC url is HOST:PORT"):
        serving.benchmark("127.0.0.1:8001/v2", "add", **SHORT)
    with pytest.raises(EndpointError, match="apply to https"):
        serving.benchmark("127.0.0.1:8001", "add", ca_file=__file__, **SHORT)


@pytest.mark.parametrize("streaming", [False, True])
def test_channels_are_closed_when_the_call_returns(streaming: bool) -> None:
    with GrpcV2Server() as server:
        (report,) = serving.benchmark(
            server.url, "add", streaming=streaming, workers_per_model=[3], **IN_THREADS
        )
        left = _left_open(server.port)
    assert report["status"] == "finished" and report["total_infs"] > 0
    assert left == []


def test_traffic_goes_to_the_url_given_not_to_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = f"http://127.0.0.1:{_closed_port()}"
    for name in ("grpc_proxy", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, proxy)
    with GrpcV2Server() as server:
        (report,) = serving.benchmark(server.url, "add", **IN_THREADS)
    assert report["requests_failed"] == 0 and report["total_infs"] > 0


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_returns_what_was_measured_and_closes_the_channels() -> None:
    with GrpcV2Server(tokens=3, itl_s=0.002) as server:
        timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        start = time.monotonic()
        reports = serving.benchmark(
            server.url,
            "stream",
            "zero",
            shapes={"PROMPT": [2]},
            streaming=True,
            workers_per_model=[2],
            **{**IN_THREADS, "duration": 30},
        )
        left = _left_open(server.port)
    assert time.monotonic() - start < 20
    (report,) = reports
    assert report["status"] == "stopped" and report["total_infs"] > 0
    assert left == []


@pytest.mark.slow
def test_a_stall_shows_in_the_open_loop_latency() -> None:
    """Coordinated omission over gRPC: the server stalls 1 s once; requests due
    meanwhile count from when they were due, so the stall fills the tail."""
    with GrpcV2Server(faults={40: "stall"}, stall_s=1.0) as server:
        assert_a_stall_fills_the_open_loop_tail(server.url, protocol="grpc")


def test_bench_i_grpc_prints_tables_and_unreachable_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from neuronperf_native.cli import main

    unavailable = {"every": lambda n: grpc.StatusCode.UNAVAILABLE if n % 4 == 0 else None}
    with GrpcV2Server(faults=unavailable) as server:
        status = main(
            f"bench -u {server.url} -m add -i grpc --duration 0.5 --concurrency 2".split()
        )
        out, _ = capsys.readouterr()
        assert status == 0
        header = out.splitlines()[0].split()
        assert header[0] == "model_name" and "requests_failed" in header
        assert "gRPC UNAVAILABLE: injected UNAVAILABLE" in out  # the reasons follow the table
        status = main(
            f"bench -u {server.url} -m stream -i grpc --streaming --shape PROMPT:2 "
            "--duration 0.5 --concurrency 1".split()
        )
        out, _ = capsys.readouterr()
        assert status == 0 and "ttft_p50" in out.splitlines()[0]
        assert main(f"bench -u {server.url} -m stream -i grpc --duration 0.5".split()) == 2
        assert "decoupled" in capsys.readouterr().err
    port = _closed_port()
    assert main(f"bench -u 127.0.0.1:{port} -m add -i grpc --duration 0.5".split()) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: cannot reach 127.0.0.1:{port} (gRPC): gRPC UNAVAILABLE")


def test_the_checked_in_descriptor_is_the_proto_compiled(tmp_path: Path) -> None:
    """kserve_v2.desc is what grpc_tools' protoc makes of kserve_v2.proto today (in a
    process of its own: its bundled libprotobuf crashes beside TensorFlow's)."""
    pytest.importorskip("grpc_tools")
    from google.protobuf import descriptor_pb2

    folder = Path(__file__).resolve().parents[1] / "src" / "neuronperf_native" / "targets"
    out = tmp_path / "kserve_v2.desc"
    protoc = [sys.executable, "-m", "grpc_tools.protoc", f"-I{folder}"]
    protoc += [f"--descriptor_set_out={out}", str(folder / "kserve_v2.proto")]
    subprocess.run(protoc, check=True)
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    checked_in = descriptor_pb2.FileDescriptorSet.FromString(
        (folder / "kserve_v2.desc").read_bytes()
    )
    assert fresh == checked_in

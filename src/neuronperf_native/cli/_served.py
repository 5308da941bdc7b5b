"""`bench -u URL -m NAME`: perf_analyzer's options for a served model, and its run."""

from __future__ import annotations

import argparse
import os
from typing import Any

from neuronperf_native.cli._common import UsageError


def add_served_args(bench: argparse.ArgumentParser) -> None:
    """perf_analyzer's server options, with its names and meanings."""
    served = bench.add_argument_group(
        "served model (perf_analyzer's options)",
        "With -u, MODEL is not given: the target is the model -m served at the URL. "
        "Triton/KServe v2: input shapes and datatypes come from the server's model "
        "metadata, --input-data and --shape feed them as with perf_analyzer. OpenAI: "
        "the prompts come from the generative options. Requests that fail (HTTP errors, "
        "resets, malformed answers) are counted in requests_failed with their reasons, "
        "never timed.",
    )
    served.add_argument("-u", "--url", metavar="HOST:PORT", help="the server (http[s]:// too)")
    served.add_argument(
        "-i",
        "--protocol",
        choices=("http", "grpc"),
        default="http",
        help="the protocol to the server (default http)",
    )
    served.add_argument(
        "--service-kind",
        choices=("triton", "openai"),
        default="triton",
        help="triton: KServe v2 / Triton inference protocol (default); openai: "
        "OpenAI-compatible completions",
    )
    served.add_argument(
        "--endpoint",
        metavar="PATH",
        help="openai: v1/completions (default) or v1/chat/completions",
    )
    served.add_argument(
        "-x",
        "--model-version",
        default="",
        metavar="VERSION",
        help="triton: the model version (default: the server's choice)",
    )
    served.add_argument(
        "-H",
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="an HTTP header sent with every request (repeatable)",
    )
    served.add_argument(
        "--ssl-https-verify-peer",
        type=int,
        choices=(0, 1),
        default=1,
        help="https: verify the server's certificate (default 1)",
    )
    served.add_argument(
        "--ssl-https-verify-host",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="https: check that the certificate names the host (default 2; 0 turns it off)",
    )
    served.add_argument("--ssl-https-ca-certificates-file", metavar="FILE", help="https: CA bundle")
    served.add_argument(
        "--ssl-https-client-certificate-file", metavar="FILE", help="https: client certificate"
    )
    served.add_argument(
        "--ssl-https-private-key-file", metavar="FILE", help="https: client private key"
    )
    served.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds to wait for a connection (default 5); an unreachable server fails "
        "before the run",
    )


def _endpoint_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.endpoint is not None and args.service_kind != "openai":
        raise UsageError("--endpoint applies to --service-kind openai")
    verify = bool(args.ssl_https_verify_peer) and args.ssl_https_verify_host != 0
    return {
        "service_kind": args.service_kind,
        "protocol": args.protocol,
        "endpoint": args.endpoint,
        "model_version": args.model_version,
        "headers": tuple(args.header or ()),
        "verify_ssl": verify,
        "ca_file": args.ssl_https_ca_certificates_file,
        "cert_file": args.ssl_https_client_certificate_file,
        "key_file": args.ssl_https_private_key_file,
        "connect_timeout_s": args.connect_timeout,
    }


def served_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """serving.benchmark()'s input keywords: the data source and shapes (Triton)."""
    from neuronperf_native import inputs as npf_inputs

    if args.input or args.output:
        raise UsageError(
            "--input/--output declare a model's tensors: a served model's come from the "
            "server's metadata"
        )
    if args.service_kind == "openai":
        if args.input_data or args.shape:
            raise UsageError(
                "--input-data and --shape feed Triton's tensors: an OpenAI endpoint takes "
                "prompts (the generative options)"
            )
        return {"inputs": None}
    sources = args.input_data or ["random"]
    if len(sources) > 1 and any(s in ("random", "zero") or os.path.isdir(s) for s in sources):
        raise UsageError("several --input-data values must all be JSON files")
    return {
        "inputs": sources[0] if len(sources) == 1 else sources,
        "shapes": dict(npf_inputs.parse_shape_arg(text) for text in args.shape or []),
        "seed": args.seed,
        "string_length": args.string_length,
        "string_data": args.string_data,
    }


def bench_served(args: argparse.Namespace, options: dict[str, Any]) -> Any:
    """Runs `bench -u`: the reports, or the plan with --dry-run."""
    from neuronperf_native import serving

    if args.model is not None:
        raise UsageError("give MODEL or -u URL -m NAME, not both")
    if not args.model_name:
        raise UsageError("-u needs -m NAME: the model to benchmark on the server")
    if args.framework is not None or args.pipeline_size is not None:
        raise UsageError("--framework and --pipeline-size describe a local model, not -u")
    sizes = [s for group in args.batch_size or [] for s in group]
    if sizes:
        options["batch_sizes"] = list(dict.fromkeys(sizes))
    options.pop("pipeline_sizes", None)
    model_name = options.pop("model_name")
    return serving.benchmark(
        args.url,
        model_name,
        **served_inputs(args),
        **_endpoint_options(args),
        **options,
        dry_run=args.dry_run,
    )

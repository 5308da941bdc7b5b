"""A served endpoint as a benchmark target: where it is and how to talk to it.

perf_analyzer's names and meanings: `-u/--url` (HOST:PORT, or a URL with http/https),
`-m/--model-name`, `-i/--protocol http|grpc`, `--service-kind triton|openai`,
`--endpoint` (OpenAI: the path), `-H/--header`, and `--ssl-*` for https, which
verifies the server's certificate unless told not to. Validated once, here; the
client in each model copy takes it as it is.
"""

from __future__ import annotations

import dataclasses
import math
import os
import urllib.parse
from typing import Any

__all__ = [
    "OPENAI_ENDPOINTS",
    "PROTOCOLS",
    "SERVICE_KINDS",
    "Endpoint",
    "EndpointError",
    "parse_header",
]

#: --service-kind values: a KServe v2 / Triton server, or an OpenAI-compatible one.
SERVICE_KINDS = ("triton", "openai")
#: -i/--protocol values (gRPC: Triton's ModelInfer; needs the 'grpc' extra).
PROTOCOLS = ("http", "grpc")
#: The OpenAI-compatible paths --endpoint may name.
OPENAI_ENDPOINTS = ("v1/completions", "v1/chat/completions")


class EndpointError(ValueError):
    """An endpoint that cannot be benchmarked: names the URL, model or tensor and why."""


def parse_header(text: str) -> tuple[str, str]:
    """'Name: value' (perf_analyzer's -H) -> (name, value)."""
    name, sep, value = str(text).partition(":")
    if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
        raise EndpointError(f"header {text!r} must be 'Name: value'")
    if any(c in value for c in "\r\n"):
        raise EndpointError(f"header {name!r} must not contain a line break")
    return name.strip(), value.strip()


def _file(name: str, value: Any) -> str | None:
    if value is None:
        return None
    path = os.fspath(value)
    if not os.path.isfile(path):
        raise EndpointError(f"{name} {path!r} is not a file")
    return path


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where a served model is and how to reach it (validated; picklable)."""

    url: str  # HOST:PORT or http(s)://HOST:PORT[/prefix]
    model_name: str
    service_kind: str = "triton"
    protocol: str = "http"
    endpoint: str | None = None  # OpenAI: v1/completions (default) or v1/chat/completions
    model_version: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    verify_ssl: bool = True  # --ssl-https-verify-peer / -host 0 turn it off
    ca_file: str | None = None  # --ssl-https-ca-certificates-file
    cert_file: str | None = None  # --ssl-https-client-certificate-file
    key_file: str | None = None  # --ssl-https-private-key-file
    connect_timeout_s: float = 5.0
    request_timeout_s: float | None = None  # None: no limit (call_timeout_s still applies)

    def __post_init__(self) -> None:
        if self.service_kind not in SERVICE_KINDS:
            raise EndpointError(
                f"service_kind must be one of {', '.join(SERVICE_KINDS)}, got {self.service_kind!r}"
            )
        if self.protocol not in PROTOCOLS:
            raise EndpointError(
                f"protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}"
            )
        if self.service_kind == "openai" and self.protocol != "http":
            raise EndpointError("service_kind 'openai' speaks http only (-i http)")
        if not isinstance(self.model_name, str) or not self.model_name.strip():
            raise EndpointError(f"model_name must name the served model, got {self.model_name!r}")
        object.__setattr__(self, "url", self._normalized_url())
        if self.service_kind == "openai":
            path = (self.endpoint or OPENAI_ENDPOINTS[0]).strip("/")
            if path not in OPENAI_ENDPOINTS:
                raise EndpointError(
                    f"endpoint must be one of {', '.join(OPENAI_ENDPOINTS)}, got {self.endpoint!r}"
                )
            object.__setattr__(self, "endpoint", path)
        elif self.endpoint is not None:
            raise EndpointError("endpoint (--endpoint) applies to --service-kind openai only")
        headers = tuple(
            parse_header(h) if isinstance(h, str) else (str(h[0]), str(h[1])) for h in self.headers
        )
        object.__setattr__(self, "headers", headers)
        for name in ("ca_file", "cert_file", "key_file"):
            object.__setattr__(self, name, _file(name, getattr(self, name)))
        for name in ("connect_timeout_s", "request_timeout_s"):
            value = getattr(self, name)
            if value is None and name == "request_timeout_s":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise EndpointError(f"{name} must be a number of seconds, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise EndpointError(f"{name} must be > 0, got {value!r}")

    def _normalized_url(self) -> str:
        text = str(self.url).strip()
        if "://" not in text:
            text = "http://" + text
        parts = urllib.parse.urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EndpointError(f"url {self.url!r} must be HOST:PORT or http(s)://HOST:PORT")
        try:
            port = parts.port
        except ValueError:
            raise EndpointError(f"url {self.url!r} has an invalid port") from None
        if self.protocol == "grpc" and parts.scheme == "https":
            raise EndpointError("a gRPC url is HOST:PORT (TLS over gRPC is not supported)")
        if port is None and self.protocol == "grpc":
            raise EndpointError(f"url {self.url!r} needs a port")
        if parts.query or parts.fragment:
            raise EndpointError(f"url {self.url!r} must not carry a query or fragment")
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    @property
    def host_port(self) -> str:
        """HOST:PORT of the server (gRPC targets and messages)."""
        return urllib.parse.urlsplit(self.url).netloc

    def path(self, suffix: str) -> str:
        """The full URL of a path on the server."""
        return f"{self.url}/{suffix.lstrip('/')}"

    @property
    def model_path(self) -> str:
        """v2/models/NAME[/versions/V] (KServe v2)."""
        quoted = urllib.parse.quote(self.model_name, safe="")
        version = f"/versions/{urllib.parse.quote(self.model_version, safe='')}"
        return f"v2/models/{quoted}{version if self.model_version else ''}"

    def describe(self) -> str:
        """One line for messages and reports."""
        if self.service_kind == "openai":
            return f"{self.path(self.endpoint or '')} (model {self.model_name})"
        return f"{self.service_kind} {self.protocol} {self.url} (model {self.model_name})"

"""HTTP for the Python side of a served target, over the engine's native libcurl client.

The timed requests never come here: the engine sends them natively (the clients'
native_model()). Python sends what happens around a run (model metadata, the model
check, output validation) and the requests of runs the engine drives through Python
calls (sequences, pre-processing); each goes over a keep-alive libcurl connection of
the calling thread, with the GIL released while it goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from neuronperf_native import _engine
from neuronperf_native.targets._per_thread import PerThread
from neuronperf_native.targets.endpoint import Endpoint, EndpointError

__all__ = ["Connection", "Connections", "TransportError", "http_options", "require_http_client"]

#: The exchange did not complete: no connection, a reset, a timeout (libcurl's words).
#: (OSError, its base, in a build without the client, where nothing can raise it.)
TransportError: type[OSError] = getattr(_engine, "HttpError", OSError)


def require_http_client() -> None:
    """EndpointError naming the package when this build of the engine has no HTTP client
    (libcurl's headers were missing when it was built)."""
    if not hasattr(_engine, "HttpConnection"):
        raise EndpointError(
            "this build of neuronperf-native has no HTTP client: install libcurl "
            "(Debian: apt-get install libcurl4-openssl-dev) and reinstall neuronperf-native"
        )


def http_options(endpoint: Endpoint) -> _engine.HttpOptions:
    """The engine's options for reaching `endpoint`'s server."""
    require_http_client()
    timeout = endpoint.request_timeout_s
    return _engine.HttpOptions(
        headers=[f"{name}: {value}" for name, value in endpoint.headers],
        connect_timeout_ms=max(1, round(endpoint.connect_timeout_s * 1e3)),
        request_timeout_ms=0 if timeout is None else max(1, round(timeout * 1e3)),
        verify_peer=endpoint.verify_ssl,
        ca_file=endpoint.ca_file or "",
        cert_file=endpoint.cert_file or "",
        key_file=endpoint.key_file or "",
    )


class Connection:
    """One keep-alive libcurl connection to an endpoint's server, reused request after
    request. Used by one thread at a time (each worker has its own)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._native: _engine.HttpConnection | None = _engine.HttpConnection(http_options(endpoint))

    def request(
        self, url: str, body: bytes | None = None, headers: Sequence[str] = ()
    ) -> _engine.HttpResponse:
        """GET (body None) or POST `body`; the whole response. TransportError when the
        exchange did not complete."""
        if self._native is None:
            raise TransportError("the connection is closed")
        return self._native.request(url, body, list(headers))

    def close(self) -> None:
        """Closes the connection (idempotent)."""
        if self._native is not None:
            self._native.close()
            self._native = None


class Connections(PerThread[Connection]):
    """Each thread's own Connection to an endpoint (any thread). A thread's connection
    is closed when a new thread asks after it ended, or by close()."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(lambda: Connection(endpoint), Connection.close)

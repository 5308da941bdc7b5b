"""HTTP over libcurl (pycurl): one keep-alive connection per worker thread.

libcurl does the wire (HTTP/1.1 and HTTP/2, TLS, chunked bodies, keep-alive); a
transfer runs without the GIL (pycurl releases it in perform() and select()), so a
worker waiting for a server's answer never holds up the others. Streams use the
multi interface, driven one chunk at a time, so each chunk reaches the engine (and
its timestamp) the moment libcurl has it.
"""

from __future__ import annotations

import collections
import re
import threading
from collections.abc import Iterator, Sequence

from neuronperf_native.targets.endpoint import Endpoint

__all__ = ["Connection", "Connections", "Response", "TransportError"]

#: Bytes of a response body quoted in a failure reason.
_QUOTED_BYTES = 160
#: The parts of libcurl's messages that vary from request to request (a reason is a
#: key that failures are counted under).
_VARYING = re.compile(r" after \d+ (?:ms|milliseconds)| with \d+ (?:out of -?\d+ )?bytes received")


class TransportError(Exception):
    """The request did not complete: no connection, a reset, a timeout (libcurl's words)."""


class Response:
    """Status, raw header lines and body of one HTTP exchange."""

    __slots__ = ("body", "header_lines", "status")

    def __init__(self, status: int, header_lines: list[bytes], body: bytes) -> None:
        self.status = status
        self.header_lines = header_lines
        self.body = body

    def header(self, name: str) -> str | None:
        """The value of the last header called `name` (case-insensitive), or None."""
        prefix = name.lower().encode() + b":"
        for line in reversed(self.header_lines):
            if line[: len(prefix)].lower() == prefix:
                return line[len(prefix) :].strip().decode("latin-1")
        return None

    def failure(self) -> str:
        """'HTTP 503: <start of the body>' for a reason in a report."""
        text = self.body[:_QUOTED_BYTES].decode("utf-8", "replace").strip()
        return f"HTTP {self.status}" + (f": {text}" if text else "")


def _pycurl():
    try:
        import pycurl
    except ImportError:
        raise ImportError(
            "a served endpoint needs pycurl (libcurl): pip install 'neuronperf-native[serving]'"
        ) from None
    return pycurl


class Connection:
    """One libcurl handle to an endpoint's server, reused request after request.

    Used by one thread at a time (each worker has its own)."""

    def __init__(self, endpoint: Endpoint) -> None:
        pycurl = self._pycurl = _pycurl()
        self._curl = curl = pycurl.Curl()
        self._multi = None
        self._base_headers = [f"{k}: {v}" for k, v in endpoint.headers]
        self._body = bytearray()
        self._append_body = self._body.extend
        self._headers: list[bytes] = []
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, round(endpoint.connect_timeout_s * 1e3)))
        if endpoint.request_timeout_s is not None:
            curl.setopt(pycurl.TIMEOUT_MS, max(1, round(endpoint.request_timeout_s * 1e3)))
        curl.setopt(pycurl.HEADERFUNCTION, self._headers.append)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.FOLLOWLOCATION, 0)  # traffic goes to the URL given, nowhere else
        curl.setopt(pycurl.SSL_VERIFYPEER, 1 if endpoint.verify_ssl else 0)
        curl.setopt(pycurl.SSL_VERIFYHOST, 2 if endpoint.verify_ssl else 0)
        if endpoint.ca_file:
            curl.setopt(pycurl.CAINFO, endpoint.ca_file)
        if endpoint.cert_file:
            curl.setopt(pycurl.SSLCERT, endpoint.cert_file)
        if endpoint.key_file:
            curl.setopt(pycurl.SSLKEY, endpoint.key_file)
        self._url: str | None = None
        self._sent_headers: Sequence[str] | None = None
        self._writer: object = None  # the WRITEFUNCTION set now (set again only to change it)

    def _prepare(self, url: str, body: bytes | None, headers: Sequence[str]) -> None:
        pycurl, curl = self._pycurl, self._curl
        if url != self._url:
            curl.setopt(pycurl.URL, url)
            self._url = url
        if headers is not self._sent_headers:
            curl.setopt(pycurl.HTTPHEADER, [*self._base_headers, *headers])
            self._sent_headers = headers
        if body is None:
            curl.setopt(pycurl.HTTPGET, 1)
        else:
            curl.setopt(pycurl.POSTFIELDS, body)
        self._headers.clear()

    def _write_to(self, writer: object) -> None:
        if writer is not self._writer:
            self._curl.setopt(self._pycurl.WRITEFUNCTION, writer)
            self._writer = writer

    def _error(self, error: Exception) -> TransportError:
        code, message = error.args if len(error.args) == 2 else (0, str(error))
        return TransportError(_VARYING.sub("", message) or f"libcurl error {code}")

    def request(self, url: str, body: bytes | None = None, headers: Sequence[str] = ()) -> Response:
        """GET (body None) or POST `body`; the whole response. TransportError when
        the exchange did not complete."""
        self._prepare(url, body, headers)
        buffer = self._body
        buffer.clear()
        self._write_to(self._append_body)
        try:
            self._curl.perform()
        except self._pycurl.error as error:
            raise self._error(error) from None
        status = self._curl.getinfo(self._pycurl.RESPONSE_CODE)
        return Response(status, list(self._headers), bytes(buffer))

    def stream(self, url: str, body: bytes, headers: Sequence[str] = ()) -> Iterator[bytes]:
        """POSTs `body` and yields the response body's chunks as libcurl receives them.
        A status >= 400 raises TransportError with the status and the body's start
        once the body is in (nothing yielded); a broken transfer raises it too."""
        pycurl = self._pycurl
        self._prepare(url, body, headers)
        chunks: collections.deque[bytes] = collections.deque()
        self._write_to(chunks.append)
        multi = self._multi
        if multi is None:
            multi = self._multi = pycurl.CurlMulti()
        multi.add_handle(self._curl)
        try:
            status = 0
            active = 1
            while active:
                ret, active = multi.perform()
                while ret == pycurl.E_CALL_MULTI_PERFORM:
                    ret, active = multi.perform()
                if chunks and not status:
                    status = self._curl.getinfo(pycurl.RESPONSE_CODE)
                if status and status < 400:
                    while chunks:
                        yield chunks.popleft()
                if active:
                    multi.select(1.0)
            _, _, failed = multi.info_read()
            if failed:
                raise TransportError(
                    _VARYING.sub("", failed[0][2]) or f"libcurl error {failed[0][1]}"
                )
            status = self._curl.getinfo(pycurl.RESPONSE_CODE)
            if status >= 400:
                raise TransportError(
                    Response(status, list(self._headers), b"".join(chunks)).failure()
                )
            while chunks:
                yield chunks.popleft()
        finally:
            multi.remove_handle(self._curl)

    def close(self) -> None:
        """Closes the connection (idempotent)."""
        if self._multi is not None:
            self._multi.close()
            self._multi = None
        if self._curl is not None:
            self._curl.close()
            self._curl = None  # type: ignore[assignment]


class Connections:
    """Each worker thread's own Connection to an endpoint (any thread). A thread's
    connection is closed when a new thread asks after it ended, or by close()."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[tuple[threading.Thread, Connection]] = []

    def get(self) -> Connection:
        """This thread's connection (opened on first use)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        connection = self._local.connection = Connection(self._endpoint)
        with self._lock:
            ended = [c for thread, c in self._open if not thread.is_alive()]
            self._open = [(t, c) for t, c in self._open if t.is_alive()]
            self._open.append((threading.current_thread(), connection))
        for old in ended:
            old.close()
        return connection

    def close(self) -> None:
        """Closes every thread's connection."""
        with self._lock:
            connections, self._open = [c for _, c in self._open], []
        for connection in connections:
            connection.close()

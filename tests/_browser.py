"""Headless Chromium for tests, driven over the DevTools protocol on a pipe.

`render(path)` opens a local HTML file in a fresh headless Chromium (its own profile
directory, no network needed), records every console message, exception, log entry
(CSP violations land there) and network request, runs the caller's JavaScript checks,
and returns them with a full-page PNG screenshot. The browser is closed, and killed if
it does not exit, before render returns.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in CI containers
    "--disable-gpu",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--font-render-hinting=none",
)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Page:
    """What one page load produced."""

    console: list[dict[str, Any]] = field(default_factory=list)  # console.* calls
    errors: list[str] = field(default_factory=list)  # exceptions and error log entries
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    results: dict[str, Any] = field(default_factory=dict)  # the evaluated checks
    screenshot: bytes = b""


class _Pipe:
    """The DevTools connection: commands to fd 3 of the browser, replies from fd 4."""

    def __init__(self, write_fd: int, read_fd: int, deadline: float) -> None:
        self.write_fd, self.read_fd, self.deadline = write_fd, read_fd, deadline
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _message(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                raise TimeoutError("headless Chromium did not answer in time")
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise ConnectionError("headless Chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._message()
            self.events.append(event)
            if event.get("method") == method:
                return event


def _record(page: Page, events: list[dict[str, Any]]) -> None:
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            args = [a.get("value", a.get("description")) for a in params.get("args", [])]
            page.console.append({"type": params.get("type"), "args": args})
        elif method == "Runtime.exceptionThrown":
            page.errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            page.errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            page.requests.append(params.get("request", {}).get("url", ""))


def _high_fd(fd: int) -> int:
    """A copy of fd numbered 10 or above (so moving it to 3 or 4 clobbers nothing)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _spawn(chromium: str, profile: str) -> tuple[subprocess.Popen, int, int]:
    to_browser_r, to_browser_w = (_high_fd(fd) for fd in os.pipe())
    from_browser_r, from_browser_w = (_high_fd(fd) for fd in os.pipe())

    def child_fds() -> None:  # the browser reads fd 3 and writes fd 4 (inheritable)
        os.dup2(to_browser_r, 3)
        os.dup2(from_browser_w, 4)

    process = subprocess.Popen(
        [chromium, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=False,  # keeps 3 and 4; every other descriptor is close-on-exec
        preexec_fn=child_fds,
        start_new_session=True,
    )
    os.close(to_browser_r)
    os.close(from_browser_w)
    return process, to_browser_w, from_browser_r


def _evaluate(pipe: _Pipe, session: str, expression: str) -> Any:
    reply = pipe.send(
        "Runtime.evaluate", session, expression=expression, returnByValue=True, awaitPromise=True
    )
    return reply.get("result", {}).get("value")


def _set_size(pipe: _Pipe, session: str, width: int, height: int) -> None:
    pipe.send(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=False,
    )


def render(path: str, checks: dict[str, str], width: int = 1280, timeout_s: float = 90.0) -> Page:
    """Load `path` in headless Chromium; evaluate each JS expression of `checks`
    (JSON-serialisable results); screenshot the whole page."""
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("no chromium on PATH")
    page = Page()
    with tempfile.TemporaryDirectory(prefix="npn-chromium-") as profile:
        process, write_fd, read_fd = _spawn(chromium, profile)
        try:
            pipe = _Pipe(write_fd, read_fd, time.monotonic() + timeout_s)
            target = pipe.send("Target.createTarget", url="about:blank")["targetId"]
            session = pipe.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                pipe.send(f"{domain}.enable", session)
            _set_size(pipe, session, width, 900)
            pipe.send("Page.navigate", session, url="file://" + os.path.abspath(path))
            pipe.wait_for("Page.loadEventFired")
            for name, expression in checks.items():
                page.results[name] = _evaluate(pipe, session, expression)
            height = _evaluate(pipe, session, "document.documentElement.scrollHeight")
            _set_size(pipe, session, width, int(height))
            shot = pipe.send("Page.captureScreenshot", session, format="png")
            page.screenshot = base64.b64decode(shot["data"])
            _record(page, pipe.events)
            with contextlib.suppress(ConnectionError):
                pipe.send("Browser.close")
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            os.close(write_fd)
            os.close(read_fd)
    return page

"""Drive a headless Chromium through the DevTools protocol, with the standard library only.

The HTML viewer is tested in a real browser (clicks, key presses, what is highlighted), and its
screenshots are taken the same way. Selenium or Playwright would need downloads that CI does not
have; Chromium's ``--remote-debugging-pipe`` speaks the DevTools protocol over file descriptors
3 (commands in) and 4 (replies out) as NUL-terminated JSON, which is all this module needs.

    with Browser() as browser:
        page = browser.open("file:///tmp/trace.html")
        page.click("button.next")
        page.press("ArrowRight")
        page.evaluate("document.title")
        page.screenshot("page.png")
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)
KEY_CODES = {
    "ArrowLeft": 37,
    "ArrowUp": 38,
    "ArrowRight": 39,
    "ArrowDown": 40,
    "Home": 36,
    "End": 35,
}


class BrowserError(RuntimeError):
    """The browser is missing, died, or answered a command with an error."""


def find_chromium() -> str | None:
    """``$MRKCHECK_CHROMIUM``, Debian's ``/usr/bin/chromium``, or a Chrome on the PATH."""
    explicit = os.environ.get("MRKCHECK_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def _high_pipe() -> tuple[int, int]:
    """A pipe whose two ends are file descriptors 10 or above."""
    low = os.pipe()
    high = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in low)
    for fd in low:
        os.close(fd)
    return high[0], high[1]


class Browser:
    """One headless browser process; use as a context manager so it is always closed."""

    def __init__(self, executable: str | None = None, timeout: float = 30.0) -> None:
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError("no Chromium found (install Debian's chromium package)")
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="mrkcheck-chromium-")
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self._start_checked()

    def _start_checked(self, attempts: int = 3) -> None:
        """Start and wait until the browser answers; a fresh install sometimes drops the very
        first connection while it builds its caches, so try again a couple of times."""
        for attempt in range(attempts):
            self._start()
            try:
                self.send("Browser.getVersion")
                return
            except BrowserError:
                if self.process.poll() is None:
                    self.process.kill()
                self._stop()
                if attempt == attempts - 1:
                    raise

    def _start(self) -> None:
        to_browser_r, self._to_browser = _high_pipe()
        self._from_browser, from_browser_w = _high_pipe()
        # The browser expects the pipes as fds 3 and 4: bash puts them there, then execs. (The
        # pipes sit at fds >= 10 first, so that placing one cannot clobber the other; dash
        # cannot redirect fds above 9, hence bash.)
        shell = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        args = [*FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"]
        log = None if os.environ.get("MRKCHECK_BROWSER_LOG") else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", shell, self.executable, *args],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)

    # --- protocol ---------------------------------------------------------------------------------

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its reply (events that arrive meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
                return reply.get("result", {})
            self.events.append(reply)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("the browser did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise BrowserError("the browser closed the connection")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    # --- pages ------------------------------------------------------------------------------------

    def open(self, url: str, width: int = 1280, height: int = 900) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        page.send("Emulation.setFocusEmulationEnabled", {"enabled": True})
        page.goto(url)
        return page

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(BrowserError, OSError):
                self.send("Browser.close")
        self._stop()
        self._profile.cleanup()

    def _stop(self) -> None:
        """Wait for (or end) our own browser process and close our pipe ends."""
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._buffer = b""

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab: navigate, evaluate script, click, press keys, take screenshots."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, self.session)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-serialisable results only)."""
        reply = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in reply:
            detail = reply["exceptionDetails"]
            text = detail.get("exception", {}).get("description") or detail.get("text")
            raise BrowserError(f"script error: {text}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"!!({expression})"):
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression}")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the first element matching ``selector``."""
        box = self.evaluate(
            f"(function(){{var e=document.querySelector({json.dumps(selector)});"
            "if(!e)return null;e.scrollIntoView({block:'center'});"
            "var r=e.getBoundingClientRect();return [r.x+r.width/2,r.y+r.height/2];})()"
        )
        if box is None:
            raise BrowserError(f"no element matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )

    def press(self, key: str) -> None:
        """A real key press (keyDown then keyUp), as the page's keyboard handler sees it."""
        code = KEY_CODES.get(key, 0)
        for kind in ("rawKeyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                {"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code},
            )

    def screenshot(self, path: str | Path, full_page: bool = True) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        Path(path).write_bytes(base64.b64decode(data))

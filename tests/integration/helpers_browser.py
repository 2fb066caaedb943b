"""A real headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
fd 3 in, fd 4 out, NUL-separated JSON), so the browser test needs no driver, no websocket library and
no download: only Debian's ``chromium``. Plus the Dagster webserver on 127.0.0.1 for it to open.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pipelines.ui import own_process_group, start_server
from pipelines.ui import stop_server as stop_group  # the same group stop the UI uses

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    found = [p for p in CHROMIUM_CANDIDATES if Path(p).exists()] or [shutil.which("chromium") or ""]
    return found[0] or None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_webserver(log: Path, env: dict, timeout_s: float = 240) -> tuple[subprocess.Popen, str]:
    """``dagster-webserver -m pipelines.definitions`` on 127.0.0.1 (free port), in its own process
    group; returns (process, base url) once /server_info answers."""
    port = free_port()
    exe = str(Path(sys.executable).with_name("dagster-webserver"))
    proc = start_server([exe, "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)], log, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {proc.returncode}: see {log}")
        try:
            urllib.request.urlopen(base + "/server_info", timeout=2).read()
            return proc, base
        except OSError:
            time.sleep(1)
    stop_group(proc)
    raise RuntimeError(f"dagster-webserver did not answer in {timeout_s} s: see {log}")


class Browser:
    """One headless Chromium page. ``open(url)``, ``js(expression)``, ``wait_for(expression)``."""

    def __init__(self, chromium: str, profile: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child() -> None:
            own_process_group()
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)   # out of the way of 3 and 4 first
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False, preexec_fn=child)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf, self._id = b"", 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)

    def call(self, method: str, params: dict | None = None, session: bool = False, timeout_s: float = 60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            ready, _, _ = select.select([self._from_chrome], [], [], 1)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
        raise TimeoutError(f"{method}: no answer from chromium in {timeout_s} s")

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, session=True)

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout_s: float = 90) -> object:
        """Poll ``expression`` until it is truthy; its value, or TimeoutError with the page's text."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.5)
        text = self.js("document.body ? document.body.innerText.slice(0, 2000) : ''")
        raise TimeoutError(f"not on the page after {timeout_s} s: {expression}\npage text: {text}")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout_s=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        stop_group(self.proc, grace_s=5)
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass


# JavaScript run in the page: the metadata keys shown, and opening a "[Show Markdown]" entry
TEXT = "(document.body ? document.body.innerText : '')"
SHOW_MARKDOWN = """(() => {
  const els = Array.from(document.querySelectorAll('button, a, span, div'))
    .filter(e => e.children.length === 0 && e.textContent.trim() === '[Show Markdown]');
  if (!els.length) return 0;
  els[0].click();
  return els.length;
})()"""
PICTURE = """(() => {
  const imgs = Array.from(document.querySelectorAll('img')).filter(i => i.src.startsWith('data:image/png'));
  return imgs.filter(i => i.complete && i.naturalWidth > 100).map(i => i.alt + ' ' + i.naturalWidth + 'x' + i.naturalHeight);
})()"""

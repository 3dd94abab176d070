"""Drive a real headless Chromium over the DevTools protocol: open a page, wait for it, take a screenshot.

A plain ``chromium --screenshot`` takes its picture after a fixed virtual-time budget, which on a busy
machine can come before the page's first backend call has answered; here we wait (in real time) until
the page shows what the test expects, then capture it.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]


class Chromium:
    def __init__(self, exe: str, profile: Path, width: int = 1280, height: int = 1600, offline: bool = False):
        from websockets.sync.client import connect

        # offline: every host but loopback is unresolvable, as on an air-gapped machine (no CDN either).
        extra = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"] if offline else []
        self.proc = subprocess.Popen([exe, *FLAGS, *extra, f"--user-data-dir={profile}",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file = profile / "DevToolsActivePort"
        deadline = time.time() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"chromium did not start: {self.proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self.ws = connect(ws_url, max_size=64 * 2**20, open_timeout=30)
        self.ids = itertools.count(1)
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params):
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def open_and_wait(self, url: str, ready_js: str, timeout_s: float = 90) -> bool:
        self.call("Page.navigate", url=url)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.evaluate(ready_js):
                return True
            time.sleep(0.5)
        return False

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("headless browser test: Debian `chromium` is not installed and could not be installed "
                    "(`make test` installs it with apt-get as root; or run `apt-get install -y chromium`)")
    return exe


def page_shot(url: str, ready_js: str, tmp_path: Path, timeout_s: float = 90) -> tuple[bool, str, Path]:
    """Open ``url`` in a fresh headless Chromium, wait until ``ready_js`` holds: (whether it did, the page's
    text, its screenshot)."""
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    browser = Chromium(chromium(), profile)
    try:
        loaded = browser.open_and_wait(url, ready_js, timeout_s=timeout_s)
        return loaded, browser.evaluate("document.body.innerText"), browser.screenshot(tmp_path / "page.png")
    finally:
        browser.close()

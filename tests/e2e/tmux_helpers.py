"""Real-terminal tests: a tmux server of the test's own, running the real console script."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

EXE = Path(sys.executable).parent / "membership-admin"


class Tmux:
    """One tmux server of the test's own (its own socket), so nothing else is touched."""

    def __init__(self, conf: Path) -> None:
        self.socket = f"ma-test-{uuid.uuid4().hex[:8]}"
        # the window is 120x36 from the start, so the app never measures a default 80x24
        conf.write_text("set-option -g default-size 120x36\n")
        self.conf = conf

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.conf), *args], check=True, capture_output=True,
                              text=True, timeout=10).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            try:
                shown = self.screen()
            except subprocess.CalledProcessError:  # the pane is gone
                break
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on the screen within {timeout}s; it shows:\n{shown}")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "app", *keys)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)

    def start(self, command: str) -> None:
        """Run command in a 120x36 window, as a person would type it in a terminal.

        The test process may carry COLUMNS/LINES (set under pytest), which would override the
        terminal's real size: the app must measure the pane itself.
        """
        self.run("new-session", "-d", "-s", "app", "-x", "120", "-y", "36",
                 f"env -u COLUMNS -u LINES TERM=xterm-256color sh -c {shlex.quote(command)}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "app"],
                              capture_output=True, timeout=10).returncode == 0


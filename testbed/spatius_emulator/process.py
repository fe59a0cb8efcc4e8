"""`EmulatorProcess`: the emulator in a child process, e.g. as a benchmark's load target.

Only the URLs and the stats endpoint cross the process boundary. Stats times are
`time.monotonic()` seconds (CLOCK_MONOTONIC, system-wide on Linux), directly comparable
with the parent's own `time.monotonic()`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

TESTBED_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 15.0


class EmulatorProcess:
    """Runs `python -m spatius_emulator --json <extra_args>`; use as a context manager."""

    def __init__(self, *extra_args: str, python: str = sys.executable) -> None:
        self._cmd = [python, "-m", "spatius_emulator", "--json", *extra_args]
        self._proc: subprocess.Popen[str] | None = None
        self.console_url = ""
        self.ingress_url = ""
        self.stats_url = ""
        self.properties: dict[str, Any] = {}

    def start(self, timeout: float = START_TIMEOUT_S) -> EmulatorProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTBED_DIR), env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            self._cmd, stdout=subprocess.PIPE, text=True, env=env, bufsize=1
        )
        line = _read_line(self._proc, timeout)
        if not line:
            code = self._proc.wait(timeout=5)
            raise RuntimeError(f"emulator process exited ({code}) before it was ready")
        ready = json.loads(line)
        self.console_url = ready["console_url"]
        self.ingress_url = ready["ingress_url"]
        self.stats_url = ready["stats_url"]
        self.properties = ready["properties"]
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stats(self, *, chunks: bool = False, timeout: float = 10.0) -> dict[str, Any]:
        """The emulator's counters (see `spatius_emulator.stats`)."""
        url = self.stats_url + ("?chunks=1" if chunks else "")
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the process; return its exit code (0 after a clean shutdown)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: the emulator closes its sockets and exits
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
        return proc.returncode

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """First stdout line of `proc`, waiting at most `timeout` seconds."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            proc.kill()
            proc.wait()
            raise TimeoutError(f"emulator process not ready within {timeout}s")
    return proc.stdout.readline()

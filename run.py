#!/usr/bin/env python3
"""Set up (idempotently) and run: `python3 run.py demo` or `python3 run.py test`.

Creates .venv, installs requirements-dev.txt when it changed, installs the system Opus
library when it is missing and can be installed (Debian/Ubuntu as root, or Homebrew),
then runs the demo on the built-in Spatius emulator or the test suite. Extra arguments
are passed on (e.g. `python3 run.py test -k flush`, `python3 run.py demo --wav my.wav`).
Other commands run the CLI: `python3 run.py check examples/graph.json`. Ctrl-C and SIGTERM
are handed to the command, which stops as it would by itself; run.py then exits 130 / 143.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".requirements-stamp"
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")


def say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> None:
    if not venv_python().exists():
        say(f"creating a virtual environment in {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)


def ensure_packages() -> None:
    digest = hashlib.sha256(b"".join((ROOT / name).read_bytes() for name in REQUIREMENTS)).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    say("installing Python packages (requirements-dev.txt)")
    pip = [str(venv_python()), "-m", "pip"]
    subprocess.run(pip + ["install", "--quiet", "--upgrade", "pip"], check=False)
    subprocess.run(pip + ["install", "--quiet", "-r", str(ROOT / "requirements-dev.txt")], check=True)
    STAMP.write_text(digest)


def opus_loads() -> bool:
    probe = subprocess.run([str(venv_python()), "-c", "import opuslib_next"], capture_output=True)
    return probe.returncode == 0


def ensure_opus() -> None:
    if opus_loads():
        return
    system = platform.system()
    if system == "Linux" and shutil.which("apt-get") and os.geteuid() == 0:
        say("installing the system Opus library (apt-get install libopus0)")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "libopus0"], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    elif system == "Darwin" and shutil.which("brew"):
        say("installing the system Opus library (brew install opus)")
        subprocess.run(["brew", "install", "opus"], check=False)
    if not opus_loads():
        fix = {
            "Linux": "sudo apt-get install libopus0 (Debian/Ubuntu) or your distribution's opus package",
            "Darwin": "brew install opus",
        }.get(system, "install the Opus library (libopus) for your system")
        say(f"the system Opus library is missing: {fix}. "
            "Without it only params.audio_format \"pcm_s16le\" works, and the Opus tests fail.")


FORWARDED = (signal.SIGINT, signal.SIGTERM)
SI_KERNEL = 0x80  # si_code of a signal the kernel sent: a terminal's Ctrl-C goes to the whole process group
KILL_AFTER_S = 20.0  # a child that has not ended this long after the signal is killed


def run_child(args: list[str]) -> int:
    """Run the command and hand Ctrl-C and SIGTERM on to it: it stops as it would by itself,
    with no traceback here and no process left behind. Exit code: the child's, or
    128 + the signal (130, 143) when one stopped it."""
    early: list[int] = []  # a signal in the moment before the child can be told of it
    previous = {sig: signal.signal(sig, lambda number, _frame: early.append(number)) for sig in FORWARDED}
    try:
        child = subprocess.Popen(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if hasattr(signal, "sigtimedwait"):
        received = _wait_blocking_signals(child, early)
    else:
        received = _wait_with_handlers(child, early)
    code = child.returncode
    if received:
        return 128 + received[0]
    return 128 - code if code < 0 else code


def _forward(child: subprocess.Popen, number: int, received: list[int]) -> None:
    received.append(number)
    if child.poll() is None:
        child.send_signal(number)


def _wait_blocking_signals(child: subprocess.Popen, early: list[int]) -> list[int]:
    """Linux: the signals wait blocked and are taken with their sender, so a Ctrl-C that the
    terminal already sent the child (the same process group) is not sent to it twice."""
    received: list[int] = []
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        for number in early:
            _forward(child, number, received)
        deadline = None
        while child.poll() is None:
            info = signal.sigtimedwait(FORWARDED, 0.1)
            if info is not None:
                if info.si_signo == signal.SIGINT and info.si_code == SI_KERNEL:
                    received.append(info.si_signo)  # the terminal's: the child has it too
                else:
                    _forward(child, info.si_signo, received)
                deadline = deadline or time.monotonic() + KILL_AFTER_S
            if deadline is not None and time.monotonic() > deadline and child.poll() is None:
                say(f"the command did not stop within {KILL_AFTER_S:.0f} s of the signal: killing it")
                child.kill()
                child.wait()
        while signal.sigtimedwait(FORWARDED, 0) is not None:
            pass  # taken here, so none fires once they are unblocked
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    return received


def _wait_with_handlers(child: subprocess.Popen, early: list[int]) -> list[int]:
    """Elsewhere (macOS): SIGTERM is handed on; Ctrl-C too unless this process is in the
    terminal's foreground group, whose members (the child too) all got it already."""
    received: list[int] = []

    def on_signal(number: int, _frame: object) -> None:
        if number == signal.SIGINT and _in_foreground_group():
            received.append(number)
        else:
            _forward(child, number, received)

    previous = {sig: signal.signal(sig, on_signal) for sig in FORWARDED}
    try:
        for number in early:
            _forward(child, number, received)
        started = None
        while True:
            try:
                child.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if received:
                    started = started or time.monotonic()
                    if time.monotonic() - started > KILL_AFTER_S:
                        say(f"the command did not stop within {KILL_AFTER_S:.0f} s of the signal: killing it")
                        child.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received


def _in_foreground_group() -> bool:
    for fd in (0, 1, 2):
        try:
            return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 10):
        say(f"Python 3.10 or newer is needed (this is {platform.python_version()})")
        return 2
    command, rest = (argv[0], argv[1:]) if argv else ("demo", [])
    try:
        ensure_venv()
        ensure_packages()
        ensure_opus()
    except KeyboardInterrupt:
        say("interrupted while setting up; run the command again to finish")
        return 130
    python = str(venv_python())
    os.chdir(ROOT)
    if command == "test":
        args = [python, "-m", "pytest", "-rs", *rest]
    else:
        args = [python, "-m", "spatius_avatar_python", command, *rest]
    return run_child(args)


def _stop_on_sigterm(number: int, _frame: object) -> None:
    raise SystemExit(128 + number)  # during set-up: subprocess.run ends its child on the way out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Set up (idempotently) and run: `python3 run.py demo` or `python3 run.py test`.

Creates .venv, installs requirements-dev.txt when it changed, installs the system Opus
library when it is missing and can be installed (Debian/Ubuntu as root, or Homebrew),
then runs the demo on the built-in Spatius emulator or the test suite. Extra arguments
are passed on (e.g. `python3 run.py test -k flush`, `python3 run.py demo --wav my.wav`).
Other commands run the CLI: `python3 run.py check examples/graph.json`.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
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


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 10):
        say(f"Python 3.10 or newer is needed (this is {platform.python_version()})")
        return 2
    command, rest = (argv[0], argv[1:]) if argv else ("demo", [])
    ensure_venv()
    ensure_packages()
    ensure_opus()
    python = str(venv_python())
    os.chdir(ROOT)
    if command == "test":
        args = [python, "-m", "pytest", "-rs", *rest]
    else:
        args = [python, "-m", "spatius_avatar_python", command, *rest]
    return subprocess.run(args).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Set up (idempotently) and run: `python3 run.py demo` or `python3 run.py test`.

Creates .venv, installs requirements-dev.txt when it changed, installs the system Opus
library when it is missing and can be installed (Debian/Ubuntu as root, or Homebrew),
then runs the command. Works from any folder: file arguments are read relative to the
folder the command is run in, e.g. `python3 path/to/run.py check --graph property.json`.
Set-up takes a lock, so two first runs at once are safe (the second waits). Ctrl-C and
SIGTERM are handed to the command, which stops as it would by itself; run.py then exits
130 / 143. `python3 run.py --help` lists the commands.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".requirements-stamp"
LOCK_FILE = ROOT / ".setup.lock"  # beside .venv: one set-up at a time per clone
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
APT_LOCK_TIMEOUT_S = 120  # how long apt-get waits for another apt/dpkg to release its lock

# What `python3 run.py --help` lists; the CLI's own commands are checked against it by a test.
COMMANDS = {
    "demo": "stream real speech through the extension to a local Spatius emulator, with a barge-in (the default)",
    "test": "run the test suite (extra arguments go to pytest, e.g. `test -k flush`, `test tests/cli`)",
    "lint": "run the linter, the formatter check and the type checker (ruff, mypy), as CI does",
    "check": "validate the avatar's properties and wiring in a graph, property or Convo AI file",
    "stream": "stream an audio file to a real Spatius session (or the emulator) and report what happened",
    "emulator": "run the Spatius service emulator and print the avatar properties that use it",
}


def say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def invocation() -> str:
    """How the user ran this script, for usage lines: `python3 run.py` or `python3 <path>/run.py`."""
    typed = sys.argv[0] if sys.argv and sys.argv[0] else "run.py"
    return f"python3 {typed}"


def usage() -> str:
    run = invocation()
    width = max(map(len, COMMANDS))
    lines = [
        f"usage: {run} [<command>] [<arguments>...]",
        "",
        "Sets up .venv on first use (Python packages, the system Opus library), then runs the command.",
        "File arguments are read relative to the folder you run it in.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()),
        "",
        f"`{run} <command> --help` describes a command's options.",
    ]
    return "\n".join(lines)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@contextmanager
def setup_lock() -> Iterator[None]:
    """Hold the clone's set-up lock: a second run.py waits here (saying so) until the first
    has finished setting up, then finds everything in place."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks in the standard library; run one at a time
        yield
        return
    with open(LOCK_FILE, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip()
            say(
                f"another run.py{f' (pid {holder})' if holder.isdigit() else ''} is setting up {ROOT.name}; "
                "waiting for it to finish"
            )
            fcntl.flock(lock, fcntl.LOCK_EX)
            say("the other set-up has finished; going on")
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_venv() -> None:
    if venv_python().exists() and not STAMP.exists() and not _has_pip():
        # Left half-made by an interrupted first run: make it again.
        say(f"the virtual environment in {VENV} is incomplete; creating it again")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    if not venv_python().exists():
        say(f"creating a virtual environment in {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)


def _has_pip() -> bool:
    return (
        subprocess.run(
            [str(venv_python()), "-m", "pip", "--version"], capture_output=True
        ).returncode
        == 0
    )


def ensure_packages() -> None:
    digest = hashlib.sha256(
        b"".join((ROOT / name).read_bytes() for name in REQUIREMENTS)
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    say("installing Python packages (requirements-dev.txt)")
    pip = [str(venv_python()), "-m", "pip"]
    subprocess.run(pip + ["install", "--quiet", "--upgrade", "pip"], check=False)
    subprocess.run(
        pip + ["install", "--quiet", "-r", str(ROOT / "requirements-dev.txt")], check=True
    )
    STAMP.write_text(digest)


def opus_loads() -> bool:
    probe = subprocess.run([str(venv_python()), "-c", "import opuslib_next"], capture_output=True)
    return probe.returncode == 0


APT_BUSY = ("Could not get lock", "Unable to acquire the dpkg frontend lock", "Unable to lock")


def apt_install(package: str) -> str | None:
    """`apt-get install package`, waiting up to APT_LOCK_TIMEOUT_S for another apt or dpkg
    to release its lock. None when it worked, else why not, in a few words."""
    wait = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_S}"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    output = ""
    for args in (["update", "-qq"], ["install", "-y", "-qq", package]):
        done = subprocess.run(
            ["apt-get", *wait, *args], capture_output=True, text=True, env=env, check=False
        )
        output += done.stdout + done.stderr
        if any(sign in output for sign in APT_BUSY):
            return f"apt is busy: another apt-get or dpkg held its lock for more than {APT_LOCK_TIMEOUT_S} s"
        if args[0] == "install" and done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return f"apt-get install failed: {last}"
    return None


def ensure_opus() -> None:
    if opus_loads():
        return
    system = platform.system()
    why_not = None
    if system == "Linux" and shutil.which("apt-get") and os.geteuid() == 0:
        say("installing the system Opus library (apt-get install libopus0)")
        why_not = apt_install("libopus0")
    elif system == "Darwin" and shutil.which("brew"):
        say("installing the system Opus library (brew install opus)")
        subprocess.run(["brew", "install", "opus"], check=False)
    if opus_loads():
        return
    fix = {
        "Linux": "sudo apt-get install libopus0 (Debian/Ubuntu) or your distribution's opus package",
        "Darwin": "brew install opus",
    }.get(system, "install the Opus library (libopus) for your system")
    if why_not is not None:
        say(f"could not install the system Opus library ({why_not}); install it later: {fix}")
    else:
        say(f"the system Opus library is missing: {fix}")
    say(
        "without it the demo runs with PCM (pcm_s16le) instead of Ogg Opus, only params.audio_format "
        '"pcm_s16le" works in a TEN app, and the Opus tests fail'
    )


FORWARDED = (signal.SIGINT, signal.SIGTERM)
SI_KERNEL = (
    0x80  # si_code of a signal the kernel sent: a terminal's Ctrl-C goes to the whole process group
)
KILL_AFTER_S = 20.0  # a child that has not ended this long after the signal is killed


def run_child(args: list[str], cwd: Path | None = None) -> int:
    """Run the command and hand Ctrl-C and SIGTERM on to it: it stops as it would by itself,
    with no traceback here and no process left behind. Exit code: the child's, or
    128 + the signal (130, 143) when one stopped it."""
    early: list[int] = []  # a signal in the moment before the child can be told of it
    previous = {
        sig: signal.signal(sig, lambda number, _frame: early.append(number)) for sig in FORWARDED
    }
    try:
        child = subprocess.Popen(args, cwd=cwd)
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
                say(
                    f"the command did not stop within {KILL_AFTER_S:.0f} s of the signal: killing it"
                )
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
                        say(
                            f"the command did not stop within {KILL_AFTER_S:.0f} s of the signal: killing it"
                        )
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


# The CLI runs with the user's folder as its working directory (so relative file arguments
# mean what the user meant) and with the clone first on sys.path (so nothing in the user's
# folder shadows the package).
LAUNCH_CLI = (
    "import sys; root, prog = sys.argv[1:3]; sys.path[0] = root; "
    "from spatius_avatar_python.cli import main; sys.exit(main(sys.argv[3:], prog=prog))"
)
# pytest options whose value is a file or folder (resolved against the user's folder), and
# options whose value is something else (skipped when looking for test paths).
PYTEST_PATH_OPTIONS = (
    "--junitxml",
    "--junit-xml",
    "--basetemp",
    "--ignore",
    "--ignore-glob",
    "--deselect",
    "--log-file",
    "--confcutdir",
    "-c",
    "--config-file",
)
PYTEST_VALUE_OPTIONS = (
    "-k",
    "-m",
    "-p",
    "-o",
    "-W",
    "--timeout",
    "--maxfail",
    "--tb",
    "--durations",
    "--log-level",
    "--hypothesis-seed",
    "--capture",
    "--import-mode",
)


def pytest_args(args: list[str], here: Path) -> list[str]:
    """pytest runs in the clone (its pytest.ini and tests are there): a test path the user gave
    relative to their own folder is made absolute; one that exists only in the clone (e.g.
    `tests/cli` typed from elsewhere) is left for pytest to find there."""
    out: list[str] = []
    pending: str | None = None  # the option whose value comes next
    for arg in args:
        if pending is not None:
            out.append(str(here / arg) if pending in PYTEST_PATH_OPTIONS else arg)
            pending = None
            continue
        if arg.startswith("-"):
            name, sep, value = arg.partition("=")
            if sep and name in PYTEST_PATH_OPTIONS:
                out.append(f"{name}={here / value}")
                continue
            if not sep and arg in PYTEST_PATH_OPTIONS + PYTEST_VALUE_OPTIONS:
                pending = arg
            out.append(arg)
            continue
        path, sep, rest = arg.partition("::")
        mine = here / path
        out.append(f"{mine}{sep}{rest}" if path and mine.exists() else arg)
    return out


# The TEN glue imports the inner package relatively, as `ten_packages.extension.<name>` in an
# app: mypy checks it under that name through a link in a temporary folder.
TEN_GLUE_MODULES = ("", ".addon", ".extension")


def lint(python: str) -> int:
    """ruff check, ruff format --check, mypy, then mypy on the TEN glue; 1 if any failed."""
    failed = False
    for step in (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]):
        say(" ".join(step))
        failed |= subprocess.run([python, "-m", *step], cwd=ROOT).returncode != 0
    say("mypy (the TEN glue, as a TEN app imports it)")
    with tempfile.TemporaryDirectory() as shim:
        package = Path(shim, "ten_packages", "extension", "spatius_avatar_python")
        package.parent.mkdir(parents=True)
        package.symlink_to(ROOT, target_is_directory=True)
        modules = [
            arg
            for suffix in TEN_GLUE_MODULES
            for arg in ("-m", f"ten_packages.extension.spatius_avatar_python{suffix}")
        ]
        done = subprocess.run(
            [python, "-m", "mypy", "--follow-imports=silent", *modules],
            cwd=ROOT,
            env={**os.environ, "MYPYPATH": shim},
            capture_output=True,
            text=True,
        )
        print(done.stdout.replace(f"{package}{os.sep}", ""), end="")
        print(done.stderr, end="", file=sys.stderr)
        failed |= done.returncode != 0
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 10):
        say(f"Python 3.10 or newer is needed (this is {platform.python_version()})")
        return 2
    if argv and argv[0] in ("-h", "--help", "help"):
        try:
            print(usage(), flush=True)
        except BrokenPipeError:  # `run.py --help | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    command, rest = (argv[0], argv[1:]) if argv else ("demo", [])
    if command not in COMMANDS:
        print(usage(), file=sys.stderr)
        print(f"\n{invocation()}: unknown command {command!r}", file=sys.stderr)
        return 2
    if command == "lint" and {"-h", "--help"} & set(rest):
        print(
            f"usage: {invocation()} lint\n\n{COMMANDS['lint']}; settings in pyproject.toml, "
            "details in docs/development-tooling.md"
        )
        return 0
    try:
        with setup_lock():
            ensure_venv()
            ensure_packages()
            ensure_opus()
    except KeyboardInterrupt:
        say("interrupted while setting up; run the command again to finish")
        return 130
    python = str(venv_python())
    if command == "lint":
        return lint(python)
    if command == "test":
        return run_child([python, "-m", "pytest", "-rs", *pytest_args(rest, Path.cwd())], cwd=ROOT)
    return run_child([python, "-c", LAUNCH_CLI, str(ROOT), invocation(), command, *rest])


def _stop_on_sigterm(number: int, _frame: object) -> None:
    raise SystemExit(128 + number)  # during set-up: subprocess.run ends its child on the way out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    sys.exit(main(sys.argv[1:]))

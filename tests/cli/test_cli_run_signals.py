"""run.py hands Ctrl-C and SIGTERM to the command it runs: the command stops as it would on
its own, run.py exits 130 / 143 with no traceback, and no process is left behind. Real
processes; the signals are sent by the test, or typed as Ctrl-C into a real terminal (pty)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_PY = REPO / "run.py"
TIMEOUT_S = 90.0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RUN_PY), *command],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str) -> list[str]:
    seen = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"never printed {text!r}: {''.join(seen)}")


@pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc (Linux)"
)
@pytest.mark.parametrize(
    ("command", "ready", "sig", "code"),
    [
        (["emulator", "--quiet"], "Spatius emulator listening on", signal.SIGTERM, 143),
        (["emulator", "--quiet"], "Spatius emulator listening on", signal.SIGINT, 130),
        (["demo", "--pace", "0.5"], "TTS: utterance 1 starts", signal.SIGINT, 130),
        (["demo", "--pace", "0.5"], "TTS: utterance 1 starts", signal.SIGTERM, 143),
    ],
)
def test_the_signal_reaches_the_command_and_nothing_is_left(
    command: list[str], ready: str, sig: int, code: int
) -> None:
    process = start(command)
    try:
        wait_for_line(process, ready)
        (child,) = children(process.pid)  # python -m spatius_avatar_python <command>
        assert alive(child)
        os.kill(process.pid, sig)  # to run.py alone, as `kill` or a service manager sends it
        out, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == code, err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert not alive(child)
    if command[0] == "emulator":
        assert "Spatius emulator stopped" in out


PROBE = r"""
import signal, sys, time
count = 0
def on_sigint(number, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, on_sigint)
print("probe ready", flush=True)
while count == 0:
    time.sleep(0.01)
time.sleep(1.0)  # a second SIGINT would arrive meanwhile
print(f"probe got {count} SIGINT", flush=True)
"""
HARNESS = r"""
import sys
sys.path.insert(0, sys.argv[1])
import run
sys.exit(run.run_child([sys.executable, "-c", sys.argv[2]]))
"""


@pytest.mark.skipif(
    not hasattr(signal, "sigtimedwait"),
    reason="the terminal case is told apart with sigtimedwait (Linux)",
)
def test_ctrl_c_in_a_terminal_reaches_the_command_once() -> None:
    # run.py and its child share the terminal's foreground process group, so the terminal
    # sends both the Ctrl-C: run.py must not send the child a second one.
    pid, master = pty.fork()
    if pid == 0:  # the child: exec at once
        os.execv(sys.executable, [sys.executable, "-c", HARNESS, str(REPO), PROBE])
    output = b""
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while b"probe ready" not in output and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                output += os.read(master, 1024)
        os.write(master, b"\x03")  # Ctrl-C typed into the terminal
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(master, 1024)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            output += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    text = output.decode(errors="replace")
    assert "probe got 1 SIGINT" in text, text
    assert os.waitstatus_to_exitcode(status) == 130
    assert "Traceback" not in text


def test_a_signal_sent_to_run_py_alone_is_forwarded_once(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(REPO), PROBE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout.readline().strip() == "probe ready"
        os.kill(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "probe got 1 SIGINT" in out and process.returncode == 130, err

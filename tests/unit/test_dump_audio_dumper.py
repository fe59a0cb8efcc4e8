"""AudioDumper: one WAV per request, written by a background thread."""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from spatius_avatar_python.dump import AudioDumper


def pcm(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).integers(-30000, 30000, n, dtype=np.int16).tobytes()


def read_wav(path: Path) -> tuple[int, int, int, bytes]:
    with wave.open(str(path), "rb") as wav:
        return (
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.getframerate(),
            wav.readframes(wav.getnframes()),
        )


def test_each_request_gets_a_wav_with_the_right_header_and_content(tmp_path: Path) -> None:
    dumper = AudioDumper(tmp_path / "dumps", 24000)
    a1, a2, b1 = pcm(1, 480), pcm(2, 333), pcm(3, 960)
    dumper.write("req-a", a1)
    dumper.write("req/b", b1)  # interleaved requests, key with a path separator
    dumper.write("req-a", bytearray(a2))
    dumper.end("req-a")
    dumper.close()

    assert sorted(p.name for p in (tmp_path / "dumps").iterdir()) == [
        "spatius_1_req-a.wav",
        "spatius_2_req_b.wav",
    ]
    assert read_wav(tmp_path / "dumps" / "spatius_1_req-a.wav") == (1, 2, 24000, a1 + a2)
    # Still open at close(): close() must finish its header too.
    assert read_wav(tmp_path / "dumps" / "spatius_2_req_b.wav") == (1, 2, 24000, b1)


def test_same_key_after_end_starts_a_new_numbered_file(tmp_path: Path) -> None:
    dumper = AudioDumper(tmp_path, 16000, prefix="turn")
    dumper.write("r", pcm(1, 100))
    dumper.end("r")
    dumper.write("r", pcm(2, 200))
    dumper.close()
    assert [p.name for p in dumper.paths] == ["turn_1_r.wav", "turn_2_r.wav"]
    assert read_wav(tmp_path / "turn_2_r.wav")[3] == pcm(2, 200)


def test_caller_may_reuse_its_buffer_after_write(tmp_path: Path) -> None:
    dumper = AudioDumper(tmp_path, 24000)
    buffer = bytearray(pcm(1, 100))
    original = bytes(buffer)
    dumper.write("r", buffer)
    buffer[:] = bytes(len(buffer))
    dumper.close()
    assert read_wav(dumper.paths[0])[3] == original


def test_unwritable_directory_reports_one_error_and_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the dump directory should be")
    errors: list[str] = []
    dumper = AudioDumper(blocker / "dumps", 24000, on_error=errors.append)
    for i in range(5):
        dumper.write(f"req-{i}", pcm(i, 100))
        dumper.end(f"req-{i}")
    dumper.close()
    assert len(errors) == 1
    assert str(blocker / "dumps") in errors[0]
    assert not (blocker.parent / "dumps").exists()


def test_error_without_callback_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    dumper = AudioDumper(blocker / "d", 24000)
    dumper.write("r", pcm(1, 10))
    dumper.close()
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "audio dump" in caplog.records[0].getMessage()


def test_write_does_not_wait_for_the_disk(tmp_path: Path) -> None:
    # Stall the writer thread as a hung disk would; write() must still return at once.
    gate = threading.Event()
    dumper = AudioDumper(tmp_path, 24000)
    dumper.write("r", pcm(1, 10))  # starts the thread
    original = dumper._file_for

    def slow_file_for(key: str) -> wave.Wave_write:
        gate.wait(timeout=5)
        return original(key)

    dumper._file_for = slow_file_for  # type: ignore[method-assign]
    for i in range(50):
        dumper.write(f"q{i}", pcm(i, 10))
    assert len(dumper.paths) <= 1  # none of the 50 was written while the writer is stuck
    gate.set()
    dumper.close()
    assert len(dumper.paths) == 51


def test_close_is_idempotent_and_later_calls_are_ignored(tmp_path: Path) -> None:
    dumper = AudioDumper(tmp_path, 24000)
    dumper.write("r", pcm(1, 10))
    dumper.close()
    dumper.close()
    dumper.write("r", pcm(2, 10))
    dumper.end("r")
    assert len(list(tmp_path.iterdir())) == 1


def test_unused_dumper_creates_nothing(tmp_path: Path) -> None:
    dumper = AudioDumper(tmp_path / "never", 24000)
    dumper.end("r")
    dumper.close()
    assert not (tmp_path / "never").exists()

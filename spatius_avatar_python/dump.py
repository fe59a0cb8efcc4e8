"""Debugging dump of the audio sent to Spatius: one WAV file per request, written off the loop."""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import wave
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_KEY_CHARS = 64

_WRITE, _END, _CLOSE = "write", "end", "close"


def _safe_key(request_key: str) -> str:
    return _UNSAFE_FILENAME_CHARS.sub("_", request_key)[:_MAX_KEY_CHARS] or "request"


class AudioDumper:
    """Writes the conditioned mono PCM of each request to <dir>/<prefix>_<n>_<req>.wav, off
    the loop.

    `n` counts requests from 1 in the order of their first write. write() and end() only
    queue work for one background thread. The first error (e.g. an unwritable directory)
    is reported once through `on_error`, called from that thread, and turns the dumper off;
    without `on_error` it is logged.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        sample_rate: int,
        *,
        prefix: str = "spatius",
        on_error: Callable[[str], object] | None = None,  # what it returns is not used
    ) -> None:
        self._directory = Path(directory)
        self._sample_rate = sample_rate
        self._prefix = _safe_key(prefix)
        self._on_error = on_error
        self._queue: queue.SimpleQueue[tuple[str, str, bytes]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._failed = False
        # Owned by the writer thread only.
        self._open_files: dict[str, wave.Wave_write] = {}
        self._count = 0
        self.paths: list[Path] = []  # files created so far, in order (for tests and logs)

    def write(self, request_key: str, pcm: bytes | bytearray | memoryview) -> None:
        """Queue `pcm` (mono s16le) for the request's file; never blocks, never raises."""
        if self._closed or self._failed or not pcm:
            return
        self._ensure_thread()
        self._queue.put((_WRITE, request_key, bytes(pcm)))

    def end(self, request_key: str) -> None:
        """Close the request's file; a later write with the same key starts a new file."""
        if self._closed or self._failed or self._thread is None:
            return
        self._queue.put((_END, request_key, b""))

    def close(self) -> None:
        """Write everything queued, close all files and stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put((_CLOSE, "", b""))
            self._thread.join()

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                # Daemon: a dumper someone forgot to close must not keep the process alive.
                self._thread = threading.Thread(
                    target=self._run, name="spatius-audio-dump", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            action, key, pcm = self._queue.get()
            if action == _CLOSE:
                self._close_all()
                return
            if self._failed:
                continue  # drain without work after the one reported error
            try:
                if action == _WRITE:
                    self._file_for(key).writeframesraw(pcm)
                else:
                    wav = self._open_files.pop(key, None)
                    if wav is not None:
                        wav.close()
            except Exception as exc:
                self._fail(f"audio dump to {self._directory} failed: {exc}")

    def _file_for(self, key: str) -> wave.Wave_write:
        wav = self._open_files.get(key)
        if wav is None:
            self._directory.mkdir(parents=True, exist_ok=True)
            self._count += 1
            path = self._directory / f"{self._prefix}_{self._count}_{_safe_key(key)}.wav"
            wav = wave.open(str(path), "wb")  # noqa: SIM115 - open across writes; _close_all closes it
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(self._sample_rate)
            self._open_files[key] = wav
            self.paths.append(path)
        return wav

    def _close_all(self) -> None:
        for wav in self._open_files.values():
            try:
                wav.close()  # writes the final header sizes
            except Exception as exc:
                self._fail(f"audio dump to {self._directory} failed: {exc}")
        self._open_files.clear()

    def _fail(self, message: str) -> None:
        if self._failed:
            return
        self._failed = True
        if self._on_error is None:
            logger.error(message)
            return
        try:
            self._on_error(message)
        except Exception:
            logger.exception("audio dump error callback failed")

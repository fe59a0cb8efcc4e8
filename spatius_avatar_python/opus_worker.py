"""One Opus encoder thread per process, with the fewest hand-offs between it and the loop.

Today each Ogg Opus job is `loop.run_in_executor(...)`: a ThreadPoolExecutor submit (a lock,
a condition to wake a worker), a concurrent future chained to an asyncio future, and one
`call_soon_threadsafe` per job, i.e. one self-pipe write and one wake-up of the shared loop
per 20 ms frame and session. Here:

- jobs go into one `queue.SimpleQueue` (C: a put wakes the thread only if it waits);
- one daemon thread takes every job queued, encodes them in order, and hands **all** their
  results to each loop in **one** `call_soon_threadsafe` per batch; under load (many
  sessions, or the batching rule giving 40 ms per job) one wake-up serves many jobs;
- the results land on plain asyncio futures created by the caller on its loop.

One thread, because libopus is the work and the GIL serialises the Python around it: a
second thread adds hand-offs, not throughput (two cores here, and the loop needs one).
Jobs of one encoder run in submission order (one queue, one thread), which the Ogg stream
needs. The encoder's loop-side accounting (`OggOpusRequestEncoder._take`: what is withheld,
what completes a frame) stays on the loop, as with `encode`.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

from .opus import OggOpusRequestEncoder

_STOP = object()


class OpusWorker:
    """The encoder thread. `encode` is awaited on a loop; any number of loops may use it."""

    def __init__(self, name: str = "spatius-opus-worker") -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._name = name
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = (
            0  # hand-offs to loops made (one per batch per loop): for tests and benchmarks
        )
        self.jobs = 0

    async def encode(self, encoder: OggOpusRequestEncoder, pcm: bytes, *, end: bool) -> bytes:
        """Same contract as `encoder.encode`: Ogg pages ready to send (b"" while a frame fills);
        calls for one encoder are sequential (await each before the next)."""
        future = self.submit(encoder, pcm, end=end)
        return b"" if future is None else await future

    def submit(
        self, encoder: OggOpusRequestEncoder, pcm: bytes, *, end: bool
    ) -> asyncio.Future[bytes] | None:
        """`encode` without the await: the future of the Ogg pages, or None when the call
        yields nothing (a frame still fills). The caller may complete the future itself (an
        interrupt overtaking the job): the thread's result is then dropped."""
        chunk = encoder._take(pcm, end)
        if chunk is None:
            return None
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._ensure_thread()
        self._jobs.put((future.get_loop(), future, encoder, chunk, end))
        return future

    def close(self) -> None:
        """Stop the thread after the jobs already queued (for tests; the process-wide worker
        lives as long as the process, as a daemon)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(_STOP)
            thread.join()

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        jobs = self._jobs
        while True:
            batch = [jobs.get()]
            while True:  # everything queued meanwhile goes in the same batch
                try:
                    batch.append(jobs.get_nowait())
                except queue.Empty:
                    break
            results: dict[
                asyncio.AbstractEventLoop,
                list[tuple[asyncio.Future[bytes], bytes | None, BaseException | None]],
            ] = {}
            stop = False
            for job in batch:
                if job is _STOP:
                    stop = True
                    continue
                loop, future, encoder, chunk, end = job
                try:
                    out, error = encoder._encode_now(chunk, end), None
                except BaseException as exc:  # handed to the awaiting caller, never lost here
                    out, error = None, exc
                results.setdefault(loop, []).append((future, out, error))
            self.jobs += len(batch) - stop
            for loop, done in results.items():
                self.batches += 1
                try:
                    loop.call_soon_threadsafe(_deliver, done)
                except RuntimeError:  # that loop is closed: nobody awaits these any more
                    pass
            if stop:
                return


def _deliver(done: list[tuple[asyncio.Future[bytes], bytes | None, BaseException | None]]) -> None:
    """On the loop: complete the batch's futures (a cancelled caller's result is dropped)."""
    for future, out, error in done:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(out if out is not None else b"")


_shared: OpusWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> OpusWorker:
    """The process-wide encoder thread, created on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OpusWorker()
        return _shared

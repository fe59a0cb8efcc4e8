"""An asyncio event loop running on a daemon thread of its own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, Callable


class LoopThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Runs fn(*args) on the loop soon; False once the loop is closed."""
        try:
            if threading.get_ident() == self.thread.ident:
                # From the loop's own thread (a node sending to a node of the same app):
                # the loop is awake, so skip call_soon_threadsafe's self-pipe write. Same
                # FIFO queue, same order.
                self.loop.call_soon(fn, *args)
            else:
                self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            return False
        return True

    def stop(self, grace_s: float) -> bool:
        """Cancels every task left on the loop, stops it and joins the thread. False when
        the loop did not stop within the grace time (something blocks it)."""
        if not self.thread.is_alive():
            return True
        try:
            self.submit(_cancel_all_tasks(grace_s)).result(timeout=grace_s + 1.0)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        self.call(self.loop.stop)
        self.thread.join(timeout=grace_s)
        return not self.thread.is_alive()


async def _cancel_all_tasks(grace_s: float) -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=grace_s)

"""Time the event loop spends running callbacks, by wrapping `asyncio.Handle._run`.

Every ready callback and every task step of an asyncio loop runs through `Handle._run`
(tasks schedule their steps as handles). Wrapping it costs two `perf_counter()` calls and
one dict lookup per callback (the lookup outside the timed span), measures exactly the
time the loop is held (not the time it sleeps in `select`), and needs no profiler.
Callbacks are counted only for the loop being watched; each is put in a category by
`classify(callback)`, cached per task.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Classifier = Callable[[Any], str]


@dataclass
class LoopSnapshot:
    at: float  # perf_counter
    busy_s: dict[str, float] = field(default_factory=dict)  # cumulative per category
    callbacks: int = 0
    max_hold_s: float = 0.0  # longest single callback since the previous snapshot
    max_hold_category: str = ""


class LoopMeter:
    def __init__(self, classify: Classifier) -> None:
        self._classify = classify
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy: dict[str, float] = {}
        self._callbacks = 0
        self._max = 0.0
        self._max_category = ""
        self._task_category: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._original = asyncio.events.Handle._run

    def watch(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Count callbacks of `loop` from now on (None: of no loop)."""
        self._loop = loop

    def install(self) -> None:
        meter = self
        original = self._original
        perf = time.perf_counter

        # `self: Any`: it replaces the method `Handle._run` (hence `self`), and reads the
        # handle's private `_loop` and `_callback`, which typeshed does not declare.
        def _run(self: Any) -> None:
            if self._loop is not meter._loop:
                return original(self)
            # Classified before it runs: a task whose coroutine finishes in this step has no
            # frame left to look at afterwards.
            category = meter._category(self._callback)
            start = perf()
            try:
                return original(self)
            finally:
                meter._count(category, perf() - start)

        # Assigning to a method is the point here (mypy flags any method assignment).
        asyncio.events.Handle._run = _run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]

    def _category(self, callback: Any) -> str:
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task):
            category = self._task_category.get(owner)
            if category is None:
                category = self._task_category[owner] = self._classify(callback)
            return category
        return self._classify(callback)

    def _count(self, category: str, elapsed: float) -> None:
        with self._lock:
            self._busy[category] = self._busy.get(category, 0.0) + elapsed
            self._callbacks += 1
            if elapsed > self._max:
                self._max, self._max_category = elapsed, category

    def snapshot(self) -> LoopSnapshot:
        with self._lock:
            snap = LoopSnapshot(
                time.perf_counter(),
                dict(self._busy),
                self._callbacks,
                self._max,
                self._max_category,
            )
            self._max, self._max_category = 0.0, ""
        return snap


def window(snapshots: list[LoopSnapshot], start: float, end: float) -> dict[str, Any]:
    """Busy time per category and the longest hold between the snapshots closest to
    [start, end] (snapshots are taken every fraction of a second)."""
    inside = [s for s in snapshots if start <= s.at <= end]
    before = [s for s in snapshots if s.at < start]
    first = before[-1] if before else snapshots[0]
    last = inside[-1] if inside else snapshots[-1]
    categories = set(first.busy_s) | set(last.busy_s)
    busy = {c: last.busy_s.get(c, 0.0) - first.busy_s.get(c, 0.0) for c in categories}
    holds = [s for s in inside if s is not first]
    longest = max(holds, key=lambda s: s.max_hold_s, default=LoopSnapshot(0.0))
    return {
        "seconds": last.at - first.at,
        "busy_s": busy,
        "callbacks": last.callbacks - first.callbacks,
        "max_hold_s": longest.max_hold_s,
        "max_hold_category": longest.max_hold_category,
    }

"""Runs a graph with a tester that stops once a predicate over the records holds, or
fails with ErrorCodeTimeout after a generous timeout."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ten_runtime import AsyncExtensionTester, AsyncTenEnvTester, TenError, TenErrorCode

from .records import Registry, registry


@dataclass
class GraphOutcome:
    error: TenError | None  # what run() returned
    satisfied: bool  # the predicate held before the timeout
    records: Registry


class _UntilTester(AsyncExtensionTester):
    def __init__(self, until: Callable[[Registry], bool], timeout_s: float) -> None:
        super().__init__()
        self._until = until
        self._wait_s = timeout_s
        self.satisfied = False
        self._waiter: asyncio.Task[None] | None = None

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        self._waiter = asyncio.create_task(self._wait_and_stop(ten_env))

    async def _wait_and_stop(self, ten_env: AsyncTenEnvTester) -> None:
        self.satisfied = await registry.wait_until(self._until, self._wait_s)
        ten_env.stop_test(None if self.satisfied else TenError.create(
            TenErrorCode.ErrorCodeTimeout,
            f"the graph's records did not satisfy the predicate within {self._wait_s} s"))


def run_graph_until(
    graph: dict[str, Any] | str,
    until: Callable[[Registry], bool],
    timeout_s: float = 30.0,
    reset_records: bool = True,
) -> GraphOutcome:
    """Blocks while the graph runs; `until` is evaluated on every change of the records."""
    if reset_records:
        registry.reset()
    tester = _UntilTester(until, timeout_s)
    tester.set_test_mode_graph(graph if isinstance(graph, str) else json.dumps(graph))
    error = tester.run()
    return GraphOutcome(error, tester.satisfied, registry)

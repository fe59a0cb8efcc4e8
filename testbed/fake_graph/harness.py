"""Runs a graph with a tester that stops once a predicate over the records holds, or
fails with ErrorCodeTimeout after a generous timeout.

The real tester runs the graph exactly as given: the graph must list the tester's own node
(`the_tester_node()`), or the tester never starts and run() blocks forever. run_graph_until
refuses such a graph up front instead of hanging."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ten_runtime import AsyncExtensionTester, AsyncTenEnvTester, TenError, TenErrorCode

from .records import Registry, registry

TESTER_NODE_NAME = "ten:test_extension"  # the real tester's addon, and its node's usual name


def the_tester_node() -> dict[str, Any]:
    """The node that a graph run by an AsyncExtensionTester must list: the tester itself.
    Connections to and from it (name `ten:test_extension`) carry what it sends or receives."""
    return {"type": "extension", "name": TESTER_NODE_NAME, "addon": TESTER_NODE_NAME}


def check_tester_node(graph: object) -> None:
    """Raises ValueError when `graph` does not list the tester's node (see the_tester_node)."""
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if not any(isinstance(n, dict) and n.get("addon") == TESTER_NODE_NAME for n in nodes or []):
        raise ValueError(
            f"the graph does not list the tester's node {json.dumps(the_tester_node())}: the real "
            "tester runs the graph as given and, without that node, never starts (run() blocks "
            "forever). Add it with fake_graph.the_tester_node()."
        )


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
        ten_env.stop_test(
            None
            if self.satisfied
            else TenError.create(
                TenErrorCode.ErrorCodeTimeout,
                f"the graph's records did not satisfy the predicate within {self._wait_s} s",
            )
        )


def run_graph_until(
    graph: dict[str, Any] | str,
    until: Callable[[Registry], bool],
    timeout_s: float = 30.0,
    reset_records: bool = True,
) -> GraphOutcome:
    """Blocks while the graph runs; `until` is evaluated on every change of the records."""
    if reset_records:
        registry.reset()
    check_tester_node(json.loads(graph) if isinstance(graph, str) else graph)
    tester = _UntilTester(until, timeout_s)
    tester.set_test_mode_graph(graph if isinstance(graph, str) else json.dumps(graph))
    error = tester.run()
    return GraphOutcome(error, tester.satisfied, registry)

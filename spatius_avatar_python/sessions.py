"""One Spatius SDK session on the wire: opened in a sub-task, sent to with a deadline, closed
within a bound (its transport killed when the SDK's close does not finish).

The lifecycle (lifecycle.py) decides when; this module only does it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .failures import Failure
from .lifecycle import Link
from .requests import SentLog

CONNECT_TIMEOUT_S = 20.0
CLOSE_TIMEOUT_S = 3.0  # the SDK's close (a WebSocket closing handshake) may take this long
KILL_WAIT_S = 1.0  # after the transport is aborted, the SDK's tasks end within this
CLOSE_BOUND_S = CLOSE_TIMEOUT_S + KILL_WAIT_S  # a link is closed, its tasks gone, within this
# A send that cannot complete in this long (the service stopped reading: TCP backpressure)
# is a lost connection; the owner must not wait on it longer.
SEND_TIMEOUT_S = 2.0

T = TypeVar("T")

if sys.version_info >= (3, 11):

    async def bounded(awaitable: Awaitable[T], seconds: float) -> T:
        """`awaitable`, or TimeoutError after `seconds` (no extra task per call)."""
        async with asyncio.timeout(seconds):
            return await awaitable
else:  # pragma: no cover  (3.10)

    async def bounded(awaitable: Awaitable[T], seconds: float) -> T:
        return await asyncio.wait_for(awaitable, seconds)


@dataclass(eq=False)
class SessionLink:
    """The owner's side of one link: the SDK session and what was sent on it."""

    link: Link
    session: Any
    go: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None  # the opener
    suspect: Failure | None = None  # a send on it failed: the SDK's report is awaited
    sent: SentLog = field(default_factory=SentLog)


async def open_session(link: SessionLink, on_token_ahead: Callable[[], None]) -> None:
    """Token, then (when `go` is set) WebSocket and handshake, each within CONNECT_TIMEOUT_S."""
    await bounded(link.session.init(), CONNECT_TIMEOUT_S)
    if not link.go.is_set():
        on_token_ahead()
        await link.go.wait()
    await bounded(link.session.start(), CONNECT_TIMEOUT_S)


def _connection_of(session: Any) -> Any:
    return getattr(session, "_connection", None)


async def close_session(
    session: Any, opener: asyncio.Task[None] | None, log: Callable[[str, str], None]
) -> None:
    """Close within CLOSE_BOUND_S and leave none of the SDK's tasks behind."""
    if opener is not None and not opener.done():
        opener.cancel()
        await asyncio.wait({opener}, timeout=KILL_WAIT_S)
    connection = _connection_of(session)  # the SDK forgets it while closing: keep it to kill it
    closer = asyncio.ensure_future(session.close())
    done, _ = await asyncio.wait({closer}, timeout=CLOSE_TIMEOUT_S)
    if not done:
        log("debug", "closing a Spatius session took too long: killing its connection")
        kill_connection(connection)
        done, _ = await asyncio.wait({closer}, timeout=KILL_WAIT_S)
        if not done:
            closer.cancel()
    kill_tasks(session, connection)
    if closer.done() and not closer.cancelled() and closer.exception() is not None:
        log("debug", f"closing a Spatius session: {type(closer.exception()).__name__}")


def kill_connection(connection: Any) -> None:
    transport = getattr(connection, "transport", None)
    if transport is not None:
        try:
            transport.abort()
        except Exception:
            pass


def kill_tasks(session: Any, connection: Any) -> None:
    """Cancel what the SDK (its read loop) and websockets (keepalive) may have left running."""
    for task in (getattr(session, "_read_task", None), getattr(connection, "keepalive_task", None)):
        if (
            isinstance(task, asyncio.Task)
            and not task.done()
            and task is not asyncio.current_task()
        ):
            task.cancel()

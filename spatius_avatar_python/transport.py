"""Avatar sessions whose WebSocket carries no permessage-deflate.

Audio (PCM or Opus) does not compress, yet the SDK opens its WebSocket with `websockets`'
default, which offers permessage-deflate; a service that accepts it makes every `send`
run zlib over the audio for nothing (~30 us per send measured). The SDK (1.1.1) has no
parameter for it: `AvatarSession._start_internal` calls `websockets.connect(url, headers)`
and only sets the app-level `transport_compression` (NONE) in its configure message.

The narrowest way found: inside `spatius.avatar_session` only, the module name
`websockets` is replaced by a stand-in that forwards everything to the real module, and
whose `connect` adds `compression=None` **only while a session made here is starting**
(a context variable set by that session's `start()`, so another user of the SDK in the same
process keeps the SDK's behaviour). If a future SDK no longer looks `websockets.connect`
up there, nothing breaks: the session is simply made as before (and offers deflate).
"""

from __future__ import annotations

import contextvars
from typing import Any

import spatius
import spatius.avatar_session as _sdk_session
import websockets

_without_compression: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "spatius_avatar_python_without_compression", default=False
)


class _SdkWebsockets:
    """`websockets` as `spatius.avatar_session` sees it: the same module, except that
    `connect` asks for no compression while one of our sessions starts."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if _without_compression.get():
            kwargs["compression"] = None
        return self._real.connect(*args, **kwargs)


def _install() -> bool:
    """Put the stand-in in place once; False when this SDK has no such module name."""
    current = getattr(_sdk_session, "websockets", None)
    if isinstance(current, _SdkWebsockets):
        return True
    if current is not websockets:
        return False
    _sdk_session.websockets = _SdkWebsockets(websockets)  # type: ignore[assignment]
    return True


INSTALLED = _install()


def new_uncompressed_session(**kwargs: Any) -> Any:
    """`spatius.new_avatar_session(**kwargs)`, whose `start()` opens the WebSocket without
    offering permessage-deflate."""
    session = spatius.new_avatar_session(**kwargs)
    start = session.start

    async def start_uncompressed() -> Any:
        token = _without_compression.set(True)
        try:
            return await start()
        finally:
            _without_compression.reset(token)

    session.start = start_uncompressed  # type: ignore[method-assign]
    return session

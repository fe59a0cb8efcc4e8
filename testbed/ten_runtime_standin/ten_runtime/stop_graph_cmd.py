"""StopGraphCmd (here so imports work; the stand-in does not stop graphs by cmd)."""

from __future__ import annotations

from .cmd import Cmd


class StopGraphCmd(Cmd):
    def __init__(self) -> None:
        raise NotImplementedError("Use StopGraphCmd.create instead.")

    @classmethod
    def create(cls) -> "StopGraphCmd":  # type: ignore[override]
        return cls._new("ten:stop_graph")

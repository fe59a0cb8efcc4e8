"""StartGraphCmd (here so imports work; the stand-in does not start graphs by cmd)."""

from __future__ import annotations

from .cmd import Cmd


class StartGraphCmd(Cmd):
    def __init__(self) -> None:
        raise NotImplementedError("Use StartGraphCmd.create instead.")

    @classmethod
    def create(cls) -> "StartGraphCmd":  # type: ignore[override]
        return cls._new("ten:start_graph")

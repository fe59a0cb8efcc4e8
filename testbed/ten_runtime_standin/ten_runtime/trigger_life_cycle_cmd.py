"""TriggerLifeCycleCmd (here so imports work)."""

from __future__ import annotations

from .cmd import Cmd


class TriggerLifeCycleCmd(Cmd):
    def __init__(self) -> None:
        raise NotImplementedError("Use TriggerLifeCycleCmd.create instead.")

    @classmethod
    def create(cls) -> "TriggerLifeCycleCmd":  # type: ignore[override]
        return cls._new("ten:trigger_life_cycle")

"""Cmd: a message answered by cmd results."""

from __future__ import annotations

import uuid

from .msg import Msg


class Cmd(Msg):
    KIND = "cmd"

    def _setup(self, name: str) -> None:
        super()._setup(name)
        # Set by the runtime when the cmd is sent; results find their way back by it.
        self._cmd_id: str = ""


def new_cmd_id() -> str:
    return uuid.uuid4().hex

"""CmdResult and StatusCode."""

from __future__ import annotations

from enum import IntEnum

from .cmd import Cmd
from .error import TenError
from .msg import Msg


class StatusCode(IntEnum):
    OK = 0
    ERROR = 1


class CmdResult(Msg):
    KIND = "cmd_result"

    def __init__(self, status_code: int, target_cmd: Cmd) -> None:
        raise NotImplementedError("Use CmdResult.create instead.")

    def _setup(self, name: str) -> None:
        super()._setup(name)
        self._status = StatusCode.OK
        self._final = True
        self._cmd_id = ""

    @classmethod
    def create(cls, status_code: StatusCode, target_cmd: Cmd) -> "CmdResult":  # type: ignore[override]
        return cls.for_cmd(status_code, target_cmd.get_name(), target_cmd._cmd_id)

    @classmethod
    def for_cmd(cls, status_code: StatusCode, name: str, cmd_id: str) -> "CmdResult":
        """Stand-in internal: a result for the cmd `cmd_id` (the runtime's own answers)."""
        result = cls._new(name)
        result._status = StatusCode(status_code)
        result._cmd_id = cmd_id
        return result

    def get_status_code(self) -> StatusCode:
        return self._status

    def set_final(self, is_final: bool) -> TenError | None:
        self._final = bool(is_final)
        return None

    def is_final(self) -> bool:
        return self._final

    def is_completed(self) -> bool:
        # One destination per cmd result in the stand-in: the final result completes it.
        return self._final


def error_result_for(cmd: Cmd, detail: str) -> CmdResult:
    """The automatic ERROR result the runtime gives a cmd it will not deliver or answer."""
    result = CmdResult.create(StatusCode.ERROR, cmd)
    result.set_property_string("detail", detail)
    return result

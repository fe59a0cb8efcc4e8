"""TenEnvBase: the log methods every env has (TenEnv, AsyncTenEnv). Plain methods, not
async, as in the real runtime; each finds its caller `option.skip` frames up."""

from __future__ import annotations

from typing import Any

from .error import TenError
from .log import emit_log
from .log_level import LogLevel
from .log_option import DefaultLogOption, LogOption
from .recording import RunRecord
from .value import Value

FieldsType = Value | dict[str, Any] | None


class LogMethods:
    """log, log_debug, log_info, log_warn, log_error over `_log_target()`."""

    def _log_target(self) -> tuple[RunRecord | None, str]:
        raise NotImplementedError

    def _emit(
        self, level: LogLevel, msg: str, category: str | None, fields: FieldsType, option: LogOption
    ) -> TenError | None:
        record, node = self._log_target()
        # The line names the function option.skip frames above the log method (as the real one).
        emit_log(record, node, level, msg, category, fields, caller_depth=option.skip + 1)
        return None

    def log(
        self,
        level: LogLevel,
        msg: str,
        category: str | None = None,
        fields: FieldsType = None,
        option: LogOption = DefaultLogOption,
    ) -> TenError | None:
        return self._emit(level, msg, category, fields, option)

    def log_debug(
        self,
        msg: str,
        category: str | None = None,
        fields: FieldsType = None,
        option: LogOption = DefaultLogOption,
    ) -> TenError | None:
        return self._emit(LogLevel.DEBUG, msg, category, fields, option)

    def log_info(
        self,
        msg: str,
        category: str | None = None,
        fields: FieldsType = None,
        option: LogOption = DefaultLogOption,
    ) -> TenError | None:
        return self._emit(LogLevel.INFO, msg, category, fields, option)

    def log_warn(
        self,
        msg: str,
        category: str | None = None,
        fields: FieldsType = None,
        option: LogOption = DefaultLogOption,
    ) -> TenError | None:
        return self._emit(LogLevel.WARN, msg, category, fields, option)

    def log_error(
        self,
        msg: str,
        category: str | None = None,
        fields: FieldsType = None,
        option: LogOption = DefaultLogOption,
    ) -> TenError | None:
        return self._emit(LogLevel.ERROR, msg, category, fields, option)


class TenEnvBase(LogMethods):
    """The base of TenEnv and AsyncTenEnv."""

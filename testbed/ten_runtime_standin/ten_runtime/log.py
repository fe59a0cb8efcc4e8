"""Logging for extensions, addons and testers: every line is captured in the run's record,
and WARN/ERROR lines are printed to stderr as well."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from .enums import LogLevel
from .error import TenError
from .recording import LogRecord, RunRecord
from .value import Value


@dataclass(frozen=True)
class LogOption:
    skip: int = 2


DefaultLogOption = LogOption()


def emit_log(
    record: RunRecord | None,
    node: str,
    level: LogLevel,
    msg: str,
    category: str | None = None,
    fields: Value | None = None,
) -> None:
    level = LogLevel(level)
    plain_fields: Any = fields.to_python() if isinstance(fields, Value) else fields
    if record is not None:
        record.add_log(LogRecord(level, node, str(msg), category, plain_fields))
    if level >= LogLevel.WARN:
        where = f"{node}/{category}" if category else node
        print(f"[ten-standin {level.name}] {where}: {msg}", file=sys.stderr, flush=True)


class LogMethods:
    """The log_* methods of TenEnv, AsyncTenEnv and AsyncTenEnvTester (plain, not async)."""

    def _log_target(self) -> tuple[RunRecord | None, str]:
        raise NotImplementedError

    def log(
        self,
        level: LogLevel,
        msg: str,
        category: str | None = None,
        fields: Value | None = None,
        option: LogOption = DefaultLogOption,
    ) -> TenError | None:
        record, node = self._log_target()
        emit_log(record, node, level, msg, category, fields)
        return None

    def log_debug(self, msg: str, category: str | None = None, fields: Value | None = None,
                  option: LogOption = DefaultLogOption) -> TenError | None:
        return self.log(LogLevel.DEBUG, msg, category, fields, option)

    def log_info(self, msg: str, category: str | None = None, fields: Value | None = None,
                 option: LogOption = DefaultLogOption) -> TenError | None:
        return self.log(LogLevel.INFO, msg, category, fields, option)

    def log_warn(self, msg: str, category: str | None = None, fields: Value | None = None,
                 option: LogOption = DefaultLogOption) -> TenError | None:
        return self.log(LogLevel.WARN, msg, category, fields, option)

    def log_error(self, msg: str, category: str | None = None, fields: Value | None = None,
                  option: LogOption = DefaultLogOption) -> TenError | None:
        return self.log(LogLevel.ERROR, msg, category, fields, option)

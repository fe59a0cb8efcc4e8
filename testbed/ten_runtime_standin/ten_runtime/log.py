"""Logging for extensions, addons and testers: every line is captured in the run's record
and written as the real runtime writes it.

- Without a `ten.log` configuration (the default, and the real runtime's C logger, which
  is all a runtime built without its Rust part has): every level, to stderr, as
  `12-07 17:19:10.745 <pid>(<tid>) E on_init@extension.py:110 [node] message`.
- With one (`standin.set_log_config(...)`, or the `ten.log` of the property.json of the app
  folder named by TEN_STANDIN_APP_DIR), as the full runtime's advanced log: each handler
  whose matchers take the line (level at least the matcher's, and the category when the
  matcher names one) writes it with its plain formatter (RFC 3339 time, category) to its
  console stream or file. The JSON formatter is not reproduced (plain is written).
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from .log_level import LogLevel
from .recording import LogRecord, RunRecord
from .value import Value

APP_DIR_ENV = "TEN_STANDIN_APP_DIR"
_LEVEL_CHARS = {LogLevel.DEBUG: "D", LogLevel.INFO: "I", LogLevel.WARN: "W", LogLevel.ERROR: "E"}
_CONFIG_LEVELS = {
    "debug": LogLevel.DEBUG,
    "info": LogLevel.INFO,
    "warn": LogLevel.WARN,
    "error": LogLevel.ERROR,
    "off": None,
}
_COLORS = {
    LogLevel.DEBUG: "\x1b[36m",
    LogLevel.INFO: "\x1b[32m",
    LogLevel.WARN: "\x1b[33m",
    LogLevel.ERROR: "\x1b[31m",
}
_RESET = "\x1b[0m"

_lock = threading.Lock()
UNREAD_LOG_CONFIG: Any = object()  # read it from TEN_STANDIN_APP_DIR at the next line
_config: Any = UNREAD_LOG_CONFIG  # the ten.log dict, or None for none
_files: dict[str, TextIO] = {}


def set_log_config(config: dict[str, Any] | None) -> None:
    """The app's `ten.log` object (`{"handlers": [...]}`), None for the default, or
    UNREAD_LOG_CONFIG to read it again from the app folder TEN_STANDIN_APP_DIR names."""
    global _config
    with _lock:
        _config = config
        for handle in _files.values():
            handle.close()
        _files.clear()


def _current_config() -> dict[str, Any] | None:
    global _config
    if _config is UNREAD_LOG_CONFIG:
        _config = _config_of_app(os.environ.get(APP_DIR_ENV))
    return _config


def _config_of_app(app_dir: str | None) -> dict[str, Any] | None:
    if not app_dir:
        return None
    try:
        data = json.loads((Path(app_dir) / "property.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    log = (data.get("ten") or {}).get("log")
    return log if isinstance(log, dict) else None


def _caller(depth: int) -> tuple[str, str, int]:
    """(function, file name, line) of the frame `depth` levels above emit_log."""
    try:
        frame = sys._getframe(depth + 1)  # + _caller
    except ValueError:
        return "", "", 0
    code = frame.f_code
    return code.co_name, os.path.basename(code.co_filename), frame.f_lineno


def _c_line(level: LogLevel, where: tuple[str, str, int], node: str, msg: str) -> str:
    now = datetime.datetime.now()
    func, file, line = where
    return (
        f"{now:%m-%d %H:%M:%S}.{now.microsecond // 1000:03d} {os.getpid()}"
        f"({threading.get_native_id()}) {_LEVEL_CHARS.get(level, 'E')} "
        f"{func}@{file}:{line} [{node}] {msg}"
    )


def _plain_line(
    level: LogLevel,
    where: tuple[str, str, int],
    node: str,
    msg: str,
    category: str | None,
    fields: Any,
    colored: bool,
) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    func, file, line = where
    level_char = _LEVEL_CHARS.get(level, "E")
    if colored:
        level_char = f"{_COLORS.get(level, '')}{level_char}{_RESET}"
    parts = [f"{now} {os.getpid()}({threading.get_native_id()}) {level_char}"]
    if category:
        parts.append(category)
    parts.append(f"{func}@{file}:{line} [{node}] {msg}")
    if isinstance(fields, dict):
        parts.extend(f"{key}={json.dumps(value)}" for key, value in fields.items())
    return " ".join(parts)


def _matches(handler: dict[str, Any], level: LogLevel, category: str | None) -> bool:
    for matcher in handler.get("matchers") or []:
        threshold = _CONFIG_LEVELS.get(str(matcher.get("level", "")).lower(), LogLevel.INVALID)
        if threshold is None or threshold == LogLevel.INVALID:
            continue
        wanted = matcher.get("category")
        if level >= threshold and (wanted is None or wanted == category):
            return True
    return False


def _write(emitter: dict[str, Any], text: str) -> None:
    config = emitter.get("config") or {}
    if emitter.get("type") == "file":
        path = str(config.get("path", "ten.log"))
        handle = _files.get(path)
        if handle is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            handle = _files[path] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        handle.write(text + "\n")
        handle.flush()
        return
    stream = sys.stdout if config.get("stream") == "stdout" else sys.stderr
    print(text, file=stream, flush=True)


def emit_log(
    record: RunRecord | None,
    node: str,
    level: LogLevel,
    msg: str,
    category: str | None = None,
    fields: Value | dict[str, Any] | None = None,
    caller_depth: int = 1,
) -> None:
    """Records the line and writes it as the real runtime would. `caller_depth`: how many
    frames above emit_log the line's function@file:line is taken from."""
    level = LogLevel(level)
    msg = str(msg)
    plain_fields: Any = fields.to_python() if isinstance(fields, Value) else fields
    if record is not None:
        record.add_log(LogRecord(level, node, msg, category, plain_fields))
    where = _caller(caller_depth)
    with _lock:
        config = _current_config()
        if config is None:
            print(_c_line(level, where, node, msg), file=sys.stderr, flush=True)
            return
        for handler in config.get("handlers") or []:
            if _matches(handler, level, category):
                formatter = handler.get("formatter") or {}
                text = _plain_line(
                    level,
                    where,
                    node,
                    msg,
                    category,
                    plain_fields,
                    bool(formatter.get("colored", False)),
                )
                _write(handler.get("emitter") or {}, text)

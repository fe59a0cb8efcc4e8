"""Progress for a person watching: one updating status line on a terminal, plain lines
(events only) when stdout is a pipe or a file, so logs and CI output stay readable."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

_CLEAR_LINE = "\r\x1b[2K"


class LiveOutput:
    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self._stream = stream or sys.stdout
        self.live = self._stream.isatty() if live is None else live
        self._status = ""

    def event(self, text: str) -> None:
        """A line that stays (on a terminal, printed above the status line)."""
        if self.live and self._status:
            self._stream.write(_CLEAR_LINE)
        self._stream.write(text + "\n")
        if self.live and self._status:
            self._stream.write(self._status)
        self._stream.flush()

    def status(self, text: str) -> None:
        """The updating line; nothing at all in plain output."""
        if not self.live:
            return
        width = shutil.get_terminal_size((100, 24)).columns - 1
        self._status = text[:width]
        self._stream.write(_CLEAR_LINE + self._status)
        self._stream.flush()

    def close(self) -> None:
        if self.live and self._status:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
        self._status = ""


def progress_bar(done: float, total: float, width: int = 24) -> str:
    fraction = 0.0 if total <= 0 else min(1.0, max(0.0, done / total))
    filled = round(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + f"] {fraction * 100:3.0f}%"


def check_marks(stream: TextIO | None = None) -> tuple[str, str]:
    """✓ and ✗, or ASCII stand-ins where the output encoding cannot show them."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗→".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "[ok]", "[FAIL]"
    return "✓", "✗"

"""LogOption: how many stack frames a log call skips to find its caller, and whether the
line is written synchronously."""

from __future__ import annotations


class LogOption:
    def __init__(self, skip: int = 2, sync: bool = False) -> None:
        self.skip = skip
        self.sync = sync

    def __repr__(self) -> str:
        return f"LogOption(skip={self.skip}, sync={self.sync})"


DefaultLogOption = LogOption()

"""SendOptions: `wait_for_result=True` makes a send of data or a frame (or a
return_result) wait for the runtime's verdict and return its error."""

from __future__ import annotations


class SendOptions:
    def __init__(self, wait_for_result: bool = False) -> None:
        self.wait_for_result = wait_for_result

    def __repr__(self) -> str:
        return f"SendOptions(wait_for_result={self.wait_for_result})"

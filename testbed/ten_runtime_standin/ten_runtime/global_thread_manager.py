"""GlobalThreadManager: in the real runtime, the thread and asyncio loop that every Python
extension of an app shares. The stand-in gives each run's extensions a loop of its own
(runtime.GraphRuntime); this module is here so that imports of it work, and the class
says so if anyone uses it."""

from __future__ import annotations


class GlobalThreadManager:
    def __init__(self) -> None:
        raise NotImplementedError(
            "the TEN stand-in has no GlobalThreadManager: each run's extensions share the "
            "loop of that run (ten_runtime.standin.app_loop())"
        )

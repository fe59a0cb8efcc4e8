"""What ends the whole process in the real runtime, and how the stand-in ends a run (or,
with TEN_STANDIN_FATAL_EXIT=1, the process) instead."""

from __future__ import annotations

import os
import sys

FATAL_EXIT_ENV = "TEN_STANDIN_FATAL_EXIT"


class ProcessAborted(BaseException):
    """A runtime call the real C core answers with a failed assertion (SIGABRT) while a
    callback makes it. A BaseException, so that an extension's `except Exception` cannot
    swallow it: in the real runtime nothing after the call runs. The node host records it
    as fatal for the run."""

    aborts_process = True


def end_process_if_asked(exc: BaseException) -> None:
    """With TEN_STANDIN_FATAL_EXIT=1, a fatal error ends the process as in the real runtime:
    SIGABRT for what aborts there (`aborts_process`), else exit code 1. Without it the run
    stops and run() raises StandinRunError, which tests can inspect."""
    if os.environ.get(FATAL_EXIT_ENV) != "1":
        return
    sys.stdout.flush()
    sys.stderr.flush()
    if getattr(exc, "aborts_process", False):
        os.abort()
    os._exit(1)


def abort_process(reason: str) -> ProcessAborted:
    """Ends the process if asked; else the exception for the caller to raise."""
    exc = ProcessAborted(reason)
    end_process_if_asked(exc)
    return exc

"""The developer command line: `python3 run.py <command>` (or, inside the set-up virtual
environment, `python -m spatius_avatar_python <command>`).

Each command lives in its own module with `add_parser(commands)`, which registers the
command and sets `run(args) -> exit code` as its default.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import check, demo, emulator, stream

COMMANDS = (check, emulator, stream, demo)


MODULE_PROG = "python -m spatius_avatar_python"


def build_parser(prog: str = MODULE_PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Developer tools for the Spatius avatar TEN extension.",
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="<command>", required=True
    )
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C


def main(argv: Sequence[str] | None = None, prog: str = MODULE_PROG) -> int:
    """Run one command; `prog` is how the user started it (`python3 run.py` from run.py), for
    usage lines and the commands the output suggests."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else 2
    args.prog = prog
    try:
        return int(args.run(args))
    except KeyboardInterrupt:  # Ctrl-C: the command's own cleanup (finally, with) has run
        print(f"\n{args.command}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED

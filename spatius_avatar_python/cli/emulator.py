"""`emulator`: run the Spatius service emulator in the foreground, for `stream` or a real
TEN app.

The emulator itself is the test bed's (`testbed/spatius_emulator`); this command starts
it, prints the avatar node `property` that points an extension at it (and, with
--write-property, writes it to a file for `stream --property`), then logs one line per
session accepted or refused, request, interrupt and error until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import shlex
import signal
import socket
from pathlib import Path
from typing import Any

from .emulator_log import EmulatorLog
from .findings import Masker
from .paths import use_testbed

POLL_S = 0.1  # how often the session log looks for news

# Emulator options passed through as they are; the emulator's own parser owns their defaults.
_PASSED_THROUGH: dict[str, tuple[type, str]] = {
    "--host": (str, "address to listen on (default 127.0.0.1)"),
    "--port": (int, "port to listen on (default: a free one)"),
    "--api-key": (str, "the Spatius API key it accepts"),
    "--app-id": (str, "the Spatius app id it accepts"),
    "--avatar-id": (str, "the avatar id that exists"),
    "--agora-app-id": (str, "Agora app id (32 hex digits) egress tokens must be for"),
    "--agora-app-cert": (
        str,
        "Agora certificate egress tokens are checked against ('' skips the check)",
    ),
    "--idle-timeout": (float, "seconds without audio before it closes a session"),
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "emulator",
        help="run the Spatius service emulator and print the avatar properties that use it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Runs until Ctrl-C. The printed credentials are the emulator's own, fake ones; when the "
        "app's agora_rtc uses a real Agora project, pass its --agora-app-id and --agora-app-cert.",
    )
    for option, (kind, help_text) in _PASSED_THROUGH.items():
        parser.add_argument(option, type=kind, help=help_text)
    parser.add_argument(
        "--channel",
        default="ten_agent_test",
        help="Agora channel for the printed properties (default %(default)s)",
    )
    parser.add_argument(
        "--uid",
        default="2001",
        help="the avatar's Agora UID for the printed properties (default %(default)s)",
    )
    parser.add_argument(
        "--write-property",
        type=Path,
        metavar="FILE",
        help="also write the avatar property to FILE, for `stream --property FILE`",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no line per session, request, interrupt or refusal"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    use_testbed()
    from spatius_emulator import SpatiusEmulator
    from spatius_emulator import cli as emulator_cli

    argv: list[str] = []
    for option in _PASSED_THROUGH:
        value = getattr(args, option[2:].replace("-", "_"))
        if value is not None:
            argv += [option, str(value)]
    emulator_args = emulator_cli.parse_args(argv)
    config = emulator_cli.config_from_args(emulator_args)

    stopped_by: list[int] = []
    failed: list[str] = []
    command = getattr(args, "prog", "python3 run.py")

    async def serve() -> None:
        stopped = asyncio.Event()  # from the start, so that a signal at any moment stops it cleanly
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(
                sig, lambda number=sig: (stopped_by.append(number), stopped.set())
            )
        emulator = SpatiusEmulator(config)
        try:
            await emulator.start(emulator_args.host, emulator_args.port)
        except OSError as error:
            await emulator.stop()
            failed.append(listen_problem(error, emulator_args.host, emulator_args.port))
            return
        try:
            props = emulator_cli.extension_properties(emulator, config, emulator_args)
            props["params"].update(agora_channel=args.channel, agora_uid=args.uid)
            print(f"Spatius emulator listening on {emulator.base_url} (Ctrl-C stops it)")
            print('The avatar node\'s "property" in your graph, to use it:')
            print(json.dumps(props, indent=2))
            if args.write_property is not None:
                args.write_property.write_text(json.dumps(props, indent=2) + "\n", encoding="utf-8")
                print(
                    f"Written to {args.write_property}. Stream speech to it from another terminal:"
                )
                print(
                    f"  {command} stream --property {shlex.quote(str(args.write_property))}   (the built-in sample, or add a file)"
                )
            else:
                print(
                    f"To stream speech to it: run again with --write-property FILE, then `{command} stream --property FILE`"
                )
            print(
                ""
                if args.quiet
                else "Sessions, requests, interrupts and refusals (--quiet turns this off):",
                flush=True,
            )
            masker = Masker([*config.api_keys, config.agora_app_cert or ""])
            log = (
                None
                if args.quiet
                else EmulatorLog(emulator.recording, lambda line: print(line, flush=True), masker)
            )
            while not stopped.is_set():
                if log is not None:
                    log.poll()
                try:
                    await asyncio.wait_for(stopped.wait(), POLL_S)
                except asyncio.TimeoutError:
                    pass
            if log is not None:
                log.poll()
        finally:
            await emulator.stop()
        print("Spatius emulator stopped", flush=True)

    asyncio.run(serve())
    if failed:
        print(f"emulator: {failed[0]}", flush=True)
        return EXIT_CANNOT_LISTEN
    return 128 + stopped_by[0] if stopped_by else 0  # 130 after Ctrl-C, 143 after SIGTERM


EXIT_CANNOT_LISTEN = 2


def listen_problem(error: OSError, host: str, port: int) -> str:
    """One line: why the emulator cannot listen on host:port, and what to use instead."""
    if error.errno == errno.EADDRINUSE:
        instead = free_port(host)
        suggestion = (
            f"use another, e.g. --port {instead} (free now)"
            if instead
            else "use another with --port"
        )
        return (
            f"port {port} on {host} is taken (another program listens there): {suggestion}, "
            "or leave --port out to get a free one"
        )
    if error.errno == errno.EACCES:
        return f"no permission to listen on port {port} (ports below 1024 need root): use --port 1024 or above"
    reason = error.strerror or str(error)
    return f"cannot listen on {host}:{port} ({reason}): check --host (e.g. 127.0.0.1 or 0.0.0.0) and --port"


def free_port(host: str) -> int | None:
    """A port nothing listens on at this moment, for the suggestion."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, 0))
            return int(probe.getsockname()[1])
    except OSError:
        return None

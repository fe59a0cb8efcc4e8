"""`emulator`: run the Spatius service emulator in the foreground for a real TEN app.

The emulator itself is the test bed's (`testbed/spatius_emulator`); this command starts
it and prints the avatar node `property` that points an extension at it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

from .paths import use_testbed

# Emulator options passed through as they are; the emulator's own parser owns their defaults.
_PASSED_THROUGH: dict[str, tuple[type, str]] = {
    "--host": (str, "address to listen on (default 127.0.0.1)"),
    "--port": (int, "port to listen on (default: a free one)"),
    "--api-key": (str, "the Spatius API key it accepts"),
    "--app-id": (str, "the Spatius app id it accepts"),
    "--avatar-id": (str, "the avatar id that exists"),
    "--agora-app-id": (str, "Agora app id (32 hex digits) egress tokens must be for"),
    "--agora-app-cert": (str, "Agora certificate egress tokens are checked against ('' skips the check)"),
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
    parser.add_argument("--channel", default="ten_agent_test", help="Agora channel for the printed properties (default %(default)s)")
    parser.add_argument("--uid", default="2001", help="the avatar's Agora UID for the printed properties (default %(default)s)")
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

    async def serve() -> None:
        emulator = SpatiusEmulator(config)
        await emulator.start(emulator_args.host, emulator_args.port)
        try:
            props = emulator_cli.extension_properties(emulator, config, emulator_args)
            props["params"].update(agora_channel=args.channel, agora_uid=args.uid)
            print(f"Spatius emulator listening on {emulator.base_url} (Ctrl-C stops it)")
            print("The avatar node's \"property\" in your graph, to use it:")
            print(json.dumps(props, indent=2), flush=True)
            stopped = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stopped.set)
            await stopped.wait()
        finally:
            await emulator.stop()
        print("Spatius emulator stopped", flush=True)

    asyncio.run(serve())
    return 0

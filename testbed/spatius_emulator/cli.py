"""Command line: run the emulator standalone and print how to point the extension at it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from typing import Any

from .config import EmulatorConfig
from .server import SpatiusEmulator

# Defaults that make `python -m spatius_emulator` usable as is: fixed, obviously fake
# credentials (Agora's app id and certificate must be 32 hex digits to build tokens).
DEFAULT_API_KEY = "emulator-api-key"
DEFAULT_APP_ID = "emulator-app-id"
DEFAULT_AVATAR_ID = "emulator-avatar"
DEFAULT_AGORA_APP_ID = "0" * 31 + "1"
DEFAULT_AGORA_APP_CERT = "0" * 31 + "2"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m spatius_emulator", description="Loopback emulator of the Spatius service."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument(
        "--api-key",
        action="append",
        help=f"accepted API key (repeatable; default {DEFAULT_API_KEY})",
    )
    p.add_argument(
        "--app-id", action="append", help=f"accepted app id (repeatable; default {DEFAULT_APP_ID})"
    )
    p.add_argument(
        "--avatar-id",
        action="append",
        help=f"existing avatar id (repeatable; default {DEFAULT_AVATAR_ID})",
    )
    p.add_argument("--any-avatar", action="store_true", help="accept any non-empty avatar id")
    p.add_argument("--agora-app-id", default=DEFAULT_AGORA_APP_ID)
    p.add_argument(
        "--agora-app-cert",
        default=DEFAULT_AGORA_APP_CERT,
        help="check Agora egress tokens against this certificate ('' to skip checks)",
    )
    p.add_argument(
        "--allow-plain-websocket", action="store_true", help="accept sessions without egress"
    )
    p.add_argument("--animation-fps", type=float, default=25.0)
    p.add_argument(
        "--idle-timeout", type=float, default=None, help="seconds without audio before closing"
    )
    p.add_argument("--no-keep-audio", action="store_true", help="count bytes only (long load runs)")
    p.add_argument("--no-compression", action="store_true", help="refuse permessage-deflate")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line (URLs, properties) and nothing else",
    )
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        api_keys=tuple(args.api_key or [DEFAULT_API_KEY]),
        app_ids=tuple(args.app_id or [DEFAULT_APP_ID]),
        avatar_ids=() if args.any_avatar else tuple(args.avatar_id or [DEFAULT_AVATAR_ID]),
        agora_app_id=args.agora_app_id or None,
        agora_app_cert=args.agora_app_cert or None,
        allow_plain_websocket=args.allow_plain_websocket,
        animation_fps=args.animation_fps,
        idle_timeout_s=args.idle_timeout,
        keep_audio=not args.no_keep_audio,
        websocket_compression=not args.no_compression,
    )


def extension_properties(
    emulator: SpatiusEmulator, config: EmulatorConfig, args: argparse.Namespace
) -> dict[str, Any]:
    """The property.json values that point the extension at this emulator."""
    params = {
        "spatius_api_key": next(iter(config.api_keys), DEFAULT_API_KEY),
        "spatius_app_id": next(iter(config.app_ids), DEFAULT_APP_ID),
        "spatius_avatar_id": next(iter(args.avatar_id or [DEFAULT_AVATAR_ID])),
        "agora_appid": config.agora_app_id or "",
        "agora_appcert": config.agora_app_cert or "",
    }
    return {
        "console_endpoint_url": emulator.console_url,
        "ingress_endpoint_url": emulator.ingress_url,
        "telemetry": "off",
        "params": params,
    }


async def serve(args: argparse.Namespace) -> None:
    config = config_from_args(args)
    emulator = SpatiusEmulator(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before announcing readiness
        loop.add_signal_handler(sig, stop.set)
    await emulator.start(args.host, args.port)
    props = extension_properties(emulator, config, args)
    if args.json:
        ready = {
            "console_url": emulator.console_url,
            "ingress_url": emulator.ingress_url,
            "stats_url": emulator.stats_url,
            "properties": props,
        }
        print(json.dumps(ready), flush=True)
    else:
        print(f"Spatius emulator listening on {emulator.base_url}")
        print(f"  console: {emulator.console_url}")
        print(f"  ingress: {emulator.ingress_url}")
        print(f"  stats:   {emulator.stats_url}")
        print("Extension properties (property.json):")
        print(json.dumps(props, indent=2), flush=True)
    await stop.wait()
    await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    asyncio.run(serve(args))
    return 0

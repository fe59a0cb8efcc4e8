"""`stream`: open a Spatius session with Agora egress exactly as the extension would (your
properties and environment), stream an audio file at real-time pace as one request, and
say in plain words what happened: the quickest way to learn whether the avatar id, keys,
UID and channel are right.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from pathlib import Path
from typing import Any

from spatius import AvatarSDKErrorCode

from ..config import AvatarConfig, ConfigError, load_config
from ..failure_codes import Phase
from ..failures import Failure
from .avatar_source import AvatarSourceError, avatar_properties, environment
from .demo import pace_argument
from .findings import Masker
from .live_output import LiveOutput, progress_bar
from .speech_file import SAMPLE_FILE, Speech, SpeechFileError, read_speech
from .stream_session import StreamOutcome, stream_file

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_PHASES = {
    "session_token": "getting a session token from the Spatius console",
    "websocket_connect": "opening the WebSocket to Spatius",
    "websocket_handshake": "completing the session handshake with Spatius",
    "websocket_runtime": "streaming (the service reported an error)",
    "websocket_send": "sending audio",
    "connect": "connecting to Spatius",
    "configure": "configuring the session",
}
_TRANSIENT_FIXES = {
    "connectionFailed": (
        "check that the endpoints are reachable from this machine (network, proxy, firewall, "
        "region)"
    ),
    "connectionClosed": (
        "usually temporary: try again; the extension itself reconnects with backoff"
    ),
    "egressUnavailable": (
        "temporary on Spatius' side: try again later; the extension retries by itself"
    ),
    "serverError": "temporary on Spatius' side: try again; the extension retries by itself",
    "upstreamError": "temporary on Spatius' side: try again; the extension retries by itself",
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "stream",
        help=(
            "stream an audio file to a real Spatius session (or the emulator) and report what "
            "happened"
        ),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Without --property/--graph the extension's property.json is used, with "
            "${env:...} from the environment (SPATIUS_API_KEY, SPATIUS_APP_ID, ...). The "
            "SDK's telemetry is off for this diagnostic session, whatever the properties say. "
            "Exits 0 when Spatius accepted the audio, 1 when the session or the request failed, "
            "2 for bad arguments or a configuration that cannot work. Secret values are never "
            "printed."
        ),
    )
    parser.add_argument(
        "audio",
        type=Path,
        nargs="?",
        help=(
            "speech to send: WAV, FLAC, OGG (Vorbis/Opus) or MP3 (default: the demo's built-in "
            "sample)"
        ),
    )
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "--property", type=Path, metavar="FILE", help="the avatar node's property object"
    )
    given.add_argument(
        "--graph",
        type=Path,
        metavar="FILE",
        help="a graph, or an app property.json with predefined graphs",
    )
    parser.add_argument(
        "--node",
        metavar="NAME",
        help="the avatar node in the graph (default: the one with our addon)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="KEY=VALUE variables on top of the environment",
    )
    parser.add_argument(
        "--console-url",
        metavar="URL",
        help="explicit console endpoint (e.g. the emulator's); with --ingress-url",
    )
    parser.add_argument(
        "--ingress-url", metavar="URL", help="explicit ingress endpoint; with --console-url"
    )
    parser.add_argument(
        "--pace",
        type=pace_argument,
        default=1.0,
        metavar="X",
        help="speed relative to real time (default 1)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    masker = Masker()
    if bool(args.console_url) != bool(args.ingress_url):
        print("stream: give both --console-url and --ingress-url, or neither")
        return EXIT_USAGE
    origins: dict[str, str] = {}
    try:
        env = environment(os.environ, args.env_file)
        props = avatar_properties(
            env,
            property_file=args.property,
            graph_file=args.graph,
            node=args.node,
            masker=masker,
            origins=origins,
        )
    except AvatarSourceError as error:
        print(f"stream: {error}")
        return EXIT_USAGE
    if args.console_url:
        props.update(console_endpoint_url=args.console_url, ingress_endpoint_url=args.ingress_url)
    # A diagnostic session exports nothing: the SDK's telemetry is for the real app.
    props["telemetry"] = "off"
    try:
        config = load_config(props)
    except ConfigError as error:
        print("stream: this configuration cannot work:")
        for problem in error.problems:
            print(masker(f"  {problem}"))
        print("  (`check` explains each problem in the context of your graph)")
        return EXIT_USAGE
    masker.add(config.secrets())
    audio = args.audio or SAMPLE_FILE
    try:
        speech = read_speech(audio)
    except SpeechFileError as error:
        print(f"stream: {error}")
        return EXIT_USAGE

    print(masker(_intro(audio if args.audio else Path("the built-in sample"), speech, config)))
    out = LiveOutput()

    def connected(connect_ms: float) -> None:
        out.event(
            f"Connected in {connect_ms:.0f} ms (session token, WebSocket, handshake with Agora "
            "egress)."
        )

    outcome = asyncio.run(
        stream_file(config, speech, pace=args.pace, progress=_Progress(out), on_connected=connected)
    )
    out.close()
    for line in _summary(outcome, config, speech, origins):
        print(masker(line))
    return EXIT_OK if outcome.accepted else EXIT_FAILED


class _Progress:
    """The bar on a terminal; a line at each quarter in plain output."""

    def __init__(self, out: LiveOutput) -> None:
        self._out = out
        self._quarters = 0

    def __call__(self, sent_s: float, total_s: float) -> None:
        self._out.status(
            f"streaming {progress_bar(sent_s, total_s)} {sent_s:5.1f} / {total_s:.1f} s"
        )
        if not self._out.live:
            while (
                total_s > 0 and self._quarters < 4 and sent_s >= total_s * (self._quarters + 1) / 4
            ):
                self._quarters += 1
                self._out.event(f"  sent {self._quarters * 25}% ({sent_s:.1f} s)")


def _intro(path: Path, speech: Speech, config: AvatarConfig) -> str:
    where = (
        f"endpoints {config.console_endpoint_url}"
        if config.console_endpoint_url
        else f"region {config.region}"
    )
    token = (
        "a token built from the app certificate" if config.builds_own_token else "the given token"
    )
    return (
        f"Streaming {path} ({speech.duration_s:.1f} s, {speech.sample_rate} Hz, "
        f"{speech.channels} channel(s)) to avatar {config.avatar_id}: Agora channel "
        f"{config.channel!r}, uid {config.uid}, {token}; {config.audio_format} at "
        f"{config.sample_rate} Hz; {where}"
    )


def _summary(
    outcome: StreamOutcome, config: AvatarConfig, speech: Speech, origins: dict[str, str]
) -> list[str]:
    lines = []
    if outcome.accepted:
        lines.append(
            f"Spatius accepted {outcome.request_s:.1f} s of audio as one request "
            f"(the file's {speech.duration_s:.1f} s at {config.sample_rate} Hz). "
            f"The avatar speaks it in channel {config.channel!r} as uid {config.uid}."
        )
        return lines
    if outcome.failure is not None:
        lines += _failure_lines(outcome.failure, outcome.connect_ms is not None, config, origins)
    elif outcome.timed_out:
        lines.append(f"Failed: timed out waiting for {outcome.timed_out}.")
        lines.append(
            "Fix: check that the endpoints are reachable; run again to see whether it repeats."
        )
        lines += [f"  log: {message}" for message in outcome.logs[:5]]
    return lines


def _failure_lines(
    failure: Failure, connected: bool, config: AvatarConfig, origins: dict[str, str]
) -> list[str]:
    what = _PHASES.get(failure.phase, failure.phase)
    kind = "fatal: retrying cannot help" if failure.fatal else "transient"
    after = (
        " after connecting" if connected and failure.phase is not Phase.WEBSOCKET_RUNTIME else ""
    )
    fix = failure.fix or _TRANSIENT_FIXES.get(
        failure.vendor_code, "see the troubleshooting table in README.md"
    )
    message = failure.message.removesuffix(f" ({fix})")  # classify() appends the fix
    if failure.code is AvatarSDKErrorCode.invalidEgressConfig:
        fix = _egress_fix(config)
    lines = [
        f"Failed while {what}{after}: {failure.vendor_code} ({kind}).",
        f"Why: {message.rstrip('.')}.",
        f"Fix: {_with_origins(fix, origins)}.",
    ]
    return lines


def _egress_fix(config: AvatarConfig) -> str:
    """invalidEgressConfig: Spatius could not join the channel with the token it was given."""
    where = f"channel {config.channel!r} and uid {config.uid}"
    if config.builds_own_token:
        return (
            "check params.agora_appid and params.agora_appcert: the token is built from them "
            f"for {where}, so they must be the Agora project's app id and primary certificate"
        )
    return (
        f"check params.agora_token: it must be a valid RTC token for {where}, not expired and "
        "with publish rights (or leave it empty and set params.agora_appcert, so the extension "
        "builds one)"
    )


def _with_origins(fix: str, origins: dict[str, str]) -> str:
    """Say where each property the fix mentions comes from: the environment variable the
    extension's property.json reads it from, or the file it was given in."""
    told = []
    for path in dict.fromkeys(re.findall(r"params\.\w+", fix)):
        origin = origins.get(path)
        if origin is None or origin.removeprefix("the environment variable ") in fix:
            continue
        told.append(f"{path} comes from {origin}")
    return fix + (f" ({'; '.join(told)})" if told else "")

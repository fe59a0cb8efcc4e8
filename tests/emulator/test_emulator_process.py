"""The emulator as a separate process (benchmarks, demo): URLs, properties and stats."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from spatius_emulator import EmulatorProcess
from spatius_emulator.process import TESTBED_DIR
from spatius_emulator.sdk_client import new_sdk_session

pytestmark = pytest.mark.usefixtures("sdk_telemetry_off")


class ProcessCredentials:
    """What a client of the standalone emulator reads from its printed properties."""

    def __init__(self, proc: EmulatorProcess) -> None:
        params = proc.properties["params"]
        self.console_url = proc.properties["console_endpoint_url"]
        self.ingress_url = proc.properties["ingress_endpoint_url"]
        self.api_key = params["spatius_api_key"]
        self.app_id = params["spatius_app_id"]
        self.avatar_id = params["spatius_avatar_id"]
        self.agora_app_id = params["agora_appid"]
        self.agora_app_cert = params["agora_appcert"]
        self.agora_channel = "bench-channel"
        self.agora_uid = "3001"


async def test_standalone_process_serves_the_sdk_and_reports_stats():
    with EmulatorProcess("--avatar-id", "bench-avatar", "--no-keep-audio") as proc:
        assert proc.console_url.startswith("http://127.0.0.1:")
        assert proc.console_url.endswith("/v1/console")
        assert proc.ingress_url.endswith("/v2/driveningress")
        assert proc.properties["telemetry"] == "off"
        creds = ProcessCredentials(proc)
        assert creds.avatar_id == "bench-avatar"

        session = new_sdk_session(creds)
        await session.init()
        connection_id = await session.start()
        sent_at = time.monotonic()
        req_id = await session.send_audio(b"\x00\x01" * 2400, end=True)  # 0.1 s at 24 kHz
        await session.close()

        stats = await asyncio.to_thread(_wait_closed_stats, proc)
        assert stats["token_requests"] == 1 and stats["open_connections"] == 0
        (conn,) = stats["connections"]
        assert conn["connection_id"] == connection_id and conn["bytes"] == 4800
        (request,) = conn["requests"]
        assert request["req_id"] == req_id and request["ended"]
        assert request["duration_s"] == pytest.approx(0.1)
        # One clock for both processes: the arrival follows the send, closely.
        assert 0 <= request["first_arrival_s"] - sent_at < 5
        chunks = proc.stats(chunks=True)["connections"][0]["requests"][0]["chunks"]
        assert [c[1] for c in chunks] == [4800]


def _wait_closed_stats(proc: EmulatorProcess) -> dict:
    deadline = time.monotonic() + 5
    while True:
        stats = proc.stats()
        if stats["open_connections"] == 0 or time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


def test_process_stops_cleanly_on_sigterm():
    proc = EmulatorProcess().start()
    stats_url = proc.stats_url
    assert proc.stop() == 0
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(stats_url, timeout=1)
    assert isinstance(refused.value.reason, ConnectionRefusedError)  # nothing listens there


def test_cli_prints_urls_and_extension_properties():
    env = dict(os.environ, PYTHONPATH=str(TESTBED_DIR))
    cmd = [sys.executable, "-m", "spatius_emulator", "--port", "0", "--api-key", "k1"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            lines = [proc.stdout.readline() for _ in range(5)]
            props_text = "".join(iter(proc.stdout.readline, "}\n")) + "}"
        finally:
            proc.terminate()
    assert lines[0].startswith("Spatius emulator listening on http://127.0.0.1:")
    props = json.loads(props_text)
    assert props["console_endpoint_url"] in lines[1]
    assert props["ingress_endpoint_url"] in lines[2]
    assert props["params"]["spatius_api_key"] == "k1"
    assert set(props["params"]) >= {
        "spatius_app_id",
        "spatius_avatar_id",
        "agora_appid",
        "agora_appcert",
    }

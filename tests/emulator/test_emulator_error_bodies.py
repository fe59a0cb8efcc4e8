"""The emulator's HTTP error bodies are the real service's bytes: compact JSON and a
newline (reference/spatius.md: `{"message":"Invalid session token"}` + newline)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from spatius_emulator.pytest_plugin import TEST_API_KEY, TEST_APP_ID


async def raw_upgrade(
    emulator, session_token: str, avatar_id: str = "any-avatar"
) -> tuple[int, bytes]:
    url = emulator.ingress_url.replace("ws", "http", 1) + f"/websocket?id={avatar_id}"
    headers = {
        "X-App-ID": TEST_APP_ID,
        "X-Session-Key": session_token,
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.read()


async def raw_token_request(emulator, api_key: str, body: dict) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            emulator.console_url + "/session-tokens", headers={"X-Api-Key": api_key}, json=body
        ) as response,
    ):
        return response.status, await response.read()


async def test_an_invalid_session_token_gets_exactly_the_real_body(emulator):
    status, body = await raw_upgrade(emulator, "not-a-token-this-ingress-issued")
    assert (status, body) == (400, b'{"message":"Invalid session token"}\n')


def compact(value: dict) -> bytes:
    return (json.dumps(value, separators=(",", ":")) + "\n").encode()


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
async def test_every_scripted_upgrade_refusal_has_a_compact_body(emulator, status):
    emulator.faults.refuse_upgrade(status)
    got_status, body = await raw_upgrade(emulator, "any")
    assert got_status == status
    assert body == compact(json.loads(body)) and b'"message":' in body


@pytest.mark.parametrize("status", [400, 401, 402, 404, 500])
async def test_every_scripted_token_refusal_has_a_compact_body(emulator, status):
    emulator.faults.refuse_token(status)
    got_status, body = await raw_token_request(emulator, TEST_API_KEY, {"expireAt": 4102444800})
    assert got_status == status
    assert body == compact(json.loads(body))


async def test_a_wrong_api_key_and_a_bad_request_have_compact_bodies(emulator):
    status, body = await raw_token_request(emulator, "wrong-key", {"expireAt": 4102444800})
    assert status == 401 and body == compact(json.loads(body))
    status, body = await raw_token_request(emulator, TEST_API_KEY, {"expireAt": 1})
    assert status == 400 and body == compact(json.loads(body))

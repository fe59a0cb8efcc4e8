"""The secrets scan (tests/reliability/suite_audit.py) is real: it finds a planted secret
wherever the suite captures text, it learns the secrets from the fixtures and from what
tests give the runtime, and what the suite captured so far holds none.

The scan of the WHOLE suite runs at the end of the session (pytest_sessionfinish) and
fails the session on a leak; these tests check the scanner itself and the runs so far.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from scenario_kit import run_scenario, speech
from spatius_emulator import service_errors as se
from spatius_emulator.faults import TokenRefusal

from tests.reliability.reliability_kit import last_run_record
from tests.reliability.suite_audit import AUDIT, SuiteAudit, find_leaks

GIVEN_TOKEN = "007eJxSYLi-given-by-the-secrets-test"


@dataclass
class FakeLog:
    node: str
    message: str
    fields: Any = None


@dataclass
class FakeMessage:
    node: str
    direction: str
    kind: str
    name: str
    properties_json: str


@dataclass
class FakeFatal:
    node: str
    callback: str
    traceback_text: str


@dataclass
class FakeRecord:
    """The parts of a stand-in RunRecord the scan reads."""

    logs: list[FakeLog] = field(default_factory=list)
    messages: list[FakeMessage] = field(default_factory=list)
    fatal_errors: list[FakeFatal] = field(default_factory=list)
    auto_answered_cmds: list[Any] = field(default_factory=list)

    def nodes_of_addon(self, addon: str) -> list[str]:
        return ["spatius_avatar_python"]


def test_the_scan_finds_a_planted_secret_wherever_it_hides():
    secret = "planted-secret-0123456789"
    audit = SuiteAudit()
    audit.add_secret(secret, "the planted secret")
    audit.add_secret("short", "too short to tell from text")  # ignored: below the floor
    audit.archive_runs(
        [
            FakeRecord(
                logs=[
                    FakeLog("spatius_avatar_python", "connecting"),
                    FakeLog("x", "key is planted-secret-0123456789"),
                ],
                messages=[
                    FakeMessage(
                        "x", "out", "data", "error", json.dumps({"message": f"bad {secret}"})
                    )
                ],
                fatal_errors=[
                    FakeFatal("spatius_avatar_python", "on_start", f"ValueError: {secret}")
                ],
            )
        ]
    )
    audit.python_logs.append(f"WARNING websocket {secret}")
    audit.captured_outputs.append(("test x stderr", "nothing here"))
    leaks = audit.scan()
    assert sorted(leak.where for leak in leaks) == sorted(
        [
            "run 1 log of x",
            "run 1 data 'error' (out) of x",
            "run 1 escaped exception in spatius_avatar_python.on_start",
            "python log record",
        ]
    )
    assert all(leak.secret == "the planted secret" for leak in leaks)
    assert audit.escaped_exceptions == 1
    assert find_leaks([("somewhere", "clean text")], [secret]) == []


def test_secrets_come_from_the_fixtures_and_from_what_tests_give_the_runtime(emulator, pcm_props):
    assert AUDIT.secrets.get(emulator.api_key) == "the emulator fixture's API key"
    assert emulator.agora_app_cert in AUDIT.secrets
    props = {
        **pcm_props,
        "params": {
            **pcm_props["params"],
            "agora_appcert": "",
            "agora_token": GIVEN_TOKEN,
            "agora_appid": "${env:AGORA_APP_ID|}",
        },
    }
    emulator.faults.add(TokenRefusal(se.TOKEN_INVALID_API_KEY), 1)

    async def script(t, env):
        await t.frames(env, speech(24000, 0.2), 24000, metadata={"turn_id": 1})
        await t.until(lambda: t.received.errors, what="the error")

    tester = run_scenario(props, script)
    assert AUDIT.secrets.get(GIVEN_TOKEN) == "agora_token given to the runtime by a test"
    assert "${env:AGORA_APP_ID|}" not in AUDIT.secrets  # a placeholder is not a secret
    # This run, scanned now (the session-end scan covers it again with every other run).
    texts = [("received", json.dumps(tester.received.data))]
    record = last_run_record()
    if record is not None:
        texts += [(f"log of {log.node}", log.message) for log in record.logs]
        texts += [(f"{m.kind} {m.name}", m.properties_json) for m in record.messages]
    assert find_leaks(texts, [emulator.api_key, emulator.agora_app_cert, GIVEN_TOKEN]) == []


def test_nothing_the_suite_captured_so_far_leaks_a_secret():
    leaks = SuiteAudit(
        secrets=dict(AUDIT.secrets),
        runs=list(AUDIT.runs),
        python_logs=list(AUDIT.python_logs),
        captured_outputs=list(AUDIT.captured_outputs),
    ).scan()
    assert AUDIT.secrets, "no secrets to look for: the audit plugin is not registered"
    assert not leaks, [f"{leak.secret} in {leak.where}" for leak in leaks[:10]]

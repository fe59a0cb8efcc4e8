"""Suite-wide audit, as a pytest plugin registered by tests/conftest.py so that it sees the
WHOLE test suite, not only tests/reliability/:

- reliability counters the tests increment (faults injected, bad inputs, fuzz examples,
  lost or stale audio bytes), printed at the end of the run;
- a secrets scan over everything the suite captured: every stand-in run (log lines with
  their fields, messages, exceptions that escaped a callback), Python log records, and
  the stdout/stderr/log output pytest captured per test. A leak fails the session.

Secrets are built from the fixtures, not written here: the emulator fixture's API key and
Agora certificate, every secret-valued property a test gave the runtime (the tester's
`set_test_mode_single` / `set_test_mode_graph`), and every Agora token a session really
used (the emulator's handshake records).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# The one skip CI allows (TEN schema validations without the schema files), for the whole suite.
pytest_plugins = ["tests.schema_skips"]

EXTENSION_ADDON = "spatius_avatar_python"
# Property names whose values are credentials, wherever they appear in a node property.
SECRET_PROPERTY_NAMES = frozenset({"spatius_api_key", "agora_appcert", "agora_token"})
# Shorter values ("k", "007tok") are placeholders that cannot be told apart from ordinary
# text; the extension's own scrubbing has the same kind of floor.
MIN_SECRET_LENGTH = 8


@dataclass(frozen=True)
class Leak:
    secret: str  # what the secret is (never its value), e.g. "the emulator's API key"
    where: str


@dataclass
class Counters:
    """Totals the reliability tests increment as they go."""

    faults_injected: int = 0
    bad_inputs_tried: int = 0
    fuzz_examples_run: int = 0
    lost_audio_bytes: int = 0
    stale_audio_bytes: int = 0
    # the fault matrix's mid-utterance rows: the loss the extension reported there
    mid_utterance_rows: int = 0
    mid_utterance_lost_s: float = 0.0


@dataclass
class SuiteAudit:
    counters: Counters = field(default_factory=Counters)
    # The part of the counters that tests marked xfail (a known, reported bug) added.
    known_bug_counters: Counters = field(default_factory=Counters)
    secrets: dict[str, str] = field(default_factory=dict)  # value -> what it is
    runs: list[Any] = field(default_factory=list)  # stand-in RunRecords of the session
    python_logs: list[str] = field(default_factory=list)
    captured_outputs: list[tuple[str, str]] = field(default_factory=list)  # (where, text)
    leaks: list[Leak] | None = None  # set by the scan at the end of the session

    # ----- what tests and tests/conftest.py call -----

    def count(self, name: str, amount: float = 1) -> None:
        setattr(self.counters, name, getattr(self.counters, name) + amount)

    def archive_runs(self, records: Iterable[Any]) -> None:
        self.runs.extend(records)

    def add_secret(self, value: Any, what: str) -> None:
        if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH:
            self.secrets.setdefault(value.strip(), what)

    def add_secrets_from_properties(self, property_json: str | None) -> None:
        """Every secret-valued property in a node property or a whole graph JSON."""
        if not property_json:
            return
        try:
            value = json.loads(property_json)
        except (TypeError, ValueError):
            return
        for name, found in _walk_named_values(value):
            if isinstance(found, str) and found.startswith("${env:"):
                continue  # a placeholder names where the secret comes from; it is not one
            if name in SECRET_PROPERTY_NAMES:
                self.add_secret(found, f"{name} given to the runtime by a test")

    @property
    def escaped_exceptions(self) -> int:
        """Exceptions that escaped an `on_*` callback of the extension, over the suite's runs
        (not the runtime refusing to load it, e.g. for a property misfit)."""
        total = 0
        for record in self.runs:
            nodes = set(record.nodes_of_addon(EXTENSION_ADDON))
            total += sum(
                1
                for fatal in record.fatal_errors
                if fatal.node in nodes and fatal.callback.startswith("on_")
            )
        return total

    # ----- the scan -----

    def texts(self) -> Iterator[tuple[str, str]]:
        """(where, text) of everything captured."""
        for number, record in enumerate(self.runs, 1):
            for log in record.logs:
                yield f"run {number} log of {log.node}", f"{log.message} {log.fields or ''}"
            for message in record.messages:
                yield (
                    f"run {number} {message.kind} '{message.name}' ({message.direction}) "
                    f"of {message.node}",
                    message.properties_json,
                )
            for fatal in record.fatal_errors:
                yield (
                    f"run {number} escaped exception in {fatal.node}.{fatal.callback}",
                    fatal.traceback_text,
                )
            for answered in record.auto_answered_cmds:
                yield f"run {number} auto-answered cmd", repr(answered)
        for text in self.python_logs:
            yield "python log record", text
        yield from self.captured_outputs

    def scan(self) -> list[Leak]:
        leaks = [
            Leak(what, where)
            for where, text in self.texts()
            for secret, what in self.secrets.items()
            if secret in text
        ]
        self.leaks = leaks
        return leaks


def find_leaks(texts: Iterable[tuple[str, str]], secrets: Iterable[str]) -> list[Leak]:
    """The scan on given texts (used by the scanner's own test)."""
    audit = SuiteAudit()
    for number, secret in enumerate(secrets, 1):
        audit.add_secret(secret, f"secret {number}")
    audit.captured_outputs.extend(texts)
    return audit.scan()


def _walk_named_values(value: Any, name: str | None = None) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_named_values(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_named_values(item, name)
    else:
        yield name, value


AUDIT = SuiteAudit()


class _PythonLogCollector(logging.Handler):
    """Keeps every Python log record that passes its logger's level (WARNING by default)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            AUDIT.python_logs.append(record.getMessage())
        except Exception:  # a malformed record must not break logging elsewhere
            AUDIT.python_logs.append(str(record.msg))


_collector = _PythonLogCollector()
_wrapped: list[tuple[type, str, Any]] = []


def _record_properties_of_tester_runs() -> None:
    """Wrap the tester's mode setters to learn the secrets each test gives the runtime."""
    try:
        from ten_runtime import AsyncExtensionTester
    except ImportError:
        return

    def wrap(name: str, property_argument: int) -> None:
        original = getattr(AsyncExtensionTester, name)

        @functools.wraps(original)  # keeps the real signature visible (tests/standin)
        def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
            if len(args) > property_argument:
                AUDIT.add_secrets_from_properties(args[property_argument])
            for value in kwargs.values():
                AUDIT.add_secrets_from_properties(value if isinstance(value, str) else None)
            return original(self, *args, **kwargs)

        try:
            setattr(AsyncExtensionTester, name, recording)
        except (AttributeError, TypeError):  # a runtime whose class cannot be patched
            return
        _wrapped.append((AsyncExtensionTester, name, original))

    wrap("set_test_mode_single", 1)  # (addon_name, property_json_str)
    wrap("set_test_mode_graph", 0)  # (graph_json)


# ----- pytest hooks -----


def pytest_configure(config: pytest.Config) -> None:
    from spatius_emulator.pytest_plugin import TestEmulator

    # The credentials the `emulator` fixture hands every test.
    AUDIT.add_secret(TestEmulator.api_key, "the emulator fixture's API key")
    AUDIT.add_secret(TestEmulator.agora_app_cert, "the emulator fixture's Agora certificate")
    logging.getLogger().addHandler(_collector)
    _record_properties_of_tester_runs()


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_collector)
    for owner, name, original in reversed(_wrapped):
        setattr(owner, name, original)
    _wrapped.clear()


_COUNTERS_BEFORE = pytest.StashKey[Counters]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    item.stash[_COUNTERS_BEFORE] = dataclasses.replace(AUDIT.counters)
    try:
        return (yield)
    finally:
        emulator = getattr(item, "funcargs", {}).get("emulator")
        recording = getattr(emulator, "recording", None)
        for connection in recording.connections if recording is not None else ():
            if connection.agora is not None:
                AUDIT.add_secret(connection.agora.token, "an Agora token a session used")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    before = item.stash.get(_COUNTERS_BEFORE, None)
    if call.when == "call" and before is not None and getattr(report, "wasxfail", None) is not None:
        for name in (f.name for f in dataclasses.fields(Counters)):
            added = getattr(AUDIT.counters, name) - getattr(before, name)
            setattr(AUDIT.known_bug_counters, name, getattr(AUDIT.known_bug_counters, name) + added)
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for section, text in report.sections:
        AUDIT.captured_outputs.append((f"{report.nodeid} {section}", text))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if AUDIT.scan():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    counters, known = AUDIT.counters, AUDIT.known_bug_counters
    leaks = AUDIT.leaks if AUDIT.leaks is not None else AUDIT.scan()
    write = terminalreporter.write_line

    def audio(name: str) -> str:
        total, of_known = getattr(counters, name), getattr(known, name)
        return f"{total}" + (
            f" (all {of_known} in xfail tests of known bugs)"
            if of_known == total and total
            else f" ({of_known} in xfail tests of known bugs)"
            if of_known
            else ""
        )

    terminalreporter.section("reliability totals")
    write(f"faults injected:        {counters.faults_injected}")
    write(f"bad inputs tried:       {counters.bad_inputs_tried}")
    write(f"fuzz examples run:      {counters.fuzz_examples_run}")
    write(
        f"escaped exceptions:     {AUDIT.escaped_exceptions} (over {len(AUDIT.runs)} stand-in runs)"
    )
    write(f"lost audio bytes:       {audio('lost_audio_bytes')}")
    write(f"stale audio bytes:      {audio('stale_audio_bytes')}")
    write(
        f"mid-utterance loss:     {counters.mid_utterance_lost_s:.3f} s reported over "
        f"{counters.mid_utterance_rows} rows"
    )
    write(f"leaked secrets:         {len(leaks)} ({len(AUDIT.secrets)} secrets checked)")
    for leak in leaks[:20]:
        write(f"  LEAK: {leak.secret} in {leak.where}", red=True)
    if leaks:
        write("the session fails: a secret leaked into captured output", red=True, bold=True)

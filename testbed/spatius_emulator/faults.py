"""Scripted misbehaviour: which token request or connection gets which fault.

A test adds rules; the emulator claims them when a token request or a WebSocket
connection arrives. `which` picks the target:
- "next": the next one (a rule is used once; two "next" rules of the same kind hit two
  consecutive targets, rules of different kinds combine on the same target);
- an int n: token request / connection number n since the emulator started (1-based);
- "every": all of them, until `clear()`.
Scripting is thread-safe: a test's main thread may script an emulator running elsewhere.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from . import service_errors as se

Which = Literal["next", "every"] | int


@dataclass(frozen=True)
class Trigger:
    """When a runtime fault fires, counted from the handshake: the first condition met.

    Neither set: right after the handshake is confirmed.
    """

    after_audio_messages: int | None = None
    after_seconds: float | None = None


# ---- token request faults ---------------------------------------------------------
@dataclass(frozen=True)
class TokenRefusal:
    refusal: se.HttpRefusal


@dataclass(frozen=True)
class TokenDelay:
    seconds: float


# ---- connection faults ------------------------------------------------------------
@dataclass(frozen=True)
class UpgradeRefusal:
    refusal: se.HttpRefusal


@dataclass(frozen=True)
class HandshakeError:
    code: int
    message: str


@dataclass(frozen=True)
class HandshakeSilence:
    """Never answer the ClientConfigureSession (the SDK gives up after 10 s)."""


@dataclass(frozen=True)
class HandshakeDelay:
    seconds: float


@dataclass(frozen=True)
class RuntimeServerError:
    code: int
    message: str
    trigger: Trigger
    close_code: int | None = 1000  # close the socket after the error; None: keep it open


@dataclass(frozen=True)
class Drop:
    """Abort the TCP connection: no close frame, as when a server or network dies."""

    trigger: Trigger


@dataclass(frozen=True)
class Close:
    code: int
    reason: str
    trigger: Trigger


@dataclass(frozen=True)
class SlowRead:
    """Pause this long after reading each client message, so TCP backpressure builds."""

    seconds_per_message: float


@dataclass(frozen=True)
class IdleTimeout:
    seconds: float


TokenFault = TokenRefusal | TokenDelay
ConnectionFault = (
    UpgradeRefusal
    | HandshakeError
    | HandshakeSilence
    | HandshakeDelay
    | RuntimeServerError
    | Drop
    | Close
    | SlowRead
    | IdleTimeout
)
RuntimeFault = RuntimeServerError | Drop | Close


@dataclass
class TokenPlan:
    refusal: se.HttpRefusal | None = None
    delay_s: float = 0.0


@dataclass
class ConnectionPlan:
    upgrade_refusal: se.HttpRefusal | None = None
    handshake_error: HandshakeError | None = None
    handshake_silence: bool = False
    handshake_delay_s: float = 0.0
    runtime: list[RuntimeFault] = field(default_factory=list)
    read_delay_s: float = 0.0
    idle_timeout_s: float | None = None


@dataclass
class _Rule:
    fault: TokenFault | ConnectionFault
    which: Which


def _claim(rules: list[_Rule], index: int) -> list[TokenFault | ConnectionFault]:
    """Pick the rules for target `index`, dropping the one-shot ones it uses."""
    claimed: list[TokenFault | ConnectionFault] = []
    next_kinds: set[type] = set()
    for rule in list(rules):
        kind = type(rule.fault)
        if rule.which == "every":
            claimed.append(rule.fault)
        elif rule.which == "next":
            if kind not in next_kinds:
                next_kinds.add(kind)
                claimed.append(rule.fault)
                rules.remove(rule)
        elif rule.which == index:
            claimed.append(rule.fault)
            rules.remove(rule)
    return claimed


class FaultScript:
    """The rules scripted for one emulator (see the module docstring for `which`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token_rules: list[_Rule] = []
        self._connection_rules: list[_Rule] = []

    def add(self, fault: TokenFault | ConnectionFault, which: Which = "next") -> None:
        if not (which in ("next", "every") or (isinstance(which, int) and which >= 1)):
            raise ValueError(f"which must be 'next', 'every' or a number >= 1, not {which!r}")
        rules = (
            self._token_rules
            if isinstance(fault, TokenRefusal | TokenDelay)
            else self._connection_rules
        )
        with self._lock:
            rules.append(_Rule(fault, which))

    def clear(self) -> None:
        with self._lock:
            self._token_rules.clear()
            self._connection_rules.clear()

    @property
    def pending(self) -> list[tuple[TokenFault | ConnectionFault, Which]]:
        with self._lock:
            return [(r.fault, r.which) for r in self._token_rules + self._connection_rules]

    # ---- claiming (emulator loop) -----------------------------------------------
    def claim_token(self, index: int) -> TokenPlan:
        plan = TokenPlan()
        with self._lock:
            faults = _claim(self._token_rules, index)
        for fault in faults:
            if isinstance(fault, TokenRefusal):
                plan.refusal = plan.refusal or fault.refusal
            elif isinstance(fault, TokenDelay):
                plan.delay_s += fault.seconds
        return plan

    def claim_connection(self, index: int) -> ConnectionPlan:
        plan = ConnectionPlan()
        with self._lock:
            faults = _claim(self._connection_rules, index)
        for fault in faults:
            match fault:
                case UpgradeRefusal(refusal):
                    plan.upgrade_refusal = plan.upgrade_refusal or refusal
                case HandshakeError():
                    plan.handshake_error = plan.handshake_error or fault
                case HandshakeSilence():
                    plan.handshake_silence = True
                case HandshakeDelay(seconds):
                    plan.handshake_delay_s += seconds
                case SlowRead(seconds):
                    plan.read_delay_s += seconds
                case IdleTimeout(seconds):
                    plan.idle_timeout_s = seconds
                case RuntimeServerError() | Drop() | Close():
                    plan.runtime.append(fault)
        return plan

    # ---- shortcuts --------------------------------------------------------------
    def refuse_token(self, status: int = 401, *, which: Which = "next") -> None:
        """401 (SDK: sessionTokenExpired), 402 (billingRequired), 404 (appIDUnrecognized), 5xx."""
        self.add(TokenRefusal(se.token_refusal(status)), which)

    def delay_token(self, seconds: float, *, which: Which = "next") -> None:
        self.add(TokenDelay(seconds), which)

    def refuse_upgrade(self, status: int = 400, *, which: Which = "next") -> None:
        """400 invalid session token, 401 expired token, 404 avatar not found, 5xx."""
        self.add(UpgradeRefusal(se.upgrade_refusal(status)), which)

    def handshake_error(
        self, code: int, message: str | None = None, *, which: Which = "next"
    ) -> None:
        """3 invalid argument, 14 egress unavailable, 16 unauthorized (egress credentials)."""
        self.add(HandshakeError(code, message or se.server_error_message(code)), which)

    def handshake_silence(self, *, which: Which = "next") -> None:
        self.add(HandshakeSilence(), which)

    def delay_handshake(self, seconds: float, *, which: Which = "next") -> None:
        self.add(HandshakeDelay(seconds), which)

    def server_error(
        self,
        code: int,
        message: str | None = None,
        *,
        after_audio_messages: int | None = None,
        after_seconds: float | None = None,
        close_code: int | None = 1000,
        which: Which = "next",
    ) -> None:
        """A runtime ServerError, e.g. 4001 credits exhausted, 4002 session duration exceeded."""
        trigger = Trigger(after_audio_messages, after_seconds)
        self.add(
            RuntimeServerError(code, message or se.server_error_message(code), trigger, close_code),
            which,
        )

    def idle_timeout(self, seconds: float, *, which: Which = "next") -> None:
        """Close the connection after `seconds` without audio, as the real idle timeout."""
        self.add(IdleTimeout(seconds), which)

    def drop(
        self,
        *,
        after_audio_messages: int | None = None,
        after_seconds: float | None = None,
        which: Which = "next",
    ) -> None:
        self.add(Drop(Trigger(after_audio_messages, after_seconds)), which)

    def close(
        self,
        code: int = 1011,
        reason: str = "internal error",
        *,
        after_audio_messages: int | None = None,
        after_seconds: float | None = None,
        which: Which = "next",
    ) -> None:
        self.add(Close(code, reason, Trigger(after_audio_messages, after_seconds)), which)

    def slow_read(self, seconds_per_message: float, *, which: Which = "next") -> None:
        self.add(SlowRead(seconds_per_message), which)

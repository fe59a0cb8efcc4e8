"""The demo's closing report: figures per utterance and the checks that decide the exit code."""

from __future__ import annotations

from dataclasses import dataclass

from .demo_facts import REASON_INTERRUPTED, DemoFacts
from .demo_graph import INTERRUPTED_UTTERANCE

# Ogg Opus counts whole 20 ms frames and pads the last one; resampling may shift a few
# samples. Anything beyond this is audio lost or added.
RECEIVED_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class Check:
    passed: bool
    text: str


def checks(facts: DemoFacts) -> list[Check]:
    out = [
        Check(
            facts.sessions >= 1 and facts.connect_ms is not None,
            "the avatar connected to the Spatius emulator (token, WebSocket, handshake)",
        )
    ]
    with_audio = sum(1 for u in facts.utterances if u.sent_s > 0)
    out.append(
        Check(
            facts.requests == with_audio,
            f"one Spatius request per utterance ({facts.requests} for {with_audio})",
        )
    )
    for u in facts.utterances:
        if u.number - 1 == INTERRUPTED_UTTERANCE:
            continue
        whole = u.received_s is not None and abs(u.received_s - u.sent_s) <= RECEIVED_TOLERANCE_S
        out.append(
            Check(
                whole and u.ended_at_service and u.sent_s > 0,
                f"utterance {u.number}: the service received all of it and its end",
            )
        )
    barged = (
        facts.utterances[INTERRUPTED_UTTERANCE]
        if len(facts.utterances) > INTERRUPTED_UTTERANCE
        else None
    )
    if barged is not None:
        out.append(
            Check(
                barged.end_reason == REASON_INTERRUPTED and 0 < barged.sent_s < barged.planned_s,
                f"main_control barged in during utterance {barged.number} and the TTS stopped",
            )
        )
        out.append(
            Check(
                barged.interrupted_at_service,
                f"utterance {barged.number} was interrupted at the service",
            )
        )
        sent_before = barged.sent_before_flush_s
        out.append(
            Check(
                barged.received_s is not None
                and sent_before is not None
                and barged.received_s <= sent_before + RECEIVED_TOLERANCE_S,
                f"utterance {barged.number}: the service got no audio the TTS sent after the flush",
            )
        )
    out.append(
        Check(
            facts.flush_status == 0 and facts.flush_passed_on,
            "the avatar answered the flush OK and passed it on",
        )
    )
    out.append(
        Check(
            facts.stale_bytes == 0 and facts.interrupt_at is not None,
            "stale bytes after the flush: 0",
        )
    )
    out.append(Check(not facts.errors, "no error from the avatar"))
    return out


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def report_lines(
    facts: DemoFacts,
    checks_: list[Check],
    *,
    audio_format: str,
    sample_rate: int,
    marks: tuple[str, str],
    completed: bool,
) -> list[str]:
    ok, bad = marks
    lines = [
        "",
        "Report",
        f"  connect time          {_ms(facts.connect_ms)} (token, WebSocket and handshake)",
        f"  session               {audio_format} at {sample_rate} Hz, {facts.sessions} session(s)",
        "",
        "  utterance   TTS sent   service received   played    at the service",
    ]
    for u in facts.utterances:
        state = (
            "interrupted"
            if u.interrupted_at_service
            else ("ended" if u.ended_at_service else "open")
        )
        if u.received_s is None:
            state = "no request"
        lines.append(
            f"  {u.number:>9}   {_seconds(u.sent_s):>8}   {_seconds(u.received_s):>16}   "
            f"{_seconds(u.played_s):>7}   {state}"
        )
    lines += [
        "",
        f"  interrupt latency     {_ms(facts.interrupt_latency_at_service_ms)} from main_control's flush to the "
        f"interrupt at the service ({_ms(facts.interrupt_latency_ms)} inside the avatar)",
        f"  stale bytes           {facts.stale_bytes} after the flush (must be 0)",
    ]
    for error in facts.errors:
        vendor = error.get("vendor_info") or {}
        lines.append(
            f"  avatar error          {error.get('code')} {vendor.get('code', '')}: {error.get('message')}"
        )
    if not completed:
        lines.append(
            "  the run did not complete in time: the figures above are what happened until then"
        )
    lines += ["", "Checks"] + [f"  {ok if c.passed else bad} {c.text}" for c in checks_]
    failed = sum(not c.passed for c in checks_)
    lines.append("")
    lines.append(
        f"All {len(checks_)} checks passed."
        if not failed
        else f"{failed} of {len(checks_)} checks failed."
    )
    return lines

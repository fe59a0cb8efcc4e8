"""Live narration of a demo run: one line per event (each told once, in the order the
events happened) and a status line."""

from __future__ import annotations

import math

from .demo_facts import REASON_INTERRUPTED, DemoFacts


class Narrator:
    def __init__(self, started_at: float) -> None:
        self._started_at = started_at  # monotonic
        self._told: set[str] = set()

    def new_events(self, facts: DemoFacts) -> list[str]:
        """Lines for what happened since the last call."""
        events: list[tuple[float, str, str]] = []  # (when, key, text)

        def add(at: float | None, key: str, text: str) -> None:
            if at is not None and key not in self._told:
                events.append((at, key, text))

        if facts.connect_ms is not None:
            add(
                facts.connected_at or math.inf,
                "connect",
                f"avatar connected to the Spatius emulator in {facts.connect_ms:.0f} ms",
            )
        for u in facts.utterances:
            add(
                u.started_at,
                f"start{u.number}",
                f"TTS: utterance {u.number} starts ({u.planned_s:.1f} s of speech)",
            )
            how = "cut by the barge-in" if u.end_reason == REASON_INTERRUPTED else "done"
            add(
                u.tts_ended_at,
                f"end{u.number}",
                f"TTS: utterance {u.number} {how} after {u.sent_s:.2f} s",
            )
            add(
                u.service_ended_at,
                f"svc{u.number}",
                f"service: utterance {u.number} complete, received {u.received_s or 0:.2f} s",
            )
            latency = facts.interrupt_latency_at_service_ms
            after = f", {latency:.1f} ms after the flush" if latency is not None else ""
            add(
                u.interrupted_at,
                f"int{u.number}",
                f"service: utterance {u.number} interrupted{after} (received {u.received_s or 0:.2f} s)",
            )
        add(facts.flush_sent_at, "flush", "main_control: the user barges in, flush sent")
        status = "OK" if facts.flush_status == 0 else f"status {facts.flush_status}"
        add(facts.flush_answered_at, "flush_result", f"avatar answered the flush: {status}")
        for number, error in enumerate(facts.errors):
            vendor = (error.get("vendor_info") or {}).get("code", "")
            add(
                math.inf,
                f"error{number}",
                f"avatar error {error.get('code')} {vendor}: {error.get('message')}",
            )

        lines = []
        for at, key, text in sorted(events, key=lambda event: event[0]):
            self._told.add(key)
            when = "" if math.isinf(at) else f"{at - self._started_at:5.1f} s  "
            lines.append(f"{when:>9}{text}")
        return lines

    @staticmethod
    def status(facts: DemoFacts, elapsed_s: float) -> str:
        speaking = next(
            (u for u in facts.utterances if u.started_at is not None and u.end_reason is None), None
        )
        now = f"utterance {speaking.number}/{len(facts.utterances)}" if speaking else "pause"
        if facts.tts_done:
            now = "TTS done"
        sent = sum(u.sent_s for u in facts.utterances)
        received = sum(u.received_s or 0.0 for u in facts.utterances)
        return (
            f"{elapsed_s:5.1f} s | {now} | TTS sent {sent:4.1f} s | service received {received:4.1f} s, "
            f"still to play {facts.queued_s:3.1f} s"
        )

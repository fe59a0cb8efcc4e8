"""The audio waiting to be sent, the Spatius requests it becomes, and what a lost session takes.

Owned by the session owner task (streamer.py); nothing here awaits or touches a socket.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .opus import OggOpusRequestEncoder
from .turns import Utterance

if TYPE_CHECKING:
    from .sessions import SessionLink

MAX_SEND_BATCH_BYTES = 64 * 1024
# Audio written this shortly before a loss was noticed may never have reached the service
# (the socket's buffers, a close on its way): it counts as lost even if "played" by the clock.
IN_FLIGHT_S = 0.25


@dataclass(slots=True)
class Audio:
    """Queued PCM of one utterance (slots: made per frame)."""

    utterance: Utterance
    pcm: bytes
    recovered: bool = False  # given back by a lost Opus stream (it never reached anyone)
    at: float = 0.0  # when it was queued (the batching hold counts from it; 0: send at once)


@dataclass(slots=True)
class EndOf:
    utterance: Utterance


class Backlog:
    """Audio and ends waiting for the live session, in order, with their size in bytes."""

    __slots__ = ("items", "bytes")

    def __init__(self) -> None:
        self.items: collections.deque[Audio | EndOf] = collections.deque()
        self.bytes = 0

    def __bool__(self) -> bool:
        return bool(self.items)

    def append(self, item: Audio | EndOf) -> None:
        self.items.append(item)
        if type(item) is Audio:
            self.bytes += len(item.pcm)

    def put_back(self, utterance: Utterance, pcm: bytes, *, recovered: bool = False) -> None:
        """First in line: audio a failed send or a lost stream gives back."""
        if pcm:
            self.items.appendleft(Audio(utterance, pcm, recovered))
            self.bytes += len(pcm)

    def put_back_end(self, utterance: Utterance) -> None:
        self.items.appendleft(EndOf(utterance))

    def take_head(self) -> Audio | EndOf:
        item = self.items.popleft()
        if type(item) is Audio:
            self.bytes -= len(item.pcm)
        return item

    def take_batch(self, utterance: Utterance) -> bytes:
        """The queued audio of `utterance` at the head, up to a batch."""
        parts: list[bytes] = []
        size = 0
        items = self.items
        while items and size < MAX_SEND_BATCH_BYTES:
            item = items[0]
            if type(item) is not Audio or item.utterance is not utterance:
                break
            items.popleft()
            self.bytes -= len(item.pcm)
            parts.append(item.pcm)
            size += len(item.pcm)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def drop_oldest(self, max_bytes: int) -> int:
        """Drop the oldest audio until at most `max_bytes` wait; ends stay so each utterance
        still ends. Returns the bytes dropped."""
        dropped = 0
        kept: list[EndOf] = []
        while self.items and self.bytes > max_bytes:
            item = self.take_head()
            if isinstance(item, Audio):
                dropped += len(item.pcm)
            else:
                kept.append(item)
        self.items.extendleft(reversed(kept))
        return dropped

    def drop_utterance(self, utterance: Utterance) -> int:
        """Drop the queued audio and end of one utterance. Returns the bytes dropped."""
        dropped = sum(
            len(item.pcm)
            for item in self.items
            if type(item) is Audio and item.utterance is utterance
        )
        self.items = collections.deque(
            item for item in self.items if item.utterance is not utterance
        )
        self.bytes -= dropped
        return dropped

    def clear(self) -> int:
        dropped = self.bytes
        self.items.clear()
        self.bytes = 0
        return dropped


@dataclass(eq=False)
class Request:
    """One Spatius request: the audio of one utterance on one link."""

    utterance: Utterance
    link: "SessionLink"
    encoder: OggOpusRequestEncoder | None
    req_id: str | None = None
    samples: int = 0  # PCM samples handed to Spatius (sent raw, or given to the encoder)
    ended: bool = False
    interrupted: bool = False
    plays_until: float = 0.0
    given_back: int | None = None  # samples put back in the backlog after a failed send

    def withheld_samples(self) -> int:
        if self.encoder is None or self.given_back is not None:
            return 0
        return self.encoder.withheld_samples

    def withheld_pcm(self) -> bytes:
        """What the Opus stream holds back and has not been given back yet (never twice)."""
        if self.encoder is None or self.given_back is not None:
            return b""
        return self.encoder.withheld_pcm()


@dataclass(eq=False)
class SentLog:
    """What one link was sent, for what a loss takes with it."""

    requests: list[Request] = field(default_factory=list)
    # (time, samples, request) of the sends in the last 2 * IN_FLIGHT_S
    recent: collections.deque[tuple[float, int, Request]] = field(default_factory=collections.deque)

    def note(self, now: float, samples: int, request: Request) -> None:
        recent = self.recent
        recent.append((now, samples, request))
        while recent[0][0] < now - 2 * IN_FLIGHT_S:
            recent.popleft()

    def lost_samples(self, at: float, rate: int) -> int:
        """What a link lost at `at` takes with it, counted from the newest audio back: what
        had not played by then, what was written in the last IN_FLIGHT_S, and what the Opus
        encoder still held; each is a suffix of what was sent, so the largest covers all."""
        unplayed = withheld = 0
        for request in self.requests:
            if request.interrupted:
                continue
            ahead = max(0.0, request.plays_until - at)
            unplayed += min(request.samples, int(round(ahead * rate)))
            withheld += request.withheld_samples()
        # (audio of an interrupted request was dropped on purpose by the barge-in: not lost)
        in_flight = sum(
            samples
            for sent_at, samples, request in self.recent
            if sent_at >= at - IN_FLIGHT_S and not request.interrupted
        )
        return max(unplayed, in_flight, withheld)

    def given_back(self) -> int:
        return sum(r.given_back or 0 for r in self.requests)

    def cut_short(self) -> Utterance | None:
        """The utterance a loss cuts short: the newest one not interrupted (also when its
        request was already forgotten but its audio was still in flight)."""
        for request in reversed(self.requests):
            if not request.interrupted:
                return request.utterance
        for _, _, request in reversed(self.recent):
            if not request.interrupted:
                return request.utterance
        return None

    def forget_over(self, now: float, slack: float) -> None:
        """Forget requests that are over; keep those that may still play."""
        self.requests = [
            r
            for r in self.requests
            if not (r.ended or r.interrupted) or r.plays_until + slack > now
        ]

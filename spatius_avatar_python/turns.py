"""Which turn a piece of TTS audio belongs to, and whether it is stale after a barge-in.

The rule (documented in the README):
- A turn is identified by `request_id` (from `tts_audio_start`/`tts_audio_end`) and by the
  frames' `metadata` turn key: `turn_id` (with `session_id` when present), else
  `metadata.request_id`.
- `flush` makes the current turn stale: its frames, ends and starts that arrive later are
  dropped. A frame or start whose key is new opens the next turn, and is never lost.
- The newest turn owns the avatar: once a turn with another key (or request id) has
  started, audio, starts and ends of the turns before it are superseded and dropped (the
  streamer says so once per turn). Two interleaved TTS requests therefore never cut each
  other into alternating pieces.
- Frames with no key at all (graphs that route only `pcm_frame`, without metadata) are
  dropped after a flush until a `tts_audio_start` arrives or the audio pauses for
  `quiet_gap_s` (the old turn's tail stops right after a barge-in; the next answer starts
  after a pause).
"""

from __future__ import annotations

import enum
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TurnKey = tuple[Any, ...]

DEFAULT_QUIET_GAP_S = 0.3
_STALE_MEMORY = 64  # how many interrupted turns are remembered


@dataclass
class Utterance:
    """One stretch of agent speech: becomes one Spatius request."""

    number: int
    request_id: str | None = None
    turn_key: TurnKey | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    ended: bool = False

    @property
    def report_id(self) -> str:
        if self.request_id:
            return self.request_id
        if self.turn_key:
            return ":".join(str(part) for part in self.turn_key)
        return f"utterance-{self.number}"


def turn_key_of(metadata: Mapping[str, Any] | None) -> TurnKey | None:
    if not isinstance(metadata, Mapping):
        return None
    turn_id = metadata.get("turn_id")
    if turn_id is not None and not isinstance(turn_id, (dict, list)):
        return ("turn", str(metadata.get("session_id", "")), str(turn_id))
    request_id = metadata.get("request_id")
    if isinstance(request_id, str) and request_id:
        return ("request", request_id)
    return None


def _forget_oldest(remembered: dict[Any, None]) -> None:
    while len(remembered) > _STALE_MEMORY:
        del remembered[next(iter(remembered))]


class FrameVerdict(enum.Enum):
    ACCEPT = "accept"
    STALE = "stale"  # belongs to an interrupted turn
    SUPERSEDED = "superseded"  # belongs to a turn a newer one has replaced


@dataclass(frozen=True)
class Routing:
    verdict: FrameVerdict
    utterance: Utterance | None = None
    ended_previous: Utterance | None = None  # an open utterance this frame implicitly closed
    superseded: str | None = None  # SUPERSEDED: the report id of the turn the frame belongs to


class TurnGate:
    def __init__(
        self,
        *,
        quiet_gap_s: float = DEFAULT_QUIET_GAP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._quiet_gap_s = quiet_gap_s
        self._numbers = itertools.count(1)
        self._current: Utterance | None = None
        self._stale_requests: dict[str, None] = {}
        self._known_requests: dict[str, None] = {}  # request ids utterances have had
        self._stale_turns: dict[TurnKey, None] = {}
        self._superseded_requests: dict[str, None] = {}
        self._superseded_turns: dict[TurnKey, None] = {}
        self._gated = False  # after a flush, until a new turn shows itself
        self._last_frame_at = float("-inf")
        self._gated_since = 0.0

    @property
    def current(self) -> Utterance | None:
        return self._current

    def _new_utterance(
        self, request_id: str | None, key: TurnKey | None, metadata: Mapping[str, Any] | None
    ) -> Routing:
        previous = self._current if self._current and not self._current.ended else None
        if previous:
            previous.ended = True
        if self._current is not None:
            self._supersede(self._current, request_id, key)
        self._current = Utterance(next(self._numbers), request_id, key, dict(metadata or {}))
        self._remember(request_id)
        self._gated = False
        return Routing(FrameVerdict.ACCEPT, self._current, previous)

    def _is_stale(self, request_id: str | None, key: TurnKey | None) -> bool:
        return (request_id is not None and request_id in self._stale_requests) or (
            key is not None and key in self._stale_turns
        )

    def _supersede(self, old: Utterance, request_id: str | None, key: TurnKey | None) -> None:
        """A new utterance replaces `old`: its turn is over for good (unless it is the same)."""
        if old.request_id and old.request_id != request_id:
            self._superseded_requests[old.request_id] = None
        if old.turn_key and old.turn_key != key:
            self._superseded_turns[old.turn_key] = None
        _forget_oldest(self._superseded_requests)
        _forget_oldest(self._superseded_turns)

    def _superseded(self, request_id: str | None, key: TurnKey | None) -> Routing | None:
        if request_id is not None and request_id in self._superseded_requests:
            return Routing(FrameVerdict.SUPERSEDED, superseded=request_id)
        if key is not None and key in self._superseded_turns:
            return Routing(FrameVerdict.SUPERSEDED, superseded=":".join(str(part) for part in key))
        return None

    def on_start(self, request_id: str | None, metadata: Mapping[str, Any] | None) -> Routing:
        """`tts_audio_start`: a TTS request's audio begins."""
        key = turn_key_of(metadata)
        if self._is_stale(request_id, key):
            return Routing(FrameVerdict.STALE)
        superseded = self._superseded(request_id, key)
        if superseded is not None:
            return superseded
        cur = self._current
        if (
            cur
            and not cur.ended
            and (
                (request_id and cur.request_id == request_id)
                or (cur.request_id is None and key is not None and cur.turn_key == key)
            )
        ):
            cur.request_id = cur.request_id or request_id
            self._remember(request_id)
            return Routing(FrameVerdict.ACCEPT, cur)
        return self._new_utterance(request_id, key, metadata)

    def on_frame(self, metadata: Mapping[str, Any] | None) -> Routing:
        now = self._clock()
        quiet_for = now - self._last_frame_at
        self._last_frame_at = now
        key = turn_key_of(metadata)
        if self._is_stale(None, key):
            return Routing(FrameVerdict.STALE)
        if key is not None and key in self._superseded_turns:
            return Routing(FrameVerdict.SUPERSEDED, superseded=":".join(str(part) for part in key))
        cur = self._current
        if key is None:
            if self._gated:
                if quiet_for < self._quiet_gap_s or now - self._gated_since < self._quiet_gap_s:
                    return Routing(FrameVerdict.STALE)
                return self._new_utterance(None, None, metadata)
            if cur and not cur.ended:
                return Routing(FrameVerdict.ACCEPT, cur)
            return self._new_utterance(None, None, metadata)
        if (
            cur
            and not cur.ended
            and (cur.turn_key == key or cur.turn_key is None and not self._gated)
        ):
            cur.turn_key = key
            return Routing(FrameVerdict.ACCEPT, cur)
        return self._new_utterance(None, key, metadata)

    def on_end(
        self, request_id: str | None, metadata: Mapping[str, Any] | None
    ) -> Utterance | None:
        """End of speech (`tts_audio_end` reason 1/3, `finalize`): the utterance to end, if any."""
        key = turn_key_of(metadata)
        if self._is_stale(request_id, key):
            return None
        cur = self._current
        if cur is None or cur.ended:
            return None
        if request_id and cur.request_id and cur.request_id != request_id:
            return None  # a late end of an earlier request
        if key is not None and cur.turn_key is not None and cur.turn_key != key:
            return None
        cur.request_id = cur.request_id or request_id
        self._remember(request_id)
        cur.ended = True
        return cur

    def is_current(self, request_id: str | None, metadata: Mapping[str, Any] | None) -> bool:
        """Whether a TTS message naming `request_id` / `metadata` is about the utterance in
        progress (and not a late one of an earlier request)."""
        cur = self._current
        if cur is None or cur.ended:
            return False
        key = turn_key_of(metadata)
        if request_id is not None and cur.request_id is not None:
            return request_id == cur.request_id
        if key is not None and cur.turn_key is not None:
            return key == cur.turn_key
        if request_id is not None:
            # The current utterance has no request id: a request id seen before is an old one.
            return request_id not in self._known_requests and request_id not in self._stale_requests
        return True  # it names nothing: it is about the speech in progress

    def _remember(self, request_id: str | None) -> None:
        if request_id:
            self._known_requests[request_id] = None
            while len(self._known_requests) > _STALE_MEMORY:
                del self._known_requests[next(iter(self._known_requests))]

    def on_interrupt(self) -> Utterance | None:
        """`flush` (or a TTS request ended as interrupted): the current turn becomes stale."""
        cur = self._current
        if cur is not None:
            if cur.request_id:
                self._stale_requests[cur.request_id] = None
            if cur.turn_key:
                self._stale_turns[cur.turn_key] = None
            cur.ended = True
        for stale in (self._stale_requests, self._stale_turns):
            while len(stale) > _STALE_MEMORY:
                del stale[next(iter(stale))]
        self._gated = True
        self._gated_since = self._clock()
        return cur

    def forget_request(self, request_id: str) -> None:
        """Mark a TTS request stale (its audio ended as interrupted)."""
        self._stale_requests[request_id] = None

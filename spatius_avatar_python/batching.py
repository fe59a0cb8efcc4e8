"""When queued audio goes to the service: the batching rule, as a pure function.

Every `send_audio` costs the same whatever it carries (a protobuf message, a WebSocket
frame, a `send()` that hands the GIL to the runtime's threads, and a wake-up of the task
that sends), so sending fewer, larger pieces is the cheapest thing the data path can do.
The user must not hear it:

- the **first audio of a request goes out at once**: that is when the avatar starts to
  speak, and any wait there is heard as latency;
- **later audio waits until `target_s` is queued**, or until the oldest queued audio has
  waited `max_hold_s` (a timer: a TTS that pauses mid-request must not strand audio). The
  service buffers ahead of playback, so a later piece arriving tens of ms later than it
  could have changes nothing the user hears;
- **an end of request, a flush or an interrupt sends what is queued at once** (`closing`):
  the end must follow its audio without delay, and an interrupt must not wait on a timer.

Defaults: target 40 ms (two 20 ms frames; 40-100 ms TTS chunks go out as they arrive),
hold at most 30 ms (a lone 20 ms frame followed by a pause leaves 30 ms later, well inside
the service's buffer). `decide` does not read a clock: the owner passes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TARGET_S = 0.040
DEFAULT_MAX_HOLD_S = 0.030


@dataclass(frozen=True)
class BatchPolicy:
    target_s: float = DEFAULT_TARGET_S  # send once this much audio is queued
    max_hold_s: float = DEFAULT_MAX_HOLD_S  # or once the oldest queued audio waited this long

    def __post_init__(self) -> None:
        if self.target_s < 0 or self.max_hold_s < 0:
            raise ValueError(
                "batch target and hold must not be negative, "
                f"got {self.target_s}, {self.max_hold_s}"
            )


@dataclass(frozen=True)
class BatchDecision:
    send: bool  # send everything queued now
    wake_at: float | None = None  # when not sending: look again at this time (None: nothing queued)


SEND = BatchDecision(True)
IDLE = BatchDecision(False)


def decide(
    policy: BatchPolicy,
    *,
    queued_s: float,
    request_started: bool,
    oldest_queued_at: float | None,
    now: float,
    closing: bool = False,
) -> BatchDecision:
    """What to do with the audio queued for one request.

    queued_s          audio queued and not yet sent (seconds)
    request_started   some audio of this request has already been sent
    oldest_queued_at  when the oldest queued audio was queued (None when nothing is)
    closing           the request ends, or a flush/interrupt is pending
    """
    if closing:
        return SEND  # an end with nothing queued still goes out (the owner sends the end)
    if queued_s <= 0:
        return IDLE
    if not request_started or queued_s >= policy.target_s:
        return SEND
    since = now if oldest_queued_at is None else oldest_queued_at
    due = since + policy.max_hold_s
    if now >= due:
        return SEND
    return BatchDecision(False, due)

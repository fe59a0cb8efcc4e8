"""The batching rule: first audio at once, later audio in batches, ends and flushes at once,
and no audio ever held longer than the policy's hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatius_avatar_python.batching import BatchDecision, BatchPolicy, decide

POLICY = BatchPolicy()  # 40 ms target, 30 ms hold


def test_the_first_audio_of_a_request_goes_out_at_once_however_little():
    d = decide(POLICY, queued_s=0.0025, request_started=False, oldest_queued_at=10.0, now=10.0)
    assert d.send


def test_later_audio_waits_for_the_target_then_goes():
    held = decide(POLICY, queued_s=0.020, request_started=True, oldest_queued_at=10.0, now=10.0)
    assert not held.send and held.wake_at == pytest.approx(10.030)
    full = decide(POLICY, queued_s=0.040, request_started=True, oldest_queued_at=10.0, now=10.001)
    assert full.send


def test_the_timer_sends_what_waited_long_enough():
    d = decide(POLICY, queued_s=0.020, request_started=True, oldest_queued_at=10.0, now=10.030)
    assert d.send


@pytest.mark.parametrize("queued_s", [0.0, 0.005, 0.5])
def test_an_end_or_flush_sends_at_once(queued_s):
    d = decide(
        POLICY,
        queued_s=queued_s,
        request_started=True,
        oldest_queued_at=10.0,
        now=10.0,
        closing=True,
    )
    assert d.send


def test_nothing_queued_means_nothing_to_do():
    assert decide(
        POLICY, queued_s=0.0, request_started=True, oldest_queued_at=None, now=1.0
    ) == BatchDecision(False, None)


def test_a_negative_policy_is_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        BatchPolicy(target_s=-0.01)


def replay(policy: BatchPolicy, arrivals: list[tuple[float, float]], end_at: float | None):
    """Drive `decide` as an owner would: on every arrival and every timer it asked for.
    arrivals: (time, seconds of audio), sorted by time. Returns the sends as
    (time, audio seconds, [arrival times of the pieces in it])."""
    sends: list[tuple[float, float, list[float]]] = []
    queued: list[tuple[float, float]] = []
    started = False
    timer: float | None = None
    events = [(t, "audio", s) for t, s in arrivals]
    if end_at is not None:
        events.append((end_at, "end", 0.0))
    events.sort(key=lambda e: (e[0], e[1] == "end"))
    i = 0
    while i < len(events) or timer is not None:
        if timer is not None and (i >= len(events) or timer <= events[i][0]):
            now, kind, size = timer, "timer", 0.0
            timer = None
        else:
            now, kind, size = events[i]
            i += 1
            if kind == "audio":
                queued.append((now, size))
        d = decide(
            policy,
            queued_s=sum(s for _, s in queued),
            request_started=started,
            oldest_queued_at=queued[0][0] if queued else None,
            now=now,
            closing=kind == "end",
        )
        if d.send:
            if queued:
                sends.append((now, sum(s for _, s in queued), [t for t, _ in queued]))
                started = True
            queued.clear()
            timer = None
        elif d.wake_at is not None:
            timer = d.wake_at if timer is None else min(timer, d.wake_at)
    return sends


chunk_ms = st.sampled_from([10, 20, 40, 60, 80, 100])


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(chunk_ms, min_size=1, max_size=40),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.3), min_size=40, max_size=40),
    end=st.booleans(),
)
def test_every_piece_goes_out_within_the_hold_and_the_first_at_once(sizes, gaps, end):
    t, arrivals = 0.0, []
    for size, gap in zip(sizes, gaps[: len(sizes)], strict=True):
        arrivals.append((t, size / 1000))
        t += gap
    sends = replay(POLICY, arrivals, end_at=t if end else None)
    assert sum(s for _, s, _ in sends) == pytest.approx(sum(s for _, s in arrivals))  # nothing lost
    assert sends[0][0] == arrivals[0][0] and sends[0][2] == [arrivals[0][0]]  # the first at once
    for sent_at, _, pieces in sends:
        for arrived in pieces:
            assert sent_at - arrived <= POLICY.max_hold_s + 1e-9


def test_real_time_20ms_frames_go_out_in_pairs_without_a_timer():
    arrivals = [(k * 0.020, 0.020) for k in range(50)]  # one second
    sends = replay(POLICY, arrivals, end_at=1.0)
    assert (
        len(sends) == 1 + 49 // 2 + 1
    )  # the first alone, then pairs, then the last one at the end
    assert all(sent_at in [a for a, _ in arrivals] or sent_at == 1.0 for sent_at, _, _ in sends)


def test_tts_chunks_of_40ms_or_more_go_out_as_they_arrive():
    arrivals = [(k * 0.060, 0.060) for k in range(20)]
    sends = replay(POLICY, arrivals, end_at=None)
    assert [t for t, _, _ in sends] == [t for t, _ in arrivals]

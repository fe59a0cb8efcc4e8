"""The real-time playback model, on hand-made arrival times."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from spatius_emulator.playback import simulate_request, simulate_session


def test_audio_received_at_once_plays_at_real_time():
    playback = simulate_request([(10.0, 2.0)], not_before=float("-inf"), stop_at=None)
    assert (playback.started_at, playback.finished_at) == (10.0, 12.0)
    assert playback.played_s(9.0) == 0.0
    assert playback.played_s(11.5) == pytest.approx(1.5)
    assert playback.queued_s(11.5) == pytest.approx(0.5)
    assert playback.played_s(20.0) == pytest.approx(2.0)


def test_slow_arrival_stalls_playback():
    # 0.5 s of audio every second: plays 0.5 s, waits 0.5 s, and so on.
    playback = simulate_request([(0.0, 0.5), (1.0, 0.5), (2.0, 0.5)], float("-inf"), None)
    assert playback.played_s(0.75) == pytest.approx(0.5)
    assert playback.played_s(1.25) == pytest.approx(0.75)
    assert playback.finished_at == pytest.approx(2.5)
    assert playback.queued_s(0.75) == 0.0


def test_interrupt_stops_playback_and_leaves_the_rest_queued():
    playback = simulate_request([(0.0, 3.0)], float("-inf"), stop_at=1.0)
    assert playback.finished_at == 1.0
    assert playback.played_s(5.0) == pytest.approx(1.0)
    assert playback.queued_s(1.0) == pytest.approx(2.0)


def test_requests_queue_behind_each_other():
    first, second, third = simulate_session(
        [([(0.0, 2.0)], None), ([(0.5, 1.0)], None), ([(10.0, 1.0)], None)]
    )
    assert second.started_at == first.finished_at == 2.0
    assert second.finished_at == 3.0
    assert third.started_at == 10.0  # the player was idle when it arrived


def test_interrupted_request_frees_the_player_early():
    first, second = simulate_session([([(0.0, 5.0)], 1.0), ([(0.5, 1.0)], None)])
    assert first.finished_at == 1.0
    assert (second.started_at, second.finished_at) == (1.0, 2.0)


def test_interrupt_before_a_queued_request_started_plays_nothing():
    first, second = simulate_session([([(0.0, 5.0)], None), ([(1.0, 1.0)], 2.0)])
    assert second.played_s(100.0) == 0.0
    assert second.finished_at == first.finished_at


@given(
    st.lists(
        st.tuples(st.floats(0, 0.5), st.floats(0, 0.3)),  # (gap before, seconds)
        min_size=1,
        max_size=30,
    ),
    st.floats(0, 20),
)
def test_played_never_exceeds_received_nor_real_time(pieces, probe):
    t, arrivals = 0.0, []
    for gap, seconds in pieces:
        t += gap
        arrivals.append((t, seconds))
    playback = simulate_request(arrivals, float("-inf"), None)
    played = playback.played_s(probe)
    assert played <= playback.received_s(probe) + 1e-9
    assert played <= max(0.0, probe - arrivals[0][0]) + 1e-9
    assert playback.played_s(playback.finished_at + 1) == pytest.approx(
        sum(s for _, s in arrivals), abs=1e-9
    )

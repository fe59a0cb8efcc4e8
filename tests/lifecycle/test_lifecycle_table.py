"""Rows of the lifecycle's state table, scripted: the sequences behind issue 15's defects
1-3, driven through the pure machine with the model's fake clock and scripted service
(tests/lifecycle/test_lifecycle_model.py), each step checked by its invariants."""

from __future__ import annotations

from spatius_avatar_python import lifecycle as lc
from spatius_avatar_python.lifecycle import LinkState, StreamerState
from tests.lifecycle.test_lifecycle_model import IDLE, TRANSIENT, LifecycleModel


def started() -> tuple[LifecycleModel, lc.Link]:
    model = LifecycleModel()
    (first,) = model.life.links
    model.perform(model.life.opened(first, model.now))
    model.facts()
    assert model.life.state is StreamerState.READY
    return model, first


def check(model: LifecycleModel) -> None:
    model.audio_waiting_has_a_way_out()
    model.one_live_link_and_ready_iff_live()
    model.a_ready_fresh_link_is_switched_to_at_a_boundary()
    model.complete()


def fresh_link(model: LifecycleModel) -> lc.Link:
    (fresh,) = [link for link in model.life.links if link.state is LinkState.OPENING]
    return fresh


def test_a_refused_rollover_connect_arms_the_timer_at_the_retry_not_at_the_past_soft_deadline():
    # Defect 1: the soft deadline, past, was offered again and again during the backoff.
    model, live = started()
    soft, _ = live.rollover_times()
    model.advance_to(soft)
    model.perform(model.life.open_failed(fresh_link(model), TRANSIENT, model.now))
    assert model.life.retry_at > model.now
    assert model.life.deadline(model.now) == model.life.retry_at
    ticks = 0
    while model.life.next_time() < model.life.retry_at:
        ticks += 1
        model.advance_to(model.life.next_time())
        assert ticks < 3
    model.advance_to(model.life.retry_at)
    assert fresh_link(model)  # the retry opened a fresh link
    check(model)


def test_an_idle_close_of_the_live_link_with_a_fresh_one_open_hands_over_to_it():
    # Defect 2: DORMANT kept the already opened fresh link; the wake-up did nothing: mute.
    model, live = started()
    model.audio(4800)
    model.send()  # an utterance is open: the fresh link waits for its end
    soft, _ = live.rollover_times()
    model.advance_to(soft)
    fresh = fresh_link(model)
    model.perform(model.life.opened(fresh, model.now))
    model.advance_to(model.now + 0.2)  # the utterance has played
    model.lose(live, IDLE, idle=True)
    assert model.life.live is fresh and model.life.state is StreamerState.READY
    model.audio(4800)
    check(model)


def test_a_fresh_link_that_opens_between_utterances_is_switched_to_at_once():
    # Defect 3: the switch waited for the periodic check, or for the hard deadline.
    model, live = started()
    soft, hard = live.rollover_times()
    model.advance_to(soft)
    fresh = fresh_link(model)
    actions = model.life.opened(fresh, model.now)
    assert any(type(a) is lc.Switch for a in actions)
    model.perform(actions)
    assert model.life.live is fresh and model.now < hard
    check(model)


def test_mid_utterance_the_switch_comes_at_the_utterance_end_or_at_the_hard_deadline():
    model, live = started()
    model.audio(48000)
    model.send()
    soft, hard = live.rollover_times()
    model.advance_to(soft)
    fresh = fresh_link(model)
    model.perform(model.life.opened(fresh, model.now))
    assert model.life.live is live  # an utterance is open: not yet
    assert model.life.deadline(model.now) == hard
    model.advance_to(hard)
    assert model.life.live is fresh
    check(model)


def test_a_dormant_avatar_connects_with_the_token_fetched_ahead_when_speech_comes():
    model, live = started()
    model.lose(live, IDLE, idle=True)
    assert model.life.state is StreamerState.DORMANT
    (prepared,) = model.life.links
    assert not prepared.go
    model.now += 5.0
    model.audio(4800)
    assert prepared.go and model.life.state is StreamerState.CONNECTING
    model.perform(model.life.opened(prepared, model.now))
    assert model.life.live is prepared
    check(model)

"""Turn gating: stale audio of an interrupted turn never passes, the next turn's always does."""

from spatius_avatar_python.turns import FrameVerdict, TurnGate


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def meta(turn, session="s1"):
    return {"session_id": session, "turn_id": turn}


def test_frames_of_one_turn_share_an_utterance_and_a_new_turn_opens_another():
    gate = TurnGate(clock=Clock())
    a = gate.on_frame(meta(1))
    b = gate.on_frame(meta(1))
    assert a.utterance is b.utterance and a.verdict is FrameVerdict.ACCEPT
    c = gate.on_frame(meta(2))
    assert c.utterance is not a.utterance
    assert c.ended_previous is a.utterance


def test_flush_makes_the_current_turn_stale_but_not_the_next():
    gate = TurnGate(clock=Clock())
    gate.on_start("req-1", meta(1))
    gate.on_frame(meta(1))
    gate.on_interrupt()
    assert gate.on_frame(meta(1)).verdict is FrameVerdict.STALE
    assert gate.on_end("req-1", meta(1)) is None  # a late end of the interrupted request
    assert gate.on_start("req-1", meta(1)).verdict is FrameVerdict.STALE
    nxt = gate.on_frame(meta(2))
    assert nxt.verdict is FrameVerdict.ACCEPT and nxt.utterance.turn_key == ("turn", "s1", "2")


def test_start_then_unkeyed_frames_after_flush():
    clock = Clock()
    gate = TurnGate(clock=clock)
    gate.on_start("req-1", None)
    gate.on_frame(None)
    gate.on_interrupt()
    clock.now += 0.02
    assert gate.on_frame(None).verdict is FrameVerdict.STALE  # old tail
    gate.on_start("req-2", None)
    routed = gate.on_frame(None)
    assert routed.verdict is FrameVerdict.ACCEPT and routed.utterance.request_id == "req-2"


def test_unkeyed_frames_only_after_a_quiet_gap():
    clock = Clock()
    gate = TurnGate(clock=clock, quiet_gap_s=0.3)
    first = gate.on_frame(None)
    gate.on_interrupt()
    for _ in range(10):  # the old stream keeps coming at 20 ms intervals
        clock.now += 0.02
        assert gate.on_frame(None).verdict is FrameVerdict.STALE
    clock.now += 0.5
    nxt = gate.on_frame(None)
    assert nxt.verdict is FrameVerdict.ACCEPT and nxt.utterance is not first.utterance


def test_end_matches_request_and_duplicates_are_harmless():
    gate = TurnGate(clock=Clock())
    gate.on_start("r1", meta(1))
    gate.on_frame(meta(1))
    ended = gate.on_end("r1", meta(1))
    assert ended is not None and ended.request_id == "r1"
    assert gate.on_end("r1", meta(1)) is None
    assert gate.on_end("r0", None) is None


def test_end_without_request_ids_closes_the_current_utterance():
    gate = TurnGate(clock=Clock())
    gate.on_frame(None)
    assert gate.on_end(None, None) is not None
    assert gate.on_end(None, None) is None


def test_start_after_frames_of_the_same_turn_joins_them():
    gate = TurnGate(clock=Clock())
    first = gate.on_frame(meta(3))
    again = gate.on_start("r3", meta(3))
    assert again.utterance is first.utterance and first.utterance.request_id == "r3"


def test_stale_memory_is_bounded():
    gate = TurnGate(clock=Clock())
    for turn in range(200):
        gate.on_frame(meta(turn))
        gate.on_interrupt()
    assert len(gate._stale_turns) <= 64

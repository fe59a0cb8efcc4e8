"""The send path: frames → backlog → Spatius requests → the live session.

Owned by the session owner task (streamer.py), which tells it which link is live and asks
it to send one batch at a time; it tells the owner only that a send failed. It never
decides anything about sessions (that is lifecycle.py). This is the seam for the data
path's cost work: nothing outside it sends audio.

Cost (issue 16): every send costs about the same whatever it carries, so audio goes in
batches (`batching.decide`: a request's first audio at once, later audio per 40 ms or after
a 30 ms hold, ends at once; `due` applies it to the backlog, the owner to its wake-ups), and
Ogg Opus is encoded on the process's one encoder thread (`OpusWorker`). A barge-in must not
wait behind an encoder job: `overtake` completes the awaited job at once, the batch it
carried is dropped with the rest of the unsent audio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .batching import IDLE, SEND, BatchDecision, BatchPolicy, decide
from .failures import Failure, link_lost
from .lifecycle import PLAYBACK_SLACK_S, LinkState
from .opus import OggOpusRequestEncoder
from .opus_worker import shared_worker
from .requests import Audio, Backlog, EndOf, Request
from .sessions import SEND_TIMEOUT_S, SessionLink, bounded
from .turns import Utterance


async def interrupt_request(session: Any, req_id: str, *, per_request: bool = True) -> bool:
    """Interrupt one request of a session, not only its newest. Returns False when it could not.

    The SDK's `interrupt()` targets the request it sent last; a request that has ended but
    still plays while the next one has started would keep playing. The SDK has no
    per-request interrupt, so point its record of the last request at the one to stop
    (sdk_internals.py checks that this works with the installed SDK; without it only the
    newest request can be interrupted).
    """
    last = getattr(session, "_last_req_id", None)
    if last != req_id:
        if not per_request:
            return False
        session._last_req_id = req_id
    await session.interrupt()
    return True


class Overtaken(Exception):
    """An encoder job a barge-in overtook: its result is not awaited any more."""


class SendPath:
    def __init__(
        self,
        *,
        rate: int,
        opus: bool,
        stats: Any,
        events: Any,
        secrets: list[str],
        clock: Callable[[], float],
        per_request_interrupt: bool,
        emit: Callable[..., None],
        internal_error: Callable[..., None],
        on_send_failed: Callable[[SessionLink, Failure], Awaitable[None]],
        policy: BatchPolicy | None = None,
    ) -> None:
        self._rate = rate
        self._opus = opus
        self.policy = policy or BatchPolicy()
        self._bytes_per_s = 2 * rate
        self._worker = shared_worker() if opus else None
        self.encoding: asyncio.Future[bytes] | None = None  # the encoder job being awaited
        self._overtaken_bytes = 0  # PCM of overtaken jobs, dropped with the barge-in's backlog
        self.stats = stats
        self._events = events
        self._secrets = secrets
        self._clock = clock
        self._per_request_interrupt = per_request_interrupt
        self._emit = emit
        self._internal_error = internal_error
        self._on_send_failed = on_send_failed
        self._old_requests_not_interrupted = 0
        self.backlog = Backlog()
        self.open: Request | None = None  # the request of the utterance being sent
        self.live: SessionLink | None = None  # where audio goes (set by the owner)

    def has_live(self) -> bool:
        return self.live is not None

    def can_send(self) -> bool:
        live = self.live
        return live is not None and live.suspect is None and bool(self.backlog)

    def due(
        self,
        now: float,
        *,
        inbox_bytes: int = 0,
        inbox_since: float | None = None,
        utterance: Utterance | None = None,
        held_long_enough: bool = False,
    ) -> BatchDecision:
        """Whether the queued audio goes out now (`batching.decide` on the backlog, plus
        `inbox_bytes` of `utterance` posted and not yet drained by the owner)."""
        items = self.backlog.items
        since: float | None
        if items:
            head, last = items[0], items[-1]
            if (
                type(head) is not Audio
                or type(last) is not Audio
                or last.utterance is not head.utterance
            ):
                return SEND  # an end, or an utterance boundary: send everything up to it
            if utterance is not None and utterance is not head.utterance:
                return SEND
            utterance = head.utterance
            since = head.at if inbox_since is None else min(head.at, inbox_since)
        elif utterance is None or not inbox_bytes:
            return IDLE
        else:
            since = inbox_since
        request = self.open
        # Started: some of its audio is out where a listener can hear it. Ogg Opus holds a
        # request's first packet back until the next one is encoded (the SDK's Ogg writer),
        # so its second frame goes at once as well.
        started = (
            request is not None
            and request.utterance is utterance
            and request.link is self.live
            and request.samples > request.withheld_samples()
        )
        return decide(
            self.policy,
            queued_s=(self.backlog.bytes + inbox_bytes) / self._bytes_per_s,
            request_started=started,
            oldest_queued_at=since,
            now=now,
            closing=held_long_enough,
        )

    def overtake(self) -> None:
        """A barge-in is posted: stop awaiting the encoder job, if one is awaited."""
        future = self.encoding
        if future is not None and not future.done():
            future.set_exception(Overtaken())

    async def _encode(self, encoder: OggOpusRequestEncoder, pcm: bytes, end: bool) -> bytes:
        assert self._worker is not None  # an encoder exists only with Ogg Opus
        future = self._worker.submit(encoder, pcm, end=end)
        if future is None:
            return b""
        self.encoding = future
        try:
            return await future
        finally:
            self.encoding = None

    async def send_guarded(self) -> None:
        head = self.backlog.items[0]
        try:
            await self._send_next()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug of ours: say it once, count what it costs, never re-send
            if self.backlog and self.backlog.items[0] is head:
                item = self.backlog.take_head()  # the item it failed on would fail again forever
                if type(item) is Audio:
                    self.stats.dropped_audio_seconds += len(item.pcm) / 2 / self._rate
                    self._emit(
                        self._events.on_metrics,
                        {"audio_dropped_seconds": round(len(item.pcm) / 2 / self._rate, 3)},
                        item.utterance,
                    )
            self._internal_error(error, "in the session task")

    async def _send_audio(self, link: SessionLink, payload: bytes, end: bool) -> str:
        try:
            return await bounded(link.session.send_audio(payload, end=end), SEND_TIMEOUT_S)
        except TimeoutError as error:
            raise TimeoutError(f"a send did not complete in {SEND_TIMEOUT_S:.0f} s") from error

    async def _send_next(self) -> None:
        """Send one batch (or one end) from the backlog on the live link."""
        item = self.backlog.items[0]
        if type(item) is EndOf:
            self.backlog.take_head()
            if self.open is not None and self.open.utterance is item.utterance:
                await self.finish_open()
            return  # else: an end with no audio sent, a duplicate, or of a dropped turn
        utterance = item.utterance
        if self.open is not None and self.open.utterance is not utterance:
            await self.finish_open()  # a new utterance began without an end for the last
            # The owner sees the utterance boundary (a fresh session may take over) first.
            return
        if self.open is None:
            self.open = self._new_request(utterance)
        request = self.open
        pcm = self.backlog.take_batch(utterance)
        link = request.link
        held = b""
        if request.encoder is not None:
            held = request.withheld_pcm()  # what the stream holds back before this batch
            try:
                payload = await self._encode(request.encoder, pcm, False)
            except Overtaken:  # a barge-in is next in the inbox: this batch goes with the backlog
                self._overtaken_bytes += len(pcm)
                return
            except Exception as error:  # our encoder: this request's stream is broken
                self.open = None
                self.stats.dropped_audio_seconds += len(pcm) / 2 / self._rate
                self._internal_error(error, "encoding Ogg Opus")
                await self._end_quietly(request)
                return
        else:
            payload = pcm
        if payload:
            try:
                request.req_id = await self._send_audio(link, payload, False)
            except Exception as error:
                # A failed send wrote nothing: the batch, and with Opus what the stream held
                # back before it, go first on the next session.
                self._give_back(request, held, pcm)
                await self._on_send_failed(link, link_lost(error, self._secrets))
                return
        self._account_sent(request, pcm)

    def _give_back(self, request: Request, held: bytes, pcm: bytes, *, end: bool = False) -> None:
        request.given_back = len(held) // 2
        if end:
            self.backlog.put_back_end(request.utterance)
        self.backlog.put_back(request.utterance, held + pcm)

    def _new_request(self, utterance: Utterance) -> Request:
        link = self.live
        assert link is not None  # only called by a send, which needs a live link
        link.sent.forget_over(self._clock(), PLAYBACK_SLACK_S)
        encoder = OggOpusRequestEncoder(self._rate) if self._opus else None
        request = Request(utterance, link, encoder)
        link.sent.requests.append(request)
        return request

    def _account_sent(self, request: Request, pcm: bytes) -> None:
        samples = len(pcm) // 2
        seconds = samples / self._rate
        now = self._clock()
        record = request.link.link
        record.plays_until = max(record.plays_until, now) + seconds
        request.plays_until = record.plays_until
        request.link.sent.note(now, samples, request)
        request.samples += samples
        self.stats.audio_seconds_sent += seconds
        if self._events.on_audio_sent is not None:
            self._emit(self._events.on_audio_sent, request.utterance, pcm)

    async def finish_open(self) -> None:
        """End the open request: its last Ogg pages and end=True."""
        request, self.open = self.open, None
        if request is None:
            return
        tail = b""
        held = request.withheld_pcm()
        if request.encoder is not None:
            try:
                tail = await self._encode(request.encoder, b"", True)
            except Overtaken:  # the barge-in next in the inbox stops it as the open request
                self.open = request
                return
            except Exception as error:
                self._internal_error(error, "encoding Ogg Opus")
        if request.req_id is None and not tail:
            return  # nothing of it was ever sent: there is no request to end
        link = request.link
        try:
            request.req_id = await self._send_audio(link, tail, True)
        except Exception as error:
            self._give_back(
                request, held, b"", end=True
            )  # the tail and the end, on the next session
            await self._on_send_failed(link, link_lost(error, self._secrets))
            return
        request.ended = True
        self._request_finished(request, interrupted=False)

    async def _end_quietly(self, request: Request) -> None:
        """Close a request whose stream broke, so the next audio opens a fresh one."""
        if request.req_id is None:
            return
        try:
            await self._send_audio(request.link, b"", True)
        except Exception as error:
            await self._on_send_failed(request.link, link_lost(error, self._secrets))
            return
        request.ended = True
        self._request_finished(request, interrupted=False)

    def _request_finished(self, request: Request, *, interrupted: bool) -> None:
        self.stats.requests_ended += 1
        self._emit(
            self._events.on_metrics,
            {
                "request_audio_seconds": round(request.samples / self._rate, 3),
                "request_interrupted": int(interrupted),
            },
            request.utterance,
        )
        if self._events.on_request_end is not None:
            self._emit(self._events.on_request_end, request.utterance)

    # ----- barge-in -----

    async def barge(self, requested_at: float, links: Iterable[SessionLink]) -> None:
        dropped = self.backlog.clear() + self._overtaken_bytes
        self._overtaken_bytes = 0
        self.stats.interrupts += 1
        open_request, self.open = self.open, None
        now = self._clock()
        targets: list[tuple[Request, str]] = []  # with the req_id each was sent under
        playing = [
            link for link in links if link.link.state in (LinkState.RETIRING, LinkState.LIVE)
        ]
        for link in playing:
            if link.suspect is not None:
                continue  # a link whose send failed plays nothing more
            for request in link.sent.requests:
                req_id = request.req_id
                if request.interrupted or req_id is None:
                    continue
                # The open request is always stopped (the service waits for its end);
                # an ended one only while it may still play.
                if request is open_request or now < request.plays_until + PLAYBACK_SLACK_S:
                    targets.append((request, req_id))
        interrupted = 0
        for request, req_id in targets:
            link = request.link
            if link.suspect is not None:
                continue
            try:
                done = await bounded(
                    interrupt_request(
                        link.session, req_id, per_request=self._per_request_interrupt
                    ),
                    SEND_TIMEOUT_S,
                )
            except Exception as error:  # the SDK's ValueError too: its socket is gone
                await self._on_send_failed(link, link_lost(error, self._secrets))
                continue
            if not done:  # an older request this SDK cannot interrupt: said, not hidden
                self._old_requests_not_interrupted += 1
                self._events.log(
                    "warn" if self._old_requests_not_interrupted == 1 else "debug",
                    "barge-in: an older request still playing could not be interrupted "
                    "with this Spatius SDK version",
                )
                continue
            request.interrupted = True
            link.link.plays_until = min(link.link.plays_until, self._clock())
            request.plays_until = link.link.plays_until
            interrupted += 1
            if not request.ended:
                self._request_finished(request, interrupted=True)
        if open_request is not None and not open_request.interrupted and not open_request.ended:
            self._request_finished(open_request, interrupted=True)  # nothing of it was sent yet
        self.stats.requests_interrupted += interrupted
        latency_ms = (self._clock() - requested_at) * 1000
        self._events.log(
            "info",
            f"barge-in: interrupted {interrupted} Spatius request(s) {latency_ms:.1f} ms after "
            f"the flush, dropped {dropped} bytes of unsent audio",
        )
        if interrupted:
            self._emit(
                self._events.on_metrics,
                {"interrupts": self.stats.interrupts, "interrupt_latency_ms": round(latency_ms, 2)},
                None,
            )

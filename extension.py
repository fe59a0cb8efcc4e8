"""TEN glue for the Spatius avatar: decodes TEN messages and calls the runtime-independent core.

Every callback is guarded: in the real runtime an exception escaping any `on_*` kills the
whole app process, so a failure here becomes a logged error (and an ERROR result for a
cmd), never an escape.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import tempfile
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec

from ten_runtime import (
    AsyncExtension,
    AsyncTenEnv,
    AudioFrame,
    AudioFrameDataFmt,
    Cmd,
    CmdResult,
    Data,
    StatusCode,
)

from .spatius_avatar_python.audio import AudioFormatError, check_frame_format, planar_to_interleaved
from .spatius_avatar_python.config import AvatarConfig, ConfigError, ConfigProblem, load_config
from .spatius_avatar_python.dump import AudioDumper
from .spatius_avatar_python.failure_codes import ExtensionErrorCode
from .spatius_avatar_python.failures import FATAL_CODE, TRANSIENT_CODE, Failure, scrub
from .spatius_avatar_python.pipeline import SpeechPipeline
from .spatius_avatar_python.reports import error_payload, metrics_payload
from .spatius_avatar_python.streamer import AvatarStreamer, StreamerEvents
from .spatius_avatar_python.transport import new_uncompressed_session
from .spatius_avatar_python.tts_messages import (
    TTS_DATA,
    InputProblem,
    TtsEnd,
    TtsStart,
    read_frame_metadata,
    read_tts_data,
)
from .spatius_avatar_python.turns import Utterance

PASS_ON_TIMEOUT_S = 5.0


P = ParamSpec("P")
# An `on_*` callback: (self, ten_env, *the message) -> a coroutine.
Callback = Callable[
    Concatenate["SpatiusAvatarExtension", AsyncTenEnv, P], Coroutine[Any, Any, None]
]


def _guarded(callback: Callback[P]) -> Callback[P]:
    """Nothing escapes a callback: log the failure instead of killing the app."""

    @functools.wraps(callback)
    async def wrapper(
        self: SpatiusAvatarExtension, ten_env: AsyncTenEnv, /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        try:
            await callback(self, ten_env, *args, **kwargs)
        except asyncio.CancelledError:
            ten_env.log_warn(f"{callback.__name__} was cancelled")
        except Exception as error:  # the last line of defence
            ten_env.log_error(f"{callback.__name__} failed: {self._safe(repr(error))}")

    return wrapper


def _short(text: str | None, limit: int = 64) -> str | None:
    """Ids from other nodes go into log lines: keep a malformed huge one from flooding the log."""
    return text if text is None or len(text) <= limit else text[:limit] + "..."


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class SpatiusAvatarExtension(AsyncExtension):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._config: AvatarConfig | None = None
        self._config_error: ConfigError | None = None
        self._streamer: AvatarStreamer | None = None
        self._pipeline: SpeechPipeline | None = None
        self._dumper: AudioDumper | None = None
        self._ten_env: AsyncTenEnv | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._frame_problems: set[str] = set()
        self._last_metadata_text: str | None = None
        self._last_metadata: dict[str, Any] = {}
        self._stopping = False

    # ----- lifecycle -----

    @_guarded
    async def on_init(self, ten_env: AsyncTenEnv) -> None:
        self._ten_env = ten_env
        text, err = await ten_env.get_property_to_json("")
        if err is not None:
            problem = ConfigProblem(
                "(root)",
                f"cannot read the properties: {err.error_message()}",
                "give the node a valid JSON property object",
            )
            self._config_error = ConfigError([problem])
            ten_env.log_error(str(self._config_error))
            return
        try:
            self._config = load_config(_json_object(text))
        except ConfigError as error:
            self._config_error = error
            ten_env.log_error(f"spatius_avatar_python is not configured correctly: {error}")
            return
        config = self._config
        for warning in config.warnings:
            ten_env.log_warn(warning)
        ten_env.log_info(
            f"configured: avatar {config.avatar_id}, channel {config.channel}, uid {config.uid}, "
            f"{config.audio_format} at {config.sample_rate} Hz, "
            f"token {'built from the app certificate' if config.builds_own_token else 'as given'}, "
            f"endpoints {config.console_endpoint_url or 'region ' + config.region}"
        )
        # Built now, started in on_start: frames may arrive between the two (the runtime
        # delivers right after on_init), and they must wait in the queue, not be lost.
        self._build_pipeline(ten_env, config)

    @_guarded
    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        if self._streamer is None:
            error = self._config_error
            message = str(error) if error else "the extension has no configuration"
            self._send_error_soon(error_payload(FATAL_CODE, message))
            return
        self._streamer.start()  # connects in the background; audio queues meanwhile

    def _build_pipeline(self, ten_env: AsyncTenEnv, config: AvatarConfig) -> None:
        events = StreamerEvents(
            on_failure=self._on_failure,
            on_metrics=self._on_metrics,
            log=self._log,
        )
        if config.dump:
            directory = config.dump_path or os.path.join(
                tempfile.gettempdir(), "spatius_avatar_dump"
            )
            loop = asyncio.get_running_loop()
            dumper = self._dumper = AudioDumper(  # its errors come from the writer thread
                directory,
                config.sample_rate,
                on_error=lambda m: loop.call_soon_threadsafe(self._log, "warn", m),
            )
            events.on_audio_sent = lambda utterance, pcm: dumper.write(utterance.report_id, pcm)
            events.on_request_end = lambda utterance: dumper.end(utterance.report_id)
            ten_env.log_info(f"dumping the audio sent to Spatius into {directory}")
        # Audio does not compress: no permessage-deflate on the session's WebSocket.
        self._streamer = AvatarStreamer(config, events, session_factory=new_uncompressed_session)
        self._pipeline = SpeechPipeline(self._streamer, config.sample_rate)

    @_guarded
    async def on_stop(self, ten_env: AsyncTenEnv) -> None:
        self._stopping = True
        if self._streamer is not None:
            await self._streamer.stop()
            stats = self._streamer.stats
            ten_env.log_info(
                f"stopped: {stats.connects} connection(s), {stats.reconnects} reconnect(s), "
                f"{stats.audio_seconds_sent:.1f} s of audio sent, {stats.interrupts} interrupt(s)"
            )
        if self._dumper is not None:
            dumper, self._dumper = self._dumper, None
            await asyncio.get_running_loop().run_in_executor(None, dumper.close)
        if self._background:
            _, pending = await asyncio.wait(self._background, timeout=1.0)
            for task in pending:
                task.cancel()

    @_guarded
    async def on_deinit(self, ten_env: AsyncTenEnv) -> None:
        if self._streamer is not None:  # stop was skipped (e.g. start never completed)
            await self._streamer.stop()

    # ----- messages in -----

    @_guarded
    async def on_cmd(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        name = cmd.get_name()
        try:
            if name == "flush":
                await self._on_flush(ten_env, cmd)
                return
            if name in ("on_user_joined", "on_user_left"):
                await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))
                return
            result = CmdResult.create(StatusCode.ERROR, cmd)
            result.set_property_string(
                "detail", f"spatius_avatar_python does not handle the cmd '{name}'"
            )
            await ten_env.return_result(result)
        except Exception as error:
            ten_env.log_error(f"cmd {name} failed: {self._safe(repr(error))}")
            result = CmdResult.create(StatusCode.ERROR, cmd)
            result.set_property_string("detail", self._safe(str(error)))
            await ten_env.return_result(result)

    async def _on_flush(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        if self._pipeline is not None:
            self._pipeline.on_flush()  # the session task interrupts the avatar and logs it
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))
        ten_env.log_info("flush: barge-in, interrupting the avatar")
        self._spawn(self._pass_flush_on(ten_env))

    async def _pass_flush_on(self, ten_env: AsyncTenEnv) -> None:
        _, err = await asyncio.wait_for(ten_env.send_cmd(Cmd.create("flush")), PASS_ON_TIMEOUT_S)
        if err is not None:  # nothing downstream is routed: fine
            ten_env.log_debug(f"flush not passed on: {err.error_message()}")

    @_guarded
    async def on_data(self, ten_env: AsyncTenEnv, data: Data) -> None:
        name = data.get_name()
        if name not in TTS_DATA:
            ten_env.log_debug(f"ignoring data '{name}'")
            return
        text, err = data.get_property_to_json("")
        # The manifest declares these by name only: every payload arrives, checked here.
        message, problems = read_tts_data(name, text if err is None else None)
        self._input_problems(problems)
        pipeline = self._pipeline
        if isinstance(message, TtsStart):
            ten_env.log_debug(f"tts_audio_start {_short(message.request_id)}")
            if pipeline is not None:
                pipeline.on_tts_start(message.request_id, message.metadata)
        elif isinstance(message, TtsEnd):
            ten_env.log_info(
                f"end of speech: tts_audio_end {_short(message.request_id)} reason {message.reason}"
            )
            if pipeline is not None:
                pipeline.on_tts_end(message.request_id, message.reason, message.metadata)
        else:
            ten_env.log_info("end of speech: finalize")
            if pipeline is not None:
                pipeline.on_finalize(message.metadata)

    def _input_problems(self, problems: list[InputProblem]) -> None:
        """A malformed payload or metadata: one error per kind of problem, as for frames."""
        for problem in problems:
            self._frame_problem(problem.key, problem.message)

    @_guarded
    async def on_audio_frame(self, ten_env: AsyncTenEnv, audio_frame: AudioFrame) -> None:
        pipeline = self._pipeline
        if pipeline is None or self._stopping:
            return
        try:
            fmt = check_frame_format(
                audio_frame.get_sample_rate(),
                audio_frame.get_number_of_channels(),
                audio_frame.get_bytes_per_sample(),
            )
        except AudioFormatError as error:
            self._frame_problem(
                error.reason, f"dropped audio frame '{audio_frame.get_name()}': {error}"
            )
            return
        pcm: bytes | bytearray = audio_frame.get_buf()
        if not pcm:
            return
        if fmt.channels > 1 and audio_frame.get_data_fmt() == AudioFrameDataFmt.NON_INTERLEAVE:
            try:
                pcm = planar_to_interleaved(pcm, fmt.channels)
            except AudioFormatError as error:
                self._frame_problem(
                    error.reason, f"dropped audio frame '{audio_frame.get_name()}': {error}"
                )
                return
        pipeline.on_frame(pcm, fmt, self._frame_metadata(audio_frame))

    def _frame_metadata(self, audio_frame: AudioFrame) -> dict[str, Any] | None:
        # Read on every frame: the frame's turn key is the only sign of a new turn a TTS that
        # sends no tts_audio_start gives, and what tells a stale frame after a flush from the
        # next turn's. Measured under the real runtime: ~6 us per read (0.3 ms per audio s at
        # 20 ms frames); reading the key's fields alone costs more (benchmarks/README.md).
        text, err = audio_frame.get_property_to_json("metadata")
        if err is not None or not text:
            return None
        if text != self._last_metadata_text:  # frames of one turn repeat it: parse once
            metadata, problems = read_frame_metadata(text)
            self._input_problems(problems)
            self._last_metadata_text = text
            self._last_metadata = metadata or {}
        return self._last_metadata

    # ----- messages out -----

    def _frame_problem(self, reason: str, message: str) -> None:
        if reason in self._frame_problems:
            return  # said once; the same bad frames keep coming
        self._frame_problems.add(reason)
        self._log("error", message)
        self._send_error_soon(error_payload(TRANSIENT_CODE, message))

    def _on_failure(self, failure: Failure, utterance: Utterance | None) -> None:
        level = "error" if failure.fatal else "warn"
        self._log(
            level,
            f"Spatius {'fatal' if failure.fatal else 'transient'} failure "
            f"{failure.vendor_code} ({failure.phase}): {failure.message}",
        )
        vendor = (
            failure.vendor_code if failure.code is not ExtensionErrorCode.AUDIO_DROPPED else None
        )
        self._send_error_soon(
            error_payload(
                failure.severity.value,
                failure.message,
                vendor_code=vendor,
                vendor_message=failure.message if vendor else None,
                turn_id=utterance.report_id if utterance else None,
                metadata=utterance.metadata if utterance else None,
            )
        )

    def _on_metrics(self, metrics: dict[str, float], utterance: Utterance | None) -> None:
        payload = metrics_payload(
            metrics,
            turn_id=utterance.report_id if utterance else None,
            metadata=utterance.metadata if utterance else None,
        )
        self._spawn(self._send_data("metrics", payload))

    def _send_error_soon(self, payload: dict[str, Any]) -> None:
        self._spawn(self._send_data("error", payload))

    async def _send_data(self, name: str, payload: dict[str, Any]) -> None:
        ten_env = self._ten_env
        if ten_env is None:
            return
        data = Data.create(name)
        data.set_property_from_json(None, json.dumps(payload))
        await ten_env.send_data(data)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log("warn", f"sending failed: {self._safe(repr(task.exception()))}")

    def _log(self, level: str, message: str) -> None:
        ten_env = self._ten_env
        if ten_env is None:
            return
        message = self._safe(message)
        {"debug": ten_env.log_debug, "info": ten_env.log_info, "warn": ten_env.log_warn}.get(
            level, ten_env.log_error
        )(message)

    def _safe(self, text: str) -> str:
        return scrub(text, self._config.secrets()) if self._config is not None else text

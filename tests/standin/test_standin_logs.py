"""The stand-in's logs as the real runtime writes them: every level in the C logger's
format without a ten.log configuration, and the handlers of one when the app has it."""

from __future__ import annotations

import os
import re

import pytest

pytest.importorskip("ten_runtime.standin", reason="tests of the TEN stand-in itself")

from ten_runtime import (  # noqa: E402
    Addon,
    AsyncExtension,
    AsyncExtensionTester,
    AsyncTenEnv,
    AsyncTenEnvTester,
    Data,
    register_addon_as_extension,
    standin,
)


class Logger(AsyncExtension):
    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        ten_env.log_debug("a debug line")
        ten_env.log_info("an info line")
        ten_env.log_info("a key point", category="key_point")
        ten_env.log_warn("a warn line")
        ten_env.log_error("an error line", fields={"n": 1})
        await ten_env.send_data(Data.create("logged"))


@register_addon_as_extension("standin_logger")
class LoggerAddon(Addon):
    def on_create_instance(self, ten_env, name, context):
        ten_env.on_create_instance_done(Logger(name), context)


class StopWhenLogged(AsyncExtensionTester):
    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        if data.get_name() == "logged":
            ten_env.stop_test()


@pytest.fixture
def log_config():
    yield standin.set_log_config
    standin.set_log_config(standin.UNREAD_LOG_CONFIG)


def run_logger() -> None:
    tester = StopWhenLogged()
    tester.set_test_mode_single("standin_logger")
    assert tester.run() is None


def test_without_a_log_configuration_every_level_is_written_in_the_real_format(capfd):
    run_logger()
    err = capfd.readouterr().err
    for level_char, message in (
        ("D", "a debug line"),
        ("I", "an info line"),
        ("W", "a warn line"),
        ("E", "an error line"),
    ):
        assert re.search(
            rf"^\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}} {os.getpid()}\(\d+\) {level_char} "
            rf"on_start@test_standin_logs\.py:\d+ \[standin_logger\] {message}$",
            err,
            re.MULTILINE,
        ), message


def test_a_log_configuration_decides_what_is_written_and_where(capfd, log_config, tmp_path):
    debug_file = tmp_path / "logs" / "debug.log"
    log_config(
        {
            "handlers": [
                {
                    "matchers": [{"level": "debug"}],
                    "formatter": {"type": "plain", "colored": False},
                    "emitter": {"type": "file", "config": {"path": str(debug_file)}},
                },
                {
                    "matchers": [{"level": "warn"}, {"level": "debug", "category": "key_point"}],
                    "formatter": {"type": "plain", "colored": False},
                    "emitter": {"type": "console", "config": {"stream": "stdout"}},
                },
            ]
        }
    )
    run_logger()
    captured = capfd.readouterr()
    shown = captured.out
    assert "a warn line" in shown and "an error line" in shown and "a key point" in shown
    assert "an info line" not in shown and "a debug line" not in shown
    assert "[standin_logger]" not in captured.err  # nothing goes to the default logger
    # The full runtime's plain format: RFC 3339 time, pid(tid), level, category, where, fields.
    assert re.search(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00 \d+\(\d+\) I key_point "
        r"on_start@test_standin_logs\.py:\d+ \[standin_logger\] a key point$",
        shown,
        re.MULTILINE,
    )
    assert re.search(
        r" E on_start@test_standin_logs\.py:\d+ \[standin_logger\] an error line n=1$",
        shown,
        re.MULTILINE,
    )
    written = debug_file.read_text()
    assert all(line in written for line in ("a debug line", "an info line", "a warn line"))


def test_the_app_folder_named_by_the_environment_gives_the_configuration(
    capfd, log_config, tmp_path, monkeypatch
):
    (tmp_path / "property.json").write_text(
        '{"ten": {"log": {"handlers": [{"matchers": [{"level": "error"}], '
        '"formatter": {"type": "plain"}, "emitter": {"type": "console", "config": {"stream": "stderr"}}}]}}}'
    )
    monkeypatch.setenv("TEN_STANDIN_APP_DIR", str(tmp_path))
    log_config(standin.UNREAD_LOG_CONFIG)  # read it again, from that app
    run_logger()
    err = capfd.readouterr().err
    assert "an error line" in err and "a warn line" not in err and "an info line" not in err

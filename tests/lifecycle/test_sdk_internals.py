"""The SDK's private parts the extension relies on (spatius_avatar_python/sdk_internals.py):
present and behaving in the installed SDK, and a change is noticed. Run this first when
moving to a new SDK version (docs/session-lifecycle.md)."""

from __future__ import annotations

from spatius.avatar_session import AvatarSession

from spatius_avatar_python.sdk_internals import (
    SUPPORTED_SDK,
    interrupt_reads_last_req_id,
    sdk_internals,
)


def test_the_installed_sdk_has_every_private_part_we_use():
    internals = sdk_internals()
    assert internals.problems() == [], internals
    assert (
        internals.per_request_interrupt
        and internals.opus_complexity
        and internals.opus_pre_skip
        and internals.opus_crc
    )


def test_an_sdk_whose_interrupt_no_longer_reads_last_req_id_is_noticed():
    class RenamedSession(AvatarSession):
        async def interrupt(self):  # a future SDK keeping the newest request elsewhere
            self._last_req_id = getattr(self, "_newest", "someone-else")
            return await AvatarSession.interrupt(self)

    assert interrupt_reads_last_req_id(AvatarSession)
    assert not interrupt_reads_last_req_id(RenamedSession)


def test_the_pin_in_requirements_is_the_supported_range():
    from pathlib import Path

    requirements = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text()
    assert f"spatius[opus]{SUPPORTED_SDK}" in requirements.replace(" ", "")

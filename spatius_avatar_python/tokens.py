"""Agora RTC tokens for the avatar publisher (AccessToken2, built with Agora's agoraiotools)."""

from __future__ import annotations

from agoraiotools.RtcTokenBuilder2 import Role_Publisher, RtcTokenBuilder

from .config import AvatarConfig


def build_publisher_token(
    app_id: str, app_certificate: str, channel: str, uid: int, ttl_s: int
) -> str:
    """An AccessToken2 that lets `uid` join `channel` and publish, valid `ttl_s` seconds."""
    token: str = RtcTokenBuilder.build_token_with_uid(  # agoraiotools is untyped
        app_id, app_certificate, channel, uid, Role_Publisher, ttl_s, ttl_s
    )
    return token


def egress_token(config: AvatarConfig) -> str:
    """The token the avatar joins with: the one given, else a fresh publisher token."""
    given = config.agora_token.get_secret_value()
    if given:
        return given
    return build_publisher_token(
        config.agora_app_id,
        config.agora_app_cert.get_secret_value(),
        config.channel,
        config.uid,
        config.session_expire_minutes * 60,
    )

"""What a Spatius failure means for the extension: fatal (stop trying) or transient (reconnect)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from spatius import AvatarSDKError, AvatarSDKErrorCode

from .failure_codes import ErrorCode, Phase

FATAL_CODE = -1000  # TEN AI module convention: the module stops trying
TRANSIENT_CODE = 1000  # the module keeps retrying by itself


class Severity(enum.Enum):
    FATAL = FATAL_CODE
    TRANSIENT = TRANSIENT_CODE


# Retrying cannot fix these: the configuration, the account or the avatar is wrong.
_FATAL_SDK_CODES = frozenset(
    {
        AvatarSDKErrorCode.sessionTokenExpired,  # the console's 401: API key refused (classify)
        AvatarSDKErrorCode.sessionTokenInvalid,
        AvatarSDKErrorCode.appIDUnrecognized,
        AvatarSDKErrorCode.appIDMismatch,
        AvatarSDKErrorCode.avatarNotFound,
        AvatarSDKErrorCode.billingRequired,
        AvatarSDKErrorCode.creditsExhausted,
        AvatarSDKErrorCode.invalidEgressConfig,
        AvatarSDKErrorCode.unsupportedSampleRate,
        AvatarSDKErrorCode.invalidRequest,
    }
)

_FIXES = {
    AvatarSDKErrorCode.sessionTokenExpired: "check params.spatius_api_key (the console refused it)",
    AvatarSDKErrorCode.sessionTokenInvalid: (
        "check params.spatius_api_key and params.spatius_app_id belong together"
    ),
    AvatarSDKErrorCode.appIDUnrecognized: "check params.spatius_app_id",
    AvatarSDKErrorCode.appIDMismatch: "params.spatius_app_id does not match the API key's app",
    AvatarSDKErrorCode.avatarNotFound: "check params.spatius_avatar_id",
    AvatarSDKErrorCode.billingRequired: "enable billing for the Spatius app",
    AvatarSDKErrorCode.creditsExhausted: "top up the Spatius account's credits",
    AvatarSDKErrorCode.invalidEgressConfig: (
        "check the Agora settings: params.agora_appid/agora_appcert or agora_token must be valid "
        "for params.agora_channel and params.agora_uid"
    ),
    AvatarSDKErrorCode.unsupportedSampleRate: (
        "set params.sample_rate to a rate the audio format supports"
    ),
    AvatarSDKErrorCode.invalidRequest: "check the extension's configuration",
}


@dataclass(frozen=True)
class Failure:
    """One classified failure, safe to log and to send (secrets scrubbed)."""

    severity: Severity
    code: ErrorCode  # the SDK's stable code (e.g. creditsExhausted) or the extension's own
    message: str  # what happened, scrubbed, with the fix appended when there is one
    phase: Phase
    fix: str | None = None  # how to fix it, for fatal failures

    @property
    def vendor_code(self) -> str:
        """The code as the text graph authors and dashboards match on."""
        return str(self.code.value)

    @property
    def fatal(self) -> bool:
        return self.severity is Severity.FATAL

    @property
    def signature(self) -> tuple[str, str]:
        """Two failures with the same signature are the same problem (reported once)."""
        return (self.code.value, self.phase.value)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret that occurs in `text` with ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def classify(error: BaseException, secrets: Iterable[str] = ()) -> Failure:
    """Map an exception from the SDK (or around it) to a Failure."""
    secrets = list(secrets)
    if isinstance(error, AvatarSDKError):
        if error.code is AvatarSDKErrorCode.sessionTokenExpired and error.phase != "session_token":
            # A 401 at the WebSocket upgrade: the session token (fetched ahead) expired, e.g.
            # after a host suspend the monotonic clock did not see. A new session fetches a
            # new token; only the console's 401 means the API key is refused.
            return Failure(
                Severity.TRANSIENT,
                error.code,
                scrub(f"{error.message} (the session token expired; fetching a new one)", secrets),
                Phase.of(error.phase),
            )
        fatal = error.code in _FATAL_SDK_CODES
        message = str(error.message)
        fix = _FIXES.get(error.code)
        if fix:
            message = f"{message} ({fix})"
        return Failure(
            Severity.FATAL if fatal else Severity.TRANSIENT,
            error.code,
            scrub(message, secrets),
            Phase.of(error.phase),
            fix,
        )
    if isinstance(error, TimeoutError):
        return Failure(
            Severity.TRANSIENT,
            AvatarSDKErrorCode.connectionFailed,
            "timed out connecting to Spatius",
            Phase.CONNECT,
        )
    if isinstance(error, ValueError):
        # The SDK raises ValueError for local misconfiguration (missing ids, bad URL scheme).
        return Failure(
            Severity.FATAL,
            AvatarSDKErrorCode.invalidRequest,
            scrub(str(error), secrets),
            Phase.CONFIGURE,
        )
    text = f"{type(error).__name__}: {error}"
    return Failure(
        Severity.TRANSIENT, AvatarSDKErrorCode.unknown, scrub(text, secrets), Phase.UNKNOWN
    )


def link_lost(error: BaseException, secrets: Iterable[str] = ()) -> Failure:
    """A send or an interrupt on an established session failed: the connection is lost.

    Whatever the SDK raises there (`ValueError` once its socket is gone, a transport
    `AvatarSDKError`) means the same: transient, reconnect. Never a configuration problem.
    """
    if isinstance(error, AvatarSDKError) and error.code in _FATAL_SDK_CODES:
        return classify(error, secrets)
    detail = (
        error.message if isinstance(error, AvatarSDKError) else f"{type(error).__name__}: {error}"
    )
    return Failure(
        Severity.TRANSIENT,
        AvatarSDKErrorCode.connectionClosed,
        scrub(f"the connection to Spatius was lost ({detail})", list(secrets)),
        Phase.WEBSOCKET_SEND,
    )

"""The extension's configuration: one validated model built from the node's properties.

Every problem is reported at once, each with its property path and how to fix it, so a
graph author fixes a configuration in one round instead of one error per restart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from .opus import OPUS_SAMPLE_RATES, opus_library_problem

PCM_SAMPLE_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000})
AUDIO_FORMATS = ("ogg_opus", "pcm_s16le")
MAX_EXPIRE_MINUTES = 24 * 60  # Agora tokens live at most 24 h
TELEMETRY_SWITCHES = ("on", "off")

# Spatius regions. "auto" lets Spatius' bootstrap service pick the nearest region when a
# session starts; a concrete region is used as it is to build the endpoint host names
# (console.<region>.spatius.ai, api.<region>.spatius.ai; cn-* regions use Spatius' China
# domain), so it must be a host-name label: lowercase words joined by "-". Spatius may add
# regions: a well-formed name it does not document is a warning in `check`, not an error.
REGION_AUTO = "auto"
# The regions Spatius documents (us-west is its default and the SDK's fallback for auto).
DOCUMENTED_REGIONS = ("us-west", "ap-northeast", "cn-beijing")
_REGION_NAME = re.compile(r"[a-z]+(-[a-z0-9]+)+")

# Properties upstream TEN's spatius_avatar_python reads at the top level of the node's
# property (its manifest declares the agora_* ones there; its config dataclass takes every
# one of them); this extension reads each of them under `params`, by the same name.
UPSTREAM_TOP_LEVEL = (
    "agora_uid",
    "agora_token",
    "agora_appid",
    "agora_appcert",
    "agora_channel",
    "spatius_api_key",
    "spatius_app_id",
    "spatius_avatar_id",
    "region",
    "sample_rate",
    "session_expire_minutes",
    "audio_format",
    "extra_params",
)

# Where each required value can come from, for the fix hints.
ENV_VARS = {
    "params.spatius_api_key": "SPATIUS_API_KEY",
    "params.spatius_app_id": "SPATIUS_APP_ID",
    "params.spatius_avatar_id": "SPATIUS_AVATAR_ID",
    "params.agora_appid": "AGORA_APP_ID",
    "params.agora_appcert": "AGORA_APP_CERTIFICATE",
}


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}. Fix: {self.fix}"


class ConfigError(ValueError):
    """The configuration cannot work; `problems` lists every reason at once."""

    code = "invalid_config"

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = "; ".join(str(p) for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)): {lines}")


class _Params(BaseModel):
    """`params`: the names Spatius documents for TEN and for Agora's hosted Convo AI."""

    model_config = ConfigDict(extra="allow", frozen=True)

    spatius_api_key: SecretStr = SecretStr("")
    spatius_app_id: StrictStr = ""
    spatius_avatar_id: StrictStr = ""
    agora_appid: StrictStr = ""
    agora_appcert: SecretStr = SecretStr("")
    agora_token: SecretStr = SecretStr("")
    agora_channel: StrictStr = ""
    agora_uid: StrictStr = ""
    region: StrictStr = "auto"
    sample_rate: StrictInt = 24000
    session_expire_minutes: StrictInt = 30
    audio_format: StrictStr = "ogg_opus"
    extra_params: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    @field_validator("region")
    @classmethod
    def _region_name(cls, value: str) -> str:
        value = value.strip()
        if not is_region_name(value):
            raise ValueError(f"{value!r} is not a Spatius region name")
        return value

    @field_validator("spatius_api_key", "agora_appcert", "agora_token", mode="before")
    @classmethod
    def _secret_must_be_string(cls, value: Any) -> Any:
        # SecretStr would accept non-strings silently; the runtime would not.
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value

    @field_validator("agora_uid")
    @classmethod
    def _uid_is_uint32(cls, value: str) -> str:
        if value.strip() and parse_uid(value) is None:
            raise ValueError(
                f"{value!r} is not a non-zero 32-bit unsigned integer "
                '(write the avatar publisher\'s numeric UID as a string, e.g. "2001")'
            )
        return value.strip()

    @field_validator("audio_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in AUDIO_FORMATS:
            raise ValueError(f"{value!r} is not one of {', '.join(AUDIO_FORMATS)}")
        return value

    @field_validator("session_expire_minutes")
    @classmethod
    def _expiry_in_range(cls, value: int) -> int:
        if not 1 <= value <= MAX_EXPIRE_MINUTES:
            raise ValueError(f"{value} is not between 1 and {MAX_EXPIRE_MINUTES} minutes")
        return value

    @field_validator("sample_rate")
    @classmethod
    def _rate_positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"{value} is not a positive sample rate")
        return value


class _Properties(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    channel: StrictStr = ""
    params: _Params = Field(default_factory=_Params)
    publisher_id: StrictStr = ""
    console_endpoint_url: StrictStr = ""
    ingress_endpoint_url: StrictStr = ""
    telemetry: StrictStr = "on"
    max_buffered_audio_ms: StrictInt = 10000
    dump: StrictBool = False
    dump_path: StrictStr = ""

    @field_validator("max_buffered_audio_ms")
    @classmethod
    def _buffer_bound(cls, value: int) -> int:
        if not 0 <= value <= 600_000:
            raise ValueError(f"{value} is not between 0 and 600000 ms")
        return value

    @field_validator("telemetry")
    @classmethod
    def _telemetry_choice(cls, value: str) -> str:
        if value not in TELEMETRY_SWITCHES and not _is_url(value, ("http", "https")):
            raise ValueError(f"{value!r} is neither on, off nor an http(s) URL")
        return value


@dataclass(frozen=True)
class AvatarConfig:
    """Everything the session needs, validated. Secrets stay `SecretStr` (hidden in repr)."""

    api_key: SecretStr
    app_id: str
    avatar_id: str
    agora_app_id: str
    agora_app_cert: SecretStr
    agora_token: SecretStr
    channel: str
    uid: int
    publisher_id: str
    region: str
    sample_rate: int
    session_expire_minutes: int
    audio_format: Literal["ogg_opus", "pcm_s16le"]
    console_endpoint_url: str
    ingress_endpoint_url: str
    telemetry: str
    max_buffered_audio_ms: int
    dump: bool
    dump_path: str
    extra_params: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def builds_own_token(self) -> bool:
        """True when the extension builds the Agora token from the certificate."""
        return not self.agora_token.get_secret_value()

    def secrets(self) -> list[str]:
        """The secret values, for scrubbing text that might echo them."""
        values = (self.api_key, self.agora_app_cert, self.agora_token)
        return [s.get_secret_value() for s in values if s.get_secret_value()]


def region_rule() -> str:
    """Which regions are valid, in words, for errors and warnings."""
    documented = ", ".join(f'"{region}"' for region in DOCUMENTED_REGIONS)
    return (
        f'use "{REGION_AUTO}" (Spatius picks the nearest region when a session starts) or one of its regions: '
        f"{documented}"
    )


def is_region_name(region: str) -> bool:
    """Whether `region` can be a region at all ("auto", or a host-name label)."""
    region = region.strip()
    return region in ("", REGION_AUTO) or bool(_REGION_NAME.fullmatch(region))


def is_documented_region(region: str) -> bool:
    region = region.strip()
    return region in (REGION_AUTO, "", *DOCUMENTED_REGIONS)


def params_of(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `params` object of a property, or an empty one when it is not an object."""
    params = raw.get("params")
    return params if isinstance(params, Mapping) else {}


def upstream_migration(key: str, raw: Mapping[str, Any]) -> tuple[str, str] | None:
    """For a top-level property where upstream's extension reads it: (what happens, the fix)."""
    if key not in UPSTREAM_TOP_LEVEL:
        return None
    params = params_of(raw)
    what = (
        f"is where upstream TEN's spatius_avatar_python reads {key}; this extension reads params.{key} "
        "and ignores a top-level one"
    )
    if params.get(key) not in (None, "", {}):
        return what, f"move it under params, in place of params.{key} (which is what counts)"
    return what, f"move it under params (as params.{key})"


def parse_uid(text: str) -> int | None:
    """A non-zero uint32 from its decimal string, or None."""
    text = text.strip()
    if not text.isdigit():
        return None
    uid = int(text)
    return uid if 0 < uid < 2**32 else None


def _is_url(value: str, schemes: tuple[str, ...]) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in schemes and bool(parsed.netloc)


_FIELD_FIXES = {
    "params.agora_uid": 'set params.agora_uid to the avatar\'s own numeric UID as a string, e.g. "2001"',
    "params.audio_format": 'set params.audio_format to "ogg_opus" or "pcm_s16le"',
    "params.session_expire_minutes": "set params.session_expire_minutes to a JSON number from 1 to 1440",
    "params.sample_rate": "set params.sample_rate to a JSON number such as 24000",
    "telemetry": 'set telemetry to "on", "off" or an http(s) URL',
    "max_buffered_audio_ms": "set max_buffered_audio_ms to a JSON number from 0 to 600000",
    "params.region": region_rule(),
    "params.extra_params": 'write params.extra_params as a JSON object whose values are strings, e.g. {"key": "value"}',
}


def _type_fix(path: str, expected: str) -> str:
    return f"write {path} as a JSON {expected} (the TEN runtime does not convert types)"


def _problems_from_validation(error: ValidationError) -> list[ConfigProblem]:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        path = ".".join(str(part) for part in item["loc"])
        kind = item["type"]
        if kind in ("string_type", "int_type", "bool_type", "model_type", "dict_type"):
            expected = {
                "string_type": "string",
                "int_type": "number (integer)",
                "bool_type": "boolean",
            }.get(kind, "object")
            if path.startswith("params.extra_params"):
                # The SDK sends a string map: every value a string, the whole an object.
                what = (
                    "must be a string"
                    if path != "params.extra_params"
                    else "must be a JSON object of strings"
                )
                problems.append(ConfigProblem(path, what, _FIELD_FIXES["params.extra_params"]))
                continue
            article = "an" if expected[0] in "aeiou" else "a"
            problems.append(
                ConfigProblem(path, f"must be {article} {expected}", _type_fix(path, expected))
            )
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        if message == "must be a string":
            problems.append(ConfigProblem(path, message, _type_fix(path, "string")))
            continue
        fix = _FIELD_FIXES.get(path, f"correct {path}")
        problems.append(ConfigProblem(path, message, fix))
    return problems


def _text(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value().strip()
    return value.strip() if isinstance(value, str) else ""


def _upstream_placed(problem: ConfigProblem, raw: Mapping[str, Any]) -> ConfigProblem:
    """A problem with params.X while a top-level X is set (where upstream's extension reads
    it): the fix is to move it."""
    related = {"params.agora_token": ("agora_token", "agora_appcert")}.get(
        problem.path, (problem.path.removeprefix("params."),)
    )
    placed = [
        key
        for key in related
        if key in UPSTREAM_TOP_LEVEL and key in raw and problem.path.startswith("params.")
    ]
    if not placed:
        return problem
    keys = " and ".join(f"the top-level {key}" for key in placed)
    return ConfigProblem(
        problem.path,
        f"{problem.message} ({keys} is set, where upstream's extension reads it)",
        f"move {keys} under params",
    )


def _required(path: str, what: str) -> ConfigProblem:
    env = ENV_VARS.get(path)
    where = f"set {path}" + (f" or the environment variable {env}" if env else "")
    return ConfigProblem(path, f"missing {what}", where)


def _rule_problems(props: _Properties | None, raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """Rules across fields, checked on whatever parsed, so all problems come out together."""
    params_raw = raw.get("params") if isinstance(raw.get("params"), Mapping) else {}

    def value(key: str, default: Any = "") -> Any:
        if props is not None:
            return getattr(props.params, key)
        return params_raw.get(key, default)

    problems: list[ConfigProblem] = []
    for key, what in (
        ("spatius_api_key", "Spatius API key"),
        ("spatius_app_id", "Spatius app id"),
        ("spatius_avatar_id", "Spatius avatar id"),
        ("agora_uid", "Agora UID for the avatar publisher"),
    ):
        raw_value = value(key)
        if isinstance(raw_value, (str, SecretStr)) and not _text(raw_value):
            problems.append(_required(f"params.{key}", what))

    channel = raw.get("channel", "")
    agora_channel = value("agora_channel")
    if not _text(channel) and isinstance(agora_channel, str) and not agora_channel.strip():
        problems.append(
            ConfigProblem(
                "params.agora_channel",
                "missing Agora channel",
                "set params.agora_channel, or let the playground inject the top-level channel",
            )
        )

    token, cert = value("agora_token"), value("agora_appcert")
    if isinstance(token, (str, SecretStr)) and isinstance(cert, (str, SecretStr)):
        if not _text(token) and not _text(cert):
            problems.append(
                ConfigProblem(
                    "params.agora_token",
                    "neither an Agora token nor an app certificate is set",
                    "set params.agora_appcert (or AGORA_APP_CERTIFICATE) so the extension builds "
                    "the avatar's publisher token, or give a ready token in params.agora_token",
                )
            )
        elif not _text(token):
            appid = value("agora_appid")
            if isinstance(appid, str) and not appid.strip():
                problems.append(
                    ConfigProblem(
                        "params.agora_appid",
                        "missing Agora app id, needed to build the token from the certificate",
                        "set params.agora_appid or the environment variable AGORA_APP_ID",
                    )
                )

    audio_format, rate = value("audio_format", "ogg_opus"), value("sample_rate", 24000)
    if audio_format in AUDIO_FORMATS and isinstance(rate, int) and not isinstance(rate, bool):
        allowed = OPUS_SAMPLE_RATES if audio_format == "ogg_opus" else PCM_SAMPLE_RATES
        if rate > 0 and rate not in allowed:
            problems.append(
                ConfigProblem(
                    "params.sample_rate",
                    f"{rate} Hz is not supported with {audio_format}",
                    f"use one of {', '.join(str(r) for r in sorted(allowed))} (24000 is recommended)",
                )
            )
    if audio_format == "ogg_opus":
        missing_opus = opus_library_problem()
        if missing_opus:
            problems.append(
                ConfigProblem(
                    "params.audio_format", "ogg_opus needs the system Opus library", missing_opus
                )
            )

    console, ingress = raw.get("console_endpoint_url", ""), raw.get("ingress_endpoint_url", "")
    if isinstance(console, str) and isinstance(ingress, str):
        if bool(console.strip()) != bool(ingress.strip()):
            problems.append(
                ConfigProblem(
                    "console_endpoint_url" if not console.strip() else "ingress_endpoint_url",
                    "only one of console_endpoint_url and ingress_endpoint_url is set",
                    "set both explicit endpoint URLs, or neither (then params.region chooses them)",
                )
            )
        if console.strip() and not _is_url(console.strip(), ("http", "https")):
            problems.append(
                ConfigProblem(
                    "console_endpoint_url",
                    f"{console!r} is not an http(s) URL",
                    "e.g. http://127.0.0.1:8080/v1/console",
                )
            )
        if ingress.strip() and not _is_url(ingress.strip(), ("ws", "wss", "http", "https")):
            problems.append(
                ConfigProblem(
                    "ingress_endpoint_url",
                    f"{ingress!r} is not a ws(s) URL",
                    "e.g. ws://127.0.0.1:8080/v2/driveningress",
                )
            )
    return problems


def _unknown_keys(raw: Mapping[str, Any]) -> tuple[str, ...]:
    known_top = set(_Properties.model_fields)
    known_params = set(_Params.model_fields)
    warnings = []
    for key in raw:
        if key not in known_top:
            upstream = upstream_migration(key, raw)
            warnings.append(
                f"{key} {upstream[0]}: {upstream[1]}"
                if upstream
                else f"unknown property {key} is ignored (a typo?)"
            )
    params = raw.get("params")
    if isinstance(params, Mapping):
        warnings += [
            f"unknown property params.{k} is ignored (a typo?)"
            for k in params
            if k not in known_params
        ]
    return tuple(warnings)


def load_config(raw: Mapping[str, Any]) -> AvatarConfig:
    """Validate the node's whole property object; raise ConfigError with every problem."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [
                ConfigProblem(
                    "(root)",
                    "the property is not a JSON object",
                    "give the node a JSON object property",
                )
            ]
        )
    props: _Properties | None = None
    problems: list[ConfigProblem] = []
    try:
        props = _Properties.model_validate(raw)
    except ValidationError as error:
        problems.extend(_problems_from_validation(error))
    reported = {p.path for p in problems}
    problems.extend(p for p in _rule_problems(props, raw) if p.path not in reported)
    if problems or props is None:
        raise ConfigError([_upstream_placed(p, raw) for p in problems])

    params = props.params
    uid = parse_uid(params.agora_uid)
    assert uid is not None  # guaranteed by the rules above
    return AvatarConfig(
        api_key=SecretStr(params.spatius_api_key.get_secret_value().strip()),
        app_id=params.spatius_app_id.strip(),
        avatar_id=params.spatius_avatar_id.strip(),
        agora_app_id=params.agora_appid.strip(),
        agora_app_cert=SecretStr(params.agora_appcert.get_secret_value().strip()),
        agora_token=SecretStr(params.agora_token.get_secret_value().strip()),
        channel=props.channel.strip() or params.agora_channel.strip(),
        uid=uid,
        publisher_id=props.publisher_id.strip() or f"spatius-avatar-{uid}",
        region=params.region.strip() or "auto",
        sample_rate=params.sample_rate,
        session_expire_minutes=params.session_expire_minutes,
        audio_format=params.audio_format,  # type: ignore[arg-type]
        console_endpoint_url=props.console_endpoint_url.strip(),
        ingress_endpoint_url=props.ingress_endpoint_url.strip(),
        telemetry=props.telemetry,
        max_buffered_audio_ms=props.max_buffered_audio_ms,
        dump=props.dump,
        dump_path=props.dump_path,
        extra_params=dict(params.extra_params),
        warnings=_unknown_keys(raw),
    )

"""The Agora tokens the extension builds are scrubbed too, without ever forgetting the
configured secrets (API key, app certificate): a long-lived avatar builds one per session."""

from spatius_avatar_python.failures import scrub
from spatius_avatar_python.streamer import BUILT_SECRETS_KEPT, remember_built_secret


def test_the_configured_secrets_outlive_any_number_of_built_tokens() -> None:
    secrets = ["sk-api-key-0001", "app-certificate-0002"]
    for number in range(3 * BUILT_SECRETS_KEPT):
        remember_built_secret(secrets, 2, f"007built-token-{number:04d}")
    text = "sk-api-key-0001 app-certificate-0002 007built-token-0023 007built-token-0016"
    assert scrub(text, secrets) == "*** *** *** ***"
    assert len(secrets) == 2 + BUILT_SECRETS_KEPT


def test_a_token_is_remembered_once_and_an_empty_one_not_at_all() -> None:
    secrets = ["sk-api-key-0001"]
    remember_built_secret(secrets, 1, "007built-token")
    remember_built_secret(secrets, 1, "007built-token")
    remember_built_secret(secrets, 1, "")
    assert secrets == ["sk-api-key-0001", "007built-token"]

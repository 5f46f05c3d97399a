import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from shared.errors import ConfigurationError
from shared.settings import Settings
from shared.vault import generate_key, open_sealed, seal

CREDENTIALS = {"refresh_token": "Atzr|very-secret-token", "marketplace_ids": "ATVPDKIKX0DER"}
SECRET_VALUE = "very-secret-token"


@pytest.fixture
def key() -> SecretStr:
    return SecretStr(generate_key())


def test_round_trip(key):
    token = seal(key, CREDENTIALS)
    assert open_sealed(key, token) == CREDENTIALS


def test_the_token_hides_the_credentials(key):
    token = seal(key, CREDENTIALS)
    assert SECRET_VALUE not in token and "refresh_token" not in token
    assert token.isascii()
    assert seal(key, CREDENTIALS) != token  # a fresh IV every time


def test_the_key_comes_from_settings(monkeypatch, key):
    monkeypatch.setenv("TRIBUTARY_CREDENTIALS_KEY", key.get_secret_value())
    settings = Settings()
    assert open_sealed(settings.credentials_key, seal(key, CREDENTIALS)) == CREDENTIALS


def test_rotation_first_key_seals_every_key_opens(key):
    new = generate_key()
    rotated = SecretStr(f"{new},{key.get_secret_value()}")
    old_token = seal(key, CREDENTIALS)
    assert open_sealed(rotated, old_token) == CREDENTIALS
    new_token = seal(rotated, CREDENTIALS)
    assert open_sealed(SecretStr(new), new_token) == CREDENTIALS
    with pytest.raises(ConfigurationError):
        open_sealed(key, new_token)


def test_context_binds_a_token_to_its_connection(key):
    token = seal(key, CREDENTIALS, context="c1|amazon|acme")
    assert open_sealed(key, token, context="c1|amazon|acme") == CREDENTIALS
    with pytest.raises(ConfigurationError, match="another connection"):
        open_sealed(key, token, context="c2|amazon|acme")
    with pytest.raises(ConfigurationError, match="another connection"):
        open_sealed(key, token)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "not set"),
        ("  ,  ", "not set"),
        ("not-a-key", "part 1 is not a Fernet key"),
        (Fernet.generate_key().decode() + ",short", "part 2 is not a Fernet key"),
    ],
)
def test_a_missing_or_malformed_key_is_a_configuration_error(raw, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        seal(SecretStr(raw), CREDENTIALS)
    if raw.strip(" ,"):
        assert raw.split(",")[-1] not in str(caught.value)


def test_the_wrong_key_cannot_open_and_says_nothing_secret(key):
    token = seal(key, CREDENTIALS)
    other = SecretStr(generate_key())
    with pytest.raises(ConfigurationError, match="cannot be opened") as caught:
        open_sealed(other, token)
    text = str(caught.value) + repr(caught.value)
    for secret in (SECRET_VALUE, token, key.get_secret_value(), other.get_secret_value()):
        assert secret not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("token", ["", "garbage", "gAAAAA" + "A" * 80])
def test_a_damaged_token_is_refused(key, token):
    with pytest.raises(ConfigurationError, match="cannot be opened"):
        open_sealed(key, token)


def test_a_tampered_token_is_refused(key):
    token = seal(key, CREDENTIALS)
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(ConfigurationError, match="cannot be opened"):
        open_sealed(key, flipped)


@pytest.mark.parametrize(
    "credentials", [["refresh_token"], {"refresh_token": 5}, {3: "x"}, {"a": None}]
)
def test_credentials_must_be_a_mapping_of_strings(key, credentials):
    with pytest.raises(ValueError, match="credentials"):
        seal(key, credentials)

"""Settings: the environment, the config file, and messages that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from blink_desktop import paths
from blink_desktop.errors import SettingsError
from blink_desktop.settings import load_settings


def test_defaults_use_the_data_dir_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.api_url is None
    assert settings.transport == "iframe"


def test_environment_overrides_the_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    paths.config_file().write_text('transport = "scheme"\nuser = "file@x.co"\n')
    monkeypatch.setenv("BLINK_DESKTOP_USER", "env@x.co")
    settings = load_settings()
    assert (settings.transport, settings.user) == ("scheme", "env@x.co")


def test_bad_environment_value_names_the_setting_and_accepted_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_TRANSPORT", "pigeon")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "Setting BLINK_DESKTOP_TRANSPORT = 'pigeon' is not valid: "
        "accepted values are 'iframe' or 'scheme'."
    )


def test_bad_file_values_unknown_keys_and_broken_toml_are_explained() -> None:
    config = paths.config_file()
    config.write_text('api_url = "ftp://x"\n')
    with pytest.raises(SettingsError, match=r"api_url in .*config.toml.*http:// or https:// URL"):
        load_settings()
    config.write_text("colour = 'blue'\n")
    with pytest.raises(SettingsError, match="Unknown setting colour"):
        load_settings()
    config.write_text("transport = \n")
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings()


def test_a_bad_api_key_value_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", "")
    monkeypatch.setenv("BLINK_DESKTOP_LOG_LEVEL", "loud")
    monkeypatch.setenv("BLINK_DESKTOP_USER", "")
    with pytest.raises(SettingsError) as raised:
        load_settings(api_key=123)
    assert "123" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BLINK_DESKTOP_USER", "   ", "BLINK_DESKTOP_USER = '   ' is not valid: expected an email"),
        ("BLINK_DESKTOP_USER", "nobody", "BLINK_DESKTOP_USER = 'nobody' is not valid"),
        ("BLINK_DESKTOP_APIKEY", "x", "Unknown setting BLINK_DESKTOP_APIKEY in the environment"),
        ("BLINK_DESKTOP_CONFIG", "/nonexistent.toml", "/nonexistent.toml, which is not a file"),
    ],
)
def test_what_was_silently_ignored_is_now_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert message in str(caught.value)
    assert "Value error" not in str(caught.value)


def test_the_log_level_and_the_identifier_are_read_as_a_person_writes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_LOG_LEVEL", " debug")
    monkeypatch.setenv("BLINK_DESKTOP_USER", " Me@Example.com ")
    settings = load_settings()
    assert (settings.log_level, settings.user) == ("DEBUG", "me@example.com")


def test_the_consent_flow_implies_basiq_version_3(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (load_settings().flow, load_settings().basiq_version) == ("blink", "2.1")
    monkeypatch.setenv("BLINK_DESKTOP_FLOW", "consent")
    assert load_settings().basiq_version == "3.0"
    paths.config_file().write_text('basiq_version = "3.0"\n')
    assert load_settings().basiq_version == "3.0"


def test_a_lower_version_with_the_consent_flow_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_FLOW", "consent")
    monkeypatch.setenv("BLINK_DESKTOP_BASIQ_VERSION", "2.1")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "Setting BLINK_DESKTOP_BASIQ_VERSION = '2.1' is not valid: BLINK_DESKTOP_FLOW=consent "
        "needs basiq-version 3.0 (the Consent UI is Basiq 3.0's); set it to 3.0 or unset it."
    )
    monkeypatch.setenv("BLINK_DESKTOP_FLOW", "blink")
    assert load_settings().basiq_version == "2.1"  # Blink mode keeps what it had


def test_bad_consent_settings_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_FLOW", "web")
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_FLOW = 'web'.*'blink' or 'consent'"):
        load_settings()
    monkeypatch.setenv("BLINK_DESKTOP_FLOW", "consent")
    monkeypatch.setenv("BLINK_DESKTOP_REDIRECT_URL", "app.example.com/return")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "Setting BLINK_DESKTOP_REDIRECT_URL = 'app.example.com/return' is not valid: expected an "
        "http:// or https:// URL, such as https://app.example.com/basiq/return."
    )
    monkeypatch.setenv("BLINK_DESKTOP_REDIRECT_URL", "https://app.example.com/return")
    monkeypatch.setenv("BLINK_DESKTOP_CONSENT_URL", "consent.basiq.io")
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_CONSENT_URL.*consent.basiq.io/home"):
        load_settings()

"""Settings, the command line's error boundary, and logs that keep secrets out."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from blink_desktop import __version__, cli, logs, paths
from blink_desktop.errors import SettingsError
from blink_desktop.settings import load_settings


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blink_desktop", *args], capture_output=True, text=True, timeout=60
    )


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


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"blink-desktop {__version__}"
    helped = run("--help")
    assert helped.returncode == 0
    assert "emulator" in helped.stdout


def test_bad_setting_stops_the_program_with_one_line_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_LOG_LEVEL", "LOUD")
    result = run("emulator")
    assert result.returncode == 2
    assert result.stderr.startswith("blink-desktop: Setting BLINK_DESKTOP_LOG_LEVEL = 'LOUD'")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_arguments_are_refused_by_argparse() -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["emulator", "--job-speed", "-1"])
    assert raised.value.code == 2


def test_logs_go_to_a_file_with_tokens_and_secrets_scrubbed(tmp_path: Path) -> None:
    log_file = logs.setup(tmp_path / "logs")
    assert log_file is not None
    logs.redactor.add_secret("sk-super-secret")
    logger = logging.getLogger("test")
    logger.info("GET /index.html?user_id=u&access_token=eyJ.abc.def&iframe=true")
    logger.info("header Bearer eyJhbGciOi.payload.sig and key %s", "sk-super-secret")
    try:
        raise RuntimeError("failed with sk-super-secret")
    except RuntimeError:
        logger.exception("boom")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text()
    assert "access_token=[redacted]&iframe=true" in text
    assert "eyJ" not in text
    assert "sk-super-secret" not in text
    assert "boom" in text


def test_unwritable_log_dir_does_not_stop_the_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert logs.setup(blocker / "logs") is None
    assert "cannot write logs" in capsys.readouterr().err


def test_assets_are_found_from_a_checkout() -> None:
    assert (paths.assets_dir() / "emulator" / "institutions.json").is_file()

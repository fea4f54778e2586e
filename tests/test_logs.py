"""Logging: a file with secrets scrubbed, and a log folder that cannot stop the app."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from blink_desktop import logs


def test_logs_go_to_a_file_with_tokens_and_secrets_scrubbed(tmp_path: Path) -> None:
    log_file = logs.setup(tmp_path / "logs")
    assert log_file is not None
    logs.redactor.add_secret("sk-super-secret")
    logger = logging.getLogger("test")
    logger.info("GET /index.html?user_id=u&access_token=eyJ.abc.def&iframe=true")
    logger.info("header Bearer eyJhbGciOi.payload.sig and key %s", "sk-super-secret")
    logger.info("GET /home?token=eyJhbGciOi.eyJzdWIi.c2ln&userId=u&state=s")
    logger.info("a token in a sentence: %s.", "eyJhbGciOi.eyJzdWIi.c2ln")
    try:
        raise RuntimeError("failed with sk-super-secret")
    except RuntimeError:
        logger.exception("boom")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text()
    assert "access_token=[redacted]&iframe=true" in text
    assert "GET /home?token=[redacted]&userId=u&state=s" in text
    assert "a token in a sentence: [redacted]." in text
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


def test_every_log_file_is_owner_only_the_rotated_ones_too(tmp_path: Path) -> None:
    log_file = logs.setup(tmp_path / "logs")
    assert log_file is not None
    handler = next(h for h in logging.getLogger().handlers if hasattr(h, "doRollover"))
    logging.getLogger("test").warning("first")
    handler.doRollover()
    logging.getLogger("test").warning("second")
    files = sorted((tmp_path / "logs").iterdir())
    assert [f.name for f in files] == ["blink-desktop.log", "blink-desktop.log.1"]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}

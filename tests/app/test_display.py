"""Before Qt opens a window: a missing display or system library is named, with its package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from blink_desktop.app import display
from blink_desktop.errors import SettingsError

ABSENT = "libblink-desktop-test-absent.so.1"

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build a .so")


def plugin_needing(folder: Path, soname: str) -> Path:
    """A real xcb-plugin-shaped .so whose one dependency, `soname`, is then taken away."""
    (folder / "dep.c").write_text("int dep(void) { return 1; }\n")
    (folder / "plugin.c").write_text("int dep(void);\nint plugin(void) { return dep(); }\n")
    platforms = folder / "plugins" / "platforms"
    platforms.mkdir(parents=True)

    def gcc(*args: str) -> None:
        subprocess.run(["gcc", "-shared", "-fPIC", *args], cwd=folder, check=True, timeout=60)

    gcc("-o", "libdep.so", f"-Wl,-soname,{soname}", "dep.c")
    gcc("-o", str(platforms / "libqxcb.so"), "plugin.c", "-L.", "-ldep")
    (folder / "libdep.so").unlink()
    return folder / "plugins"


@needs_gcc
def test_ldd_names_the_library_a_binary_cannot_find(tmp_path: Path) -> None:
    plugins = plugin_needing(tmp_path, ABSENT)
    binary = plugins / "platforms" / "libqxcb.so"
    assert display.missing_libraries([binary, tmp_path / "no-such-file.so"]) == [ABSENT]


@needs_gcc
def test_one_ldd_reads_every_binary_however_they_are_ordered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = plugin_needing(tmp_path, ABSENT) / "platforms" / "libqxcb.so"
    healthy = Path(sys.executable).resolve()
    runs: list[list[str]] = []
    run = subprocess.run

    def counted(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        runs.append(command)
        return run(command, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)  # the module display.py calls
    assert display.missing_libraries([healthy, broken, broken]) == [ABSENT]
    assert runs == [["ldd", str(healthy), str(broken), str(broken)]]  # one process for all
    assert display.missing_libraries([broken, healthy]) == [ABSENT]
    assert display.missing_libraries([healthy]) == []


@needs_gcc
def test_a_missing_library_stops_the_app_with_the_command_that_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = plugin_needing(tmp_path, ABSENT)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":99")
    with pytest.raises(SettingsError) as caught:
        display.check(plugins, tmp_path / "lib")
    message = str(caught.value)
    assert f"missing: {ABSENT}" in message
    assert f"apt-get install -y {ABSENT}" in message


def test_the_packages_are_named_as_debian_names_them() -> None:
    command = display.install_command(["libxcb-keysyms.so.1", "libxcb-icccm.so.4", "libnss3.so"])
    assert command.endswith("apt-get install -y libnss3 libxcb-icccm4 libxcb-keysyms1")


def test_no_display_is_named_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(SettingsError, match="DISPLAY is not set.*QT_QPA_PLATFORM=offscreen"):
        display.check(tmp_path, tmp_path)


@needs_gcc
def test_offscreen_needs_no_display_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = plugin_needing(tmp_path, ABSENT)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.delenv("DISPLAY", raising=False)
    display.check(plugins, tmp_path)  # nothing raised: offscreen does not load the xcb plugin

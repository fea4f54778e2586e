"""Before Qt opens a window on Linux: the display and the system libraries it needs.

Without them Qt aborts the whole process with a message that names the wrong package
("xcb-cursor0 or libxcb-cursor0 is needed" when libxcb-icccm4 is what is missing). So the app
looks first, with `ldd` on Qt's own xcb plugin, and names the exact Debian packages and the
command that installs them.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from blink_desktop.errors import SettingsError

# The libraries Qt's xcb platform loads, by soname, and the Debian/Ubuntu package of each.
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libnss3.so": "libnss3",
    "libnssutil3.so": "libnss3",
    "libsmime3.so": "libnss3",
    "libnspr4.so": "libnspr4",
    "libasound.so.2": "libasound2",
    "libxkbfile.so.1": "libxkbfile1",
    "libXcomposite.so.1": "libxcomposite1",
    "libXdamage.so.1": "libxdamage1",
    "libXrandr.so.2": "libxrandr2",
    "libXtst.so.6": "libxtst6",
    "libXext.so.6": "libxext6",
    "libXfixes.so.3": "libxfixes3",
    "libxshmfence.so.1": "libxshmfence1",
    "libgbm.so.1": "libgbm1",
    "libdrm.so.2": "libdrm2",
}
# Qt loads this one with dlopen() at start, so ldd does not list it.
LOADED_AT_RUN_TIME = ("libxcb-cursor.so.0",)


def missing_libraries(binaries: Iterable[Path]) -> list[str]:
    """The sonames `ldd` cannot find for any of these binaries, in order, once each."""
    present = [str(binary) for binary in binaries if binary.is_file()]
    if not present:
        return []
    try:  # one ldd for all: each run costs some 20 ms before the window can open
        listed = subprocess.run(
            ["ldd", *present], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []  # no ldd: let Qt speak for itself
    missing: list[str] = []
    for line in listed.splitlines():
        name, _, where = line.strip().partition(" => ")
        if where.strip() == "not found" and name not in missing:
            missing.append(name)
    return missing


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def install_command(sonames: Iterable[str]) -> str:
    packages = sorted({PACKAGES.get(name, name) for name in sonames})
    command = "apt-get install -y " + " ".join(packages)
    return command if os.geteuid() == 0 else "sudo " + command


def check(plugins: Path, libraries: Path) -> None:
    """Raise SettingsError naming what to install when Qt could not open a window here."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return  # offscreen, wayland…: not the xcb plugin, nothing of ours to check
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise SettingsError(
            "There is no display to open the window on (DISPLAY is not set). Run blink-desktop "
            "from a desktop session or over ssh with X forwarding (ssh -X), or set "
            "QT_QPA_PLATFORM=offscreen to run it with no screen, as the tests do."
        )
    binaries = [
        plugins / "platforms" / "libqxcb.so",
        libraries / "libQt6XcbQpa.so.6",
        libraries / "libQt6WebEngineCore.so.6",
    ]
    missing = missing_libraries(binaries)
    missing += [name for name in LOADED_AT_RUN_TIME if name not in missing and not _loadable(name)]
    if missing:
        raise SettingsError(
            "The window needs system libraries that are missing: "
            f"{', '.join(missing)}. On Debian or Ubuntu, install them with:\n"
            f"  {install_command(missing)}\n"
            "On other systems, install the packages that provide them."
        )


def check_qt() -> None:
    """`check` with the plugin and library folders of the Qt that pywebview will use."""
    from qtpy.QtCore import QLibraryInfo

    check(
        Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)),
        Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.LibrariesPath)),
    )

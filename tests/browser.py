"""Headless Chromium (Debian's chromium) for the tests that look at a page as a person does: installed
with the CJK font when missing (as root, like the PostgreSQL server), started with a fresh profile
and the flags that keep it off this machine's closed network."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]  # fmt: skip
PACKAGES = ["chromium", "fonts-noto-cjk"]


def chromium() -> str:
    """The chromium binary, with a CJK font beside it (apt-get as root when either is missing)."""
    found = shutil.which("chromium")
    has_font = any(Path("/usr/share/fonts").rglob("NotoSansCJK*")) if Path("/usr/share/fonts").exists() else False
    if (found is None or not has_font) and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        wait = ["-o", "DPkg::Lock::Timeout=600"]  # another test may be installing PostgreSQL
        subprocess.run(["apt-get", *wait, "update", "-qq"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", *wait, "install", "-y", "-qq", *PACKAGES], check=True, env=env, capture_output=True)
        found = shutil.which("chromium")
    if found is None:
        raise RuntimeError("headless Chromium not found: install Debian's chromium and fonts-noto-cjk")
    return found


def run(url: str, *extra: str, budget_ms: int = 8000) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *extra, url],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip


def dom(url: str, **kwargs) -> str:
    """The page's DOM after its scripts ran (what a person's browser shows, as HTML)."""
    done = run(url, "--dump-dom", **kwargs)
    assert done.returncode == 0 and done.stdout, done.stderr[-2000:]
    return done.stdout


def screenshot(url: str, path: Path, width: int = 1100, height: int = 2400, **kwargs) -> Path:
    done = run(url, f"--screenshot={path}", f"--window-size={width},{height}", **kwargs)
    assert done.returncode == 0 and path.exists() and path.stat().st_size > 10_000, done.stderr[-2000:]
    return path

"""Imports point one way: adapters -> bot -> storage. bot/ never pulls in a platform SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys, pkgutil, importlib
import bot
for info in pkgutil.walk_packages(bot.__path__, "bot."):
    if info.name != "bot.runtime.app":
        importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {"telegram", "discord", "adapters"})
print(",".join(bad))
"""


def test_bot_imports_no_platform_sdk_and_no_adapter() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_composition_root_imports_platforms_lazily() -> None:
    probe = "import sys, bot.runtime.app; print(any(m.split('.')[0] in {'telegram','discord'} for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_storage_never_imports_bot() -> None:
    for path in (ROOT / "storage").rglob("*.py"):
        text = path.read_text()
        assert "from bot" not in text and "import bot" not in text, path

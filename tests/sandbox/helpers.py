"""Run `badgebot sandbox` as a user does, and say when what it needs is missing.

Tests that need the sandbox extra, Chromium or Playwright skip without them, except when
BADGEBOT_SANDBOX_TESTS=required (CI sets it): then they run and fail, never skip silently.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest

from bot.sandbox.command import extra_installed

REPO = Path(__file__).parents[2]
CHROMIUM = Path("/usr/bin/chromium")
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/#\S+")
REQUIRED = os.environ.get("BADGEBOT_SANDBOX_TESTS") == "required"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def needs(problem: str | None) -> pytest.MarkDecorator:
    """Skip with ``problem`` as the reason, unless the sandbox tests are required."""
    return pytest.mark.skipif(bool(problem) and not REQUIRED, reason=problem or "")


def sandbox_extra_problem() -> str | None:
    if extra_installed():
        return None
    return "needs the sandbox extra: pip install -e '.[sandbox]'"


def browser_problem() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if find_spec("playwright") is None:
        return "needs Playwright for Python: pip install -e '.[browser]'"
    return None


def user_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell, without our own settings, plus ``extra``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BADGEBOT_", "DISCORD_"))}
    return {**clean, **extra, "PYTHONPATH": str(REPO)}


def _badgebot(blocked: str | None = None) -> list[str]:
    if blocked is None:
        return [sys.executable, "-m", "bot.cli"]
    # As if the module were not installed: importing it raises ImportError.
    code = (
        f"import sys; sys.modules[{blocked!r}] = None; from bot.cli import main; sys.exit(main())"
    )
    return [sys.executable, "-c", code]


def badgebot(
    args: list[str], cwd: Path, *, blocked: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `badgebot ARGS` to completion (for commands that end by themselves), optionally
    with the module ``blocked`` unimportable."""
    return subprocess.run(
        [*_badgebot(blocked), *args],
        cwd=cwd,
        env=user_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class RunningSandbox:
    process: subprocess.Popen[str]
    url: str
    stdout: Path
    stderr: Path

    @property
    def port(self) -> int:
        match = URL.match(self.url)
        assert match is not None
        return int(match.group(1))

    def interrupt(self) -> int:
        """Press Ctrl-C; the exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_TIMEOUT)


def _wait_for_url(process: subprocess.Popen[str], stdout: Path, stderr: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        match = URL.search(stdout.read_text())
        if match:
            return match.group(0)
        if process.poll() is not None:
            pytest.fail(f"the sandbox exited with {process.returncode}: {stderr.read_text()}")
        time.sleep(0.1)
    pytest.fail(f"the sandbox printed no address within {START_TIMEOUT:.0f} s")


@contextmanager
def sandbox(cwd: Path, *args: str, **env: str) -> Iterator[RunningSandbox]:
    """`badgebot sandbox ARGS` in ``cwd``, until its page's address is printed; stopped after."""
    stdout, stderr = cwd / "sandbox.out", cwd / "sandbox.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [*_badgebot(), "sandbox", *args],
            cwd=cwd,
            env=user_env(**env),
            stdout=out,
            stderr=err,
            text=True,
        )
    try:
        yield RunningSandbox(process, _wait_for_url(process, stdout, stderr), stdout, stderr)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

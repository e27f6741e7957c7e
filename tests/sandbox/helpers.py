"""Run `badgebot sandbox` as a user does, and say when what it needs is missing.

Tests that need the sandbox extra, Chromium or Playwright skip without them, except when
BADGEBOT_SANDBOX_TESTS=required (CI sets it): then they run and fail, never skip silently.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.command import extra_installed

REPO = Path(__file__).parents[2]
CHROMIUM = Path("/usr/bin/chromium")
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/#\S+")
API_URL = re.compile(r"REST API .* answers on (http://127\.0\.0\.1:\d+)")
TOKEN = re.compile(r"^ {4}(bbt_\S+)$", re.MULTILINE)
CURL = re.compile(r"^ {4}(curl (?:.*\\\n)*.*)$", re.MULTILINE)
HTTP_TIMEOUT = 20.0
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


@dataclass(frozen=True)
class PrintedApi:
    """What the guide printed about the API: its address, its token, its curl commands."""

    url: str
    token: str
    award_curl: str
    member_badges_curl: str


def printed_api(guide: str) -> PrintedApi:
    """Read the API's part of the terminal guide, as a visitor copies it."""
    url, token = API_URL.search(guide), TOKEN.search(guide)
    assert url is not None, guide
    assert token is not None, guide
    curls = [match.group(1) for match in CURL.finditer(guide)]
    awards = [c for c in curls if "/badges/award" in c]
    lists = [c for c in curls if "/badges/users/" in c]
    assert len(awards) == 1, curls
    assert len(lists) == 1, curls
    return PrintedApi(url.group(1), token.group(1), awards[0], lists[0])


def http(
    method: str, url: str, token: str | None = None, body: object | None = None
) -> tuple[int, Any]:
    """One request; the status and the decoded JSON answer (errors included)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    return _send(urllib.request.Request(url, data=data, headers=headers, method=method))


def _send(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _curl_args(command: str) -> list[str]:
    """A printed curl command as the shell splits it (lines continued with a backslash)."""
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[0] == "curl", command
    return argv[1:]


def _emulated_curl(args: list[str]) -> tuple[int, Any]:
    """The few curl options the guide prints, for machines without curl."""
    method, url, data = "GET", None, None
    headers: dict[str, str] = {}
    options = iter(args)
    for arg in options:
        if arg == "-X":
            method = next(options)
        elif arg == "-H":
            name, _, value = next(options).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data, method = next(options).encode(), "POST" if method == "GET" else method
        else:
            assert not arg.startswith("-"), f"the guide prints a curl option I do not know: {arg}"
            url = arg
    assert url is not None, args
    return _send(urllib.request.Request(url, data=data, headers=headers, method=method))


def run_curl(command: str) -> tuple[int, Any]:
    """Run a curl command the guide printed, as pasted in a shell (by curl itself when it is
    installed); the status and the decoded JSON answer."""
    args = _curl_args(command)
    curl = shutil.which("curl")
    if curl is None:
        return _emulated_curl(args)
    result = subprocess.run(
        [curl, "--silent", "--show-error", "--write-out", "\\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=HTTP_TIMEOUT,
        check=True,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


def page_viewers(page_url: str) -> dict[str, dict[str, Any]]:
    """The people under "Viewing as" as a page opened now shows them (name, role colour, ...),
    read through the page's own protocol with the key after # in its address."""
    origin, _, capability = page_url.partition("/#")
    auth = {"X-Simcord-Capability": capability, "Content-Type": "application/json"}
    request = urllib.request.Request(f"{origin}/api/pages", b"{}", auth, method="POST")
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
        snapshot = json.loads(response.read())
    context = snapshot["context"]["id"]
    close = urllib.request.Request(
        f"{origin}/api/pages/{context}",
        headers={**auth, "X-Simcord-Context": context},
        method="DELETE",
    )
    with urllib.request.urlopen(close, timeout=HTTP_TIMEOUT):
        pass
    return {viewer["name"]: viewer for viewer in snapshot["viewers"]}

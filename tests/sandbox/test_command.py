"""`badgebot sandbox` as a user runs it: its help, its one-line errors, its API, Ctrl-C."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

from tests.sandbox.helpers import (
    badgebot,
    http,
    needs,
    page_viewers,
    printed_api,
    run_curl,
    sandbox,
    sandbox_extra_problem,
)

HELPERS_COLOR = 0x2ECC71  # the Helpers role's colour: the page shows its members' names in it


def test_help_lists_the_options(tmp_path: Path) -> None:
    result = badgebot(["sandbox", "--help"], tmp_path)
    assert result.returncode == 0
    assert " ".join(result.stdout.split()).startswith(
        "usage: badgebot sandbox [-h] [--port PORT] [--api-port PORT] [--database PATH]"
    )
    for text in (
        "--fresh",
        "127.0.0.1",
        "badgebot-sandbox.db",
        "BADGEBOT_DATABASE_URL",
        "REST API",
    ):
        assert text in " ".join(result.stdout.split()), text


def test_the_main_help_offers_it(tmp_path: Path) -> None:
    result = badgebot(["--help"], tmp_path)
    assert "sandbox" in result.stdout
    assert "try the bot without Discord" in result.stdout


def test_without_the_extra_it_says_which_to_install(tmp_path: Path) -> None:
    result = badgebot(["sandbox"], tmp_path, blocked="simcord")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "badgebot: the sandbox needs the 'sandbox' extra: pip install -e '.[sandbox]' "
        "(SimCord's simulated Discord and its preview page)"
    ]
    assert not (tmp_path / "badgebot-sandbox.db").exists()


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = badgebot(["sandbox", "--port", str(port)], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"badgebot: port {port} on 127.0.0.1 is already in use: pick another with --port, "
        "or leave --port out to get a free one"
    ]
    assert not (tmp_path / "badgebot-sandbox.db").exists()


def test_an_api_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = badgebot(["sandbox", "--api-port", str(port)], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"badgebot: port {port} on 127.0.0.1 is already in use: pick another with --api-port, "
        "or leave --api-port out to get a free one"
    ]
    assert not (tmp_path / "badgebot-sandbox.db").exists()


def test_the_page_and_the_api_need_two_ports(tmp_path: Path) -> None:
    result = badgebot(["sandbox", "--port", "8765", "--api-port", "8765"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "badgebot: --port and --api-port must differ: the page and the API each need one"
    ]


def test_a_port_must_be_a_port(tmp_path: Path) -> None:
    result = badgebot(["sandbox", "--port", "99999"], tmp_path)
    assert result.returncode == 2
    assert "'99999' is not a port number (1-65535)" in result.stderr


@needs(sandbox_extra_problem())
def test_it_serves_its_own_database_until_ctrl_c(tmp_path: Path) -> None:
    production, dotenv = tmp_path / "production.db", tmp_path / "dotenv.db"
    (tmp_path / ".env").write_text(
        f"BADGEBOT_DATABASE_URL=sqlite+aiosqlite:///{dotenv}\nBADGEBOT_LOG_LEVEL=LOUD\n"
    )
    with sandbox(tmp_path, BADGEBOT_DATABASE_URL=f"sqlite+aiosqlite:///{production}") as running:
        guide = running.stdout.read_text()
        assert running.url.startswith("http://127.0.0.1:")
        assert "/badge award" in guide
        assert "Ctrl-C stops the sandbox" in guide
        with urllib.request.urlopen(running.url, timeout=10) as page:  # the page, not the API
            assert page.status == 200
        assert running.interrupt() == 0
    assert (tmp_path / "badgebot-sandbox.db").exists()
    assert not production.exists()
    assert not dotenv.exists()
    assert running.stderr.read_text().splitlines() == ["badgebot sandbox stopped."]


@needs(sandbox_extra_problem())
def test_fresh_starts_over(tmp_path: Path) -> None:
    database = tmp_path / "mine.db"
    database.write_text("not a database")
    with sandbox(tmp_path, "--fresh", "--database", str(database)) as running:
        assert f"Badges are kept in {database}" in running.stdout.read_text()
        assert running.interrupt() == 0
    assert database.read_bytes().startswith(b"SQLite format 3")


def _badge_names(answer: dict[str, list[dict[str, str]]]) -> list[str]:
    return [badge["name"] for badge in answer["badges"]]


@needs(sandbox_extra_problem())
def test_it_serves_the_api_with_a_ready_token_and_curl(tmp_path: Path) -> None:
    with sandbox(tmp_path) as running:
        api = printed_api(running.stdout.read_text())
        assert api.url.startswith("http://127.0.0.1:")
        assert api.url != f"http://127.0.0.1:{running.port}"

        status, badges = http("GET", f"{api.url}/badges", api.token)
        assert status == 200, badges
        names = set(_badge_names(badges))
        assert {"Newcomer", "Bug Hunter", "Artist", "Event Winner", "Trusted Helper"} <= names
        status, refused = http("GET", f"{api.url}/badges", "bbt_not-the-printed-one")
        assert status == 401, refused
        award = {"badgeId": "x", "userId": "1"}
        status, refused = http("POST", f"{api.url}/badges/award", None, award)
        assert status == 401, refused  # writes need a token

        assert page_viewers(running.url)["Bob"]["role_color"] is None
        status, awarded = run_curl(api.award_curl)
        assert status == 201, awarded
        assert awarded["message"] == "Badge awarded successfully"
        # The role sync gives Bob the Helpers role; a page opened now shows him in its colour.
        deadline = time.monotonic() + 10
        while page_viewers(running.url)["Bob"]["role_color"] != HELPERS_COLOR:
            assert time.monotonic() < deadline, "Bob did not get the Helpers role within 10 s"
            time.sleep(0.1)
        status, held = run_curl(api.member_badges_curl)
        assert status == 200, held
        assert _badge_names(held) == ["Trusted Helper", "Newcomer"]

        assert running.interrupt() == 0
    assert running.stderr.read_text().splitlines() == ["badgebot sandbox stopped."]

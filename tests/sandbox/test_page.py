"""The sandbox page in headless Chromium, used as a visitor does: pick who you are, type a
slash command, pick its options, read the bot's reply. Saves artifacts/sandbox.png."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tests.sandbox.helpers import (
    CHROMIUM,
    REPO,
    browser_problem,
    needs,
    sandbox,
    sandbox_extra_problem,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [needs(sandbox_extra_problem()), needs(browser_problem())]

# Debian's Chromium, offline: without the background-networking flags it calls home at start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000
SCREENSHOT = REPO / "artifacts" / "sandbox.png"
FAILED_SCREENSHOT = SCREENSHOT.with_name("sandbox-failed.png")
LOADED = "image => image.complete && image.naturalWidth > 0"
PAGE_STATUS = """() => {
    const s = window.simcordPreview;
    return {viewer: s.viewerId, ready: s.ready, busy: Boolean(s.pendingAction || s.pendingQuery)};
}"""


def _eventually(check: Callable[[], object], what: str) -> None:
    """Poll ``check`` until it is true; fail saying ``what`` did not happen in time."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen in {TIMEOUT_MS} ms"
        time.sleep(0.05)


def _settled(page: Page, viewer_id: str | None = None) -> None:
    """Wait until the page has nothing in flight (it drops a command sent while it is busy),
    and shows ``viewer_id`` if given. Reads the status the page publishes for automation."""

    def idle() -> bool:
        status = page.evaluate(PAGE_STATUS)
        viewer_shown = viewer_id in (None, status["viewer"])
        return bool(status["ready"] and not status["busy"] and viewer_shown)

    _eventually(idle, "the page settling")


def _be(page: Page, person: str) -> None:
    """Pick who you are under "Viewing as", and wait until the page has switched."""
    picker = page.get_by_label("Viewing as")
    viewer_id = picker.locator("option", has_text=person).get_attribute("value")
    picker.select_option(label=person)
    _settled(page, viewer_id)


def _command(page: Page, name: str) -> None:
    """Type a slash command in the message box and pick it from the list."""
    _settled(page)
    page.get_by_placeholder("Message #general").click()
    page.keyboard.type(name)
    commands = page.get_by_role("listbox", name="Application commands")
    commands.get_by_role("option", name=name).first.click()


def _option(page: Page, option: str, typed: str, choice: str | None = None) -> None:
    """Fill an option of the command being composed; pick ``choice`` among the suggestions."""
    field = page.locator(f'input.command-option-input[data-option="{option}"]')
    if not field.is_visible():  # optional options hide behind "+N more"
        page.locator("button.command-ghost").click()
        page.get_by_role("option", name=option).first.click()
    field.click()
    page.keyboard.type(typed)
    if choice is not None:
        suggestions = page.locator("#command-suggestion-listbox")
        suggestions.get_by_role("option", name=choice).first.click()


def _send(page: Page) -> None:
    _settled(page)
    page.get_by_role("button", name="Send", exact=True).click()


def test_a_moderator_awards_a_badge_through_the_page(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sandbox(tmp_path) as running, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 860},
        )
        page = browser.pages[0] if browser.pages else browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        FAILED_SCREENSHOT.unlink(missing_ok=True)
        try:
            _award_and_look(page, running.url)
            page.screenshot(path=SCREENSHOT)
        except Exception:
            page.screenshot(path=FAILED_SCREENSHOT)
            raise
        finally:
            browser.close()
        assert running.interrupt() == 0


def _award_and_look(page: Page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    messages = page.locator("#channel-message-list [data-message-id]")
    expect(messages.first).to_contain_text("Welcome to the badgebot sandbox")

    _be(page, "Maya (moderator)")
    _command(page, "/badge award")
    _option(page, "badge", "art", "Artist")  # autocompleted by the bot
    _option(page, "member", "bo", "Bob")
    _option(page, "reason", "Drew the new server banner")
    _send(page)
    award = messages.last
    expect(award).to_contain_text("Maya (moderator) used /badge")
    expect(award).to_contain_text("🏅 Bob received 🎨 Artist")
    expect(award).to_contain_text("Drew the new server banner")

    _command(page, "/badges")
    _option(page, "member", "bo", "Bob")
    _send(page)
    badges = messages.last
    expect(badges).to_contain_text("Maya (moderator) used /badges")
    expect(badges).to_contain_text("Badges of Bob")
    expect(badges).to_contain_text("🎨 Artist")
    expect(badges).to_contain_text("🌱 Newcomer")
    avatar = badges.get_by_role("img", name="Embed author icon")
    _eventually(lambda: avatar.evaluate(LOADED), "Bob's avatar loading")

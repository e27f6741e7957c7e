"""Buttons: page through long lists, and confirm a destructive action."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import discord

from bot.ui import cooldowns
from bot.ui.replies import acknowledged, defer, read_or_defer, report_error, send

PageRenderer = Callable[[int], Awaitable[tuple[discord.Embed, int]]]
"""Renders page ``n`` (from 0) and says how many pages there are now."""


class OwnedView(discord.ui.View):
    """A view only the member who ran the command may use; it goes quiet when it times out."""

    def __init__(self, owner_id: int, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.origin: discord.Interaction | None = None
        self._reply: tuple[discord.Webhook, int] | None = None

    def keep(self, interaction: discord.Interaction, message_id: int | None) -> None:
        """Remember how to reach the reply when the view times out: the interaction's
        webhook and the message id (a few hundred bytes), or, without an id, the whole
        interaction (its payload, members and channel: kilobytes, for the view's lifetime)."""
        if message_id is None:
            self.origin = interaction
        else:
            self._reply = (interaction.followup, message_id)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(self.refusal(), ephemeral=True)
        acknowledged(interaction)
        return False

    def refusal(self) -> str:
        return f"Only <@{self.owner_id}> can use these buttons; run the command yourself."

    def disable_all(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True

    async def on_timeout(self) -> None:
        self.disable_all()
        # the message may be gone or the token expired: nothing left to tidy then
        with contextlib.suppress(discord.HTTPException):
            if self._reply is not None:
                hook, message_id = self._reply
                await hook.edit_message(message_id, view=self)
            elif self.origin is not None:
                await self.origin.edit_original_response(view=self)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[OwnedView]
    ) -> None:
        await report_error(interaction, error)


class Paginator(OwnedView):
    """Previous / next buttons over pages rendered on demand (fresh data on every turn)."""

    def __init__(self, owner_id: int, render: PageRenderer, pages: int) -> None:
        super().__init__(owner_id, timeout=600)
        self.render = render
        self.page = 0
        self.pages = pages
        self._sync_buttons()

    def refusal(self) -> str:
        return f"Only <@{self.owner_id}> can turn these pages; run the command yourself."

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1
        self.position.label = f"{self.page + 1} / {self.pages}"

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        wait = cooldowns.of(interaction.client).retry_after("pages", interaction.user.id)
        if wait > 0:
            await interaction.response.send_message(
                f"Slow down: try again in {max(1, round(wait))} seconds.", ephemeral=True
            )
            acknowledged(interaction)
            return
        await interaction.response.defer()  # the page is read from the database: ack first
        acknowledged(interaction)
        embed, self.pages = await self.render(max(0, min(page, self.pages - 1)))
        self.page = max(0, min(page, self.pages - 1))
        self._sync_buttons()
        await interaction.edit_original_response(embed=embed, view=self)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="1 / 1", style=discord.ButtonStyle.secondary, disabled=True)
    async def position(
        self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]
    ) -> None:  # pragma: no cover - a disabled label
        await interaction.response.defer()
        acknowledged(interaction)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button[Paginator]) -> None:
        await self._show(interaction, self.page + 1)


async def send_pages(
    interaction: discord.Interaction,
    render: PageRenderer,
    *,
    ephemeral: bool,
    quick: bool = False,
) -> None:
    """Send page 1 (acknowledged before it is read); with more than one page, add the
    buttons to turn them. ``quick``: a page read within ``QUICK_READ`` is the response itself,
    one request instead of a deferral and a follow-up (for commands that refuse nothing later)."""
    if quick:
        embed, pages = await read_or_defer(interaction, render(0), ephemeral=ephemeral)
    else:
        await defer(interaction, ephemeral=ephemeral)
        embed, pages = await render(0)
    if pages <= 1:
        await send(interaction, embed=embed, ephemeral=ephemeral)
        return
    view = Paginator(interaction.user.id, render, pages)
    view.keep(interaction, await send(interaction, embed=embed, view=view, ephemeral=ephemeral))


Action = Callable[[discord.Interaction], Awaitable[str]]
"""Runs when its button is pressed; returns the text that replaces the question."""


class _ChoiceButton(discord.ui.Button["Choices"]):
    def __init__(self, label: str, action: Action | None) -> None:
        style = discord.ButtonStyle.danger if action else discord.ButtonStyle.secondary
        super().__init__(label=label, style=style)
        self.action = action

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        await self.view.answer(interaction, self.action)


class Choices(OwnedView):
    """A question with one button per answer and a Cancel button; answers once."""

    def __init__(
        self,
        owner_id: int,
        choices: list[tuple[str, Action]],
        *,
        cancelled: str,
        timeout: float = 60,
    ) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.cancelled = cancelled
        for label, action in choices:
            self.add_item(_ChoiceButton(label, action))
        self.add_item(_ChoiceButton("Cancel", None))

    async def answer(self, interaction: discord.Interaction, action: Action | None) -> None:
        self.stop()
        self.disable_all()
        if action is None:
            await interaction.response.edit_message(content=f"{self.cancelled}.", view=self)
            acknowledged(interaction)
            return
        await interaction.response.defer()
        acknowledged(interaction)
        text = await action(interaction)
        await interaction.edit_original_response(content=text, view=self)

    async def on_timeout(self) -> None:
        self.disable_all()
        if self.origin is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.origin.edit_original_response(
                    content=f"{self.cancelled} (no answer within a minute).", view=self
                )


async def ask(
    interaction: discord.Interaction,
    question: str,
    choices: list[tuple[str, Action]],
    *,
    cancelled: str,
) -> None:
    """Post ``question`` in the channel with a button per choice; only the asker answers.
    After a public deferral the question completes it."""
    view = Choices(interaction.user.id, choices, cancelled=cancelled)
    view.origin = interaction
    await send(interaction, content=question, view=view)

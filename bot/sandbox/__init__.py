"""`badgebot sandbox`: the real bot on SimCord's simulated Discord, served as a local page.

``command`` is the CLI sub-command (importable without SimCord); ``session`` runs the bot,
the demo server and the page; ``world`` builds the demo server, ``seed`` its badges;
``guide`` is what the terminal and the channel say; ``ports`` checks the page's port;
``avatars`` draws Discord's default avatars for the offline page.
"""

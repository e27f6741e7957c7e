"""`badgebot sandbox`: the real bot on SimCord's simulated Discord, served as a local page.

``command`` is the CLI sub-command (importable without SimCord); ``session`` runs the bot,
the demo server, the API and the page; ``world`` builds the demo server, ``seed`` its badges;
``api`` serves the bot's REST API for it, with a token; ``guide`` is what the terminal and
the channel say; ``ports`` checks and binds the page's and the API's ports;
``avatars`` draws Discord's default avatars for the offline page.
"""

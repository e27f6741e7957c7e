"""The page's loopback port: checked before anything starts, so a busy one fails fast."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def port_in_use(port: int) -> str:
    """The one-line error for a port someone else is listening on."""
    return (
        f"port {port} on {HOST} is already in use: pick another with --port, "
        "or leave --port out to get a free one"
    )


def port_is_free(port: int) -> bool:
    """Whether the page could listen on HOST:port (bound the way aiohttp binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True

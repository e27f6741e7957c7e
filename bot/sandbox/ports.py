"""The loopback ports of the page and the API: checked before anything starts, so a busy one
fails fast."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


class PortInUse(Exception):
    """Someone else listens on the port asked for."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} on {HOST} is already in use")
        self.port = port


def port_in_use(port: int, option: str = "--port") -> str:
    """The one-line error for a port someone else is listening on, given with ``option``."""
    return (
        f"port {port} on {HOST} is already in use: pick another with {option}, "
        f"or leave {option} out to get a free one"
    )


def bind(port: int) -> socket.socket:
    """A TCP socket bound to HOST:port (0: a free port) the way aiohttp binds the page's;
    the API listens on it. Raises OSError when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def port_is_free(port: int) -> bool:
    """Whether the page or the API could listen on HOST:port."""
    try:
        probe = bind(port)
    except OSError:
        return False
    probe.close()
    return True

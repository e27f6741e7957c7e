"""The emulator in a process of its own, driven through its ``/_emulator/`` routes
(tests.emulator.control): ``python -m tests.emulator --port 0 --limit "member role add=10/1"``.

Prints ``LISTENING <port>`` once it accepts connections, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.emulator.control import add_control_routes
from tests.emulator.limits import RouteLimit
from tests.emulator.server import DiscordEmulator


def _limit(text: str) -> tuple[str, RouteLimit]:
    """``route=limit/window``, e.g. ``member role add=10/1``."""
    route, _, rate = text.partition("=")
    limit, _, window = rate.partition("/")
    return route.strip(), RouteLimit(int(limit), float(window or 1.0))


async def serve(port: int, limits: dict[str, RouteLimit], global_limit: int) -> None:
    emu = DiscordEmulator(limits=limits, global_limit=global_limit, port=port)
    add_control_routes(emu)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await emu.start()
    try:
        print(f"LISTENING {emu.port}", flush=True)
        await stop.wait()
    finally:
        # a handler may be mid-run (a long /_emulator/run): do not wait on it for long
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(emu.stop(), 5)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument(
        "--limit", type=_limit, action="append", default=[], help="route=limit/window seconds"
    )
    parser.add_argument("--global-limit", type=int, default=50, help="requests/s; 0: none")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, dict(args.limit), args.global_limit))


if __name__ == "__main__":
    main()

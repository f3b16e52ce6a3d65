"""An echo server on Python's `websockets` (asyncio), as a user would write one, for
syncws-bench (kind `python-websockets`).

permessage-deflate is on as `websockets` sets it by default (its own window and memory
settings); server pings are off, like the other peers. Prints `listening ADDR VERSIONS`,
echoes every message on any path, and exits when stdin closes.
"""

import asyncio
import platform
import sys

import websockets
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(connection):
    """Sends every message back as it came (text as text, binary as binary); a client that
    goes without a close frame (the load generator drops its sockets) just ends it."""
    try:
        async for message in connection:
            await connection.send(message)
    except ConnectionClosed:
        pass


async def stdin_closed():
    """Returns when the parent closes our stdin."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def main():
    """Serves on 127.0.0.1 and an ephemeral port until stdin closes."""
    async with serve(echo, "127.0.0.1", 0, ping_interval=None, max_size=2**20) as server:
        host, port = next(iter(server.sockets)).getsockname()[:2]
        versions = f"websockets {websockets.__version__} on python {platform.python_version()}"
        print(f"listening {host}:{port} {versions}", flush=True)
        await stdin_closed()


if __name__ == "__main__":
    asyncio.run(main())

# A Python `websockets` server for the syncws client's tests (a peer nobody here wrote).
# Usage: python python_server.py plain|deflate [CERT KEY]   (with CERT and KEY: TLS, wss://)
# Prints "listening PORT", then "closed CODE REASON" when a connection ends. Paths: /echo echoes; /fragments sends "Hello, board" in three text
# fragments and [0, 1, 2] in two binary ones, then echoes; /close/CODE closes with CODE.
# It pings every 0.2 s and drops a connection whose pong is 1 s late (websockets' keepalive).
import asyncio
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def handler(ws):
    path = ws.request.path
    try:
        if path.startswith("/close/"):
            await ws.close(int(path.split("/")[2]), "python bye")
            return
        if path == "/fragments":
            await ws.send(["Hel", "lo, ", "board"])
            await ws.send([b"\x00\x01", b"\x02"])
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass
    finally:
        print(f"closed {ws.close_code} {ws.close_reason}", flush=True)


async def main():
    compression = "deflate" if sys.argv[1] == "deflate" else None
    tls = None
    if len(sys.argv) > 3:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
    async with serve(handler, "127.0.0.1", 0, compression=compression, max_size=32 << 20,
                     ping_interval=0.2, ping_timeout=1, ssl=tls) as server:
        print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()


asyncio.run(main())

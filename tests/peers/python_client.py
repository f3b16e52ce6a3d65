"""Drives a syncws server with Python's `websockets` client (a peer nobody here wrote).

Usage: python_client.py SCENARIO URL
Prints one line per check; exits non-zero on the first failure. For wss:// URLs it trusts the
CA file named by SYNCWS_CA and shows the client certificate of SYNCWS_CLIENT_CERT and
SYNCWS_CLIENT_KEY if they are set.
"""
import os
import ssl
import random
import sys
from websockets.sync import client as sync_client
from websockets.exceptions import ConnectionClosed


def connect(url, **kwargs):
    """websockets' connect, with the test CA and client certificate for wss:// URLs."""
    if url.startswith("wss://"):
        context = ssl.create_default_context(cafile=os.environ["SYNCWS_CA"])
        if os.environ.get("SYNCWS_CLIENT_CERT"):
            context.load_cert_chain(os.environ["SYNCWS_CLIENT_CERT"], os.environ["SYNCWS_CLIENT_KEY"])
        kwargs["ssl"] = context
    return sync_client.connect(url, **kwargs)


def tls_refused(url):
    """A server that requires a client certificate refuses this client, which has none: Python's
    ssl module must see the server's alert (websockets itself reports any failure as a closed
    stream, so this speaks TLS and HTTP by hand)."""
    import socket
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=os.environ["SYNCWS_CA"])
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            tls.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n".encode())
            try:
                data = tls.recv(1024)
            except ssl.SSLError as e:
                print(f"refused ok: {e.reason}")
                return
    raise AssertionError(f"a client without a certificate got an answer: {data!r}")


def echo(url):
    with connect(url, max_size=None, compression=None, open_timeout=5, close_timeout=5) as ws:
        ws.send("héllo")
        assert ws.recv(timeout=5) == "héllo"
        ws.send(b"\x00\x01\xff")
        assert ws.recv(timeout=5) == b"\x00\x01\xff"
        big = bytes(i % 256 for i in range(1_000_000))
        ws.send(big)
        assert ws.recv(timeout=10) == big
        # A fragmented text message: websockets sends an iterable as fragments.
        ws.send(["frag", "ment", "ed ✓"])
        assert ws.recv(timeout=5) == "fragmented ✓"
        pong = ws.ping(b"are you there")
        assert pong.wait(5), "no pong"
        ws.close(4000, "python done")
    assert ws.close_code == 4000, ws.close_code
    assert ws.close_reason == "python done", ws.close_reason
    print("echo ok")


def deflate(url):
    """permessage-deflate on (websockets' default), with and without context takeover."""
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    for no_context in (False, True):
        ext = [ClientPerMessageDeflateFactory(client_no_context_takeover=no_context,
                                              server_no_context_takeover=no_context)]
        with connect(url, max_size=2**24, extensions=ext, compression=None, open_timeout=5) as ws:
            header = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert header.startswith("permessage-deflate"), header
            assert ("server_no_context_takeover" in header) == no_context, header
            text = "compressible " * 5000
            for _ in range(3):
                ws.send(text)
                assert ws.recv(timeout=5) == text
            blob = bytes(range(256)) * 400
            ws.send(blob)
            assert ws.recv(timeout=5) == blob
            ws.send("x")
            assert ws.recv(timeout=5) == "x"
    print("deflate ok")


def windows(url, server_bits):
    """permessage-deflate with window bits 9 to 15 offered in both directions against a server
    whose own window is server_bits: the answer limits both to the smaller, and messages whose
    repeats lie 3,000 bytes back (within one message and across two) come back intact."""
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    rng = random.Random(7)
    block = bytes(rng.getrandbits(8) for _ in range(3000))
    for bits in range(9, 16):
        ext = [ClientPerMessageDeflateFactory(server_max_window_bits=bits, client_max_window_bits=bits)]
        with connect(url, max_size=2**24, extensions=ext, compression=None, open_timeout=5) as ws:
            header = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            agreed = min(bits, server_bits)
            want = f"permessage-deflate; server_max_window_bits={agreed}"
            if agreed < 15:
                want += f"; client_max_window_bits={agreed}"
            assert header == want, (bits, header)
            for message in (block, block, block * 3, "window " * 2000, block[:100]):
                ws.send(message)
                assert ws.recv(timeout=5) == message, bits
    print("windows ok")


def subprotocol(url):
    with connect(url, subprotocols=["nope", "chat.v1"], open_timeout=5) as ws:
        assert ws.subprotocol == "chat.v1", ws.subprotocol
    print("subprotocol ok")


def server_close(url):
    """The server closes on 'bye' with 1000 and a reason (Ktor's echo example)."""
    with connect(url, open_timeout=5) as ws:
        ws.send("bye")
        rcvd = expect_close(ws, 1000, 5, "expected the server to close")
        assert rcvd.reason == "Client said BYE", rcvd
    print("server close ok")


def expect_close(ws, code, timeout, why):
    """Waits for the server's close frame; fails unless it carries `code`."""
    try:
        ws.recv(timeout=timeout)
        raise AssertionError(why)
    except ConnectionClosed as e:
        assert e.rcvd is not None and e.rcvd.code == code, e
        return e.rcvd


def close_codes(url):
    """The server's close codes for broken input (default limits: 1 MiB messages)."""
    with connect(url, max_size=None, open_timeout=5, close_timeout=5) as ws:
        ws.send(b"\xff\xfe not UTF-8", text=True)
        expect_close(ws, 1007, 5, "expected 1007 for invalid UTF-8")
    with connect(url, max_size=None, open_timeout=5, close_timeout=5) as ws:
        ws.send(bytes(2_000_000))
        expect_close(ws, 1009, 10, "expected 1009 for a 2 MB message")
    print("close codes ok")


def shutdown(url):
    """Waits for the server to shut down; expects 1001."""
    with connect(url, open_timeout=5) as ws:
        ws.send("ready")
        assert ws.recv(timeout=5) == "ready"
        print("waiting", flush=True)
        expect_close(ws, 1001, 20, "expected a close")
    print("shutdown ok")


if __name__ == "__main__":
    scenario, url = sys.argv[1], sys.argv[2]
    if scenario == "windows":
        sys.exit(windows(url, int(sys.argv[3])))
    {"echo": echo, "deflate": deflate, "close_codes": close_codes, "subprotocol": subprotocol, "server_close": server_close, "shutdown": shutdown,
     "tls_refused": tls_refused}[scenario](url)

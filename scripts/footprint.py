#!/usr/bin/env python3
"""Measures syncws-echo's memory per connection: RSS (from /proc) and threads, for N idle
connections and after each sent one message, with and without permessage-deflate.

Usage: scripts/footprint.py [--connections N] [--binary PATH] [--message-size BYTES]
Builds nothing: run `cargo build --release --features cli` first. Loopback only, bounded.
"""
import argparse, os, socket, subprocess, sys, threading, time, zlib

REQ = ("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{ext}\r\n")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def smaps_by_size(pid):
    """RSS (KiB) and count of the process's mappings, grouped by mapping size in KiB."""
    groups, size = {}, None
    for line in open(f"/proc/{pid}/smaps"):
        first = line.split(" ", 1)[0]
        if "-" in first and ":" not in first:
            lo, hi = (int(x, 16) for x in first.split("-"))
            size = (hi - lo) // 1024
            rss, count = groups.get(size, (0, 0))
            groups[size] = (rss, count + 1)
        elif line.startswith("Rss:"):
            rss, count = groups[size]
            groups[size] = (rss + int(line.split()[1]), count)
    return groups


def breakdown(before, after, n):
    """Per-connection RSS growth: connection thread stacks (128 KiB mappings), write loop
    stacks (64 KiB), and the rest (heap: buffers, queues, state)."""
    def grow(sizes):
        return sum(after.get(s, (0, 0))[0] - before.get(s, (0, 0))[0] for s in sizes) / n
    sizes = set(before) | set(after)
    return {
        "reader stack": grow({128}),
        "writer stack": grow({64}),
        "other": grow(sizes - {128, 64}),
        "mappings": sum(after.get(s, (0, 0))[1] - before.get(s, (0, 0))[1] for s in sizes) / n,
    }


def frame(payload, rsv1):
    mask = b"\x01\x02\x03\x04"
    head = bytes([0x82 | (0x40 if rsv1 else 0)])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big") if n < 65536 \
        else bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(s):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(exact(2), "big")
    elif n == 127:
        n = int.from_bytes(exact(8), "big")
    return exact(n)


def measure(binary, n, deflate, message_size, extra_args=(), client_bits=15):
    args = [binary, "--listen", "127.0.0.1:0", "--log-level", "info", "--max-connections", str(n + 10)]
    if not deflate:
        args.append("--no-deflate")
    args += extra_args
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        for _ in range(20):
            line = proc.stdout.readline()
            if "ws://" in line:
                port = int(line.split("ws://")[1].split("/")[0].rsplit(":", 1)[1])
                break
        assert port, "server did not start"
        # The server logs every connection: keep reading, or a full pipe would stall it.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        time.sleep(0.2)
        base_rss, base_threads, base_maps = rss_kib(proc.pid), threads(proc.pid), smaps_by_size(proc.pid)
        ext = ""
        if deflate:
            # A client that lets the server limit its window, as browsers and most clients do.
            ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(REQ.format(ext=ext).encode())
            socks.append(s)
        for s in socks:
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            assert head.startswith(b"HTTP/1.1 101"), head[:40]
            assert (b"permessage-deflate" in head) == deflate
        time.sleep(0.5)
        idle_rss, idle_threads = rss_kib(proc.pid), threads(proc.pid)
        parts = breakdown(base_maps, smaps_by_size(proc.pid), n)
        text = (b"syncws footprint " * (message_size // 17 + 1))[:message_size]
        payload = text
        if deflate:
            c = zlib.compressobj(6, zlib.DEFLATED, -client_bits)
            payload = (c.compress(text) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
        for s in socks:
            s.sendall(frame(payload, deflate))
            read_frame(s)
        time.sleep(0.5)
        active_rss = rss_kib(proc.pid)
        for s in socks:
            s.close()
        return {
            "idle": (idle_rss - base_rss) / n,
            "active": (active_rss - base_rss) / n,
            "threads": (idle_threads - base_threads) / n,
            "base": base_rss,
            "parts": parts,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=500)
    ap.add_argument("--message-size", type=int, default=1024)
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "target/release/syncws-echo"))
    a = ap.parse_args()
    print(f"syncws-echo, {a.connections} connections, one {a.message_size}-byte message each when active")
    print("| deflate | RSS per idle connection | RSS per connection after one message | threads per connection |")
    print("| --- | --- | --- | --- |")
    no_context = ["--server-no-context-takeover", "--client-no-context-takeover"]
    board = ["--deflate-window-bits", "10", "--deflate-mem-level", "2"]
    for label, deflate, extra, bits in (
        ("off", False, [], 15),
        ("on", True, [], 15),
        ("on, no context takeover", True, no_context, 15),
        ("on, `--deflate-window-bits 10 --deflate-mem-level 2`", True, board, 10),
    ):
        r = measure(a.binary, a.connections, deflate, a.message_size, extra, bits)
        print(f"| {label} | {r['idle']:.1f} KiB | {r['active']:.1f} KiB | {r['threads']:.0f} |")
    print()
    print("Idle connection, per connection, from /proc/PID/smaps (stacks count touched pages only):")
    print("| config | RSS | connection thread stack | write loop stack | heap and other | mappings |")
    print("| --- | --- | --- | --- | --- | --- |")
    tuned = ["--read-buffer-size", "512", "--queue-capacity", "4"]
    for label, extra in (("defaults, deflate off", []), ("`--read-buffer-size 512 --queue-capacity 4`", tuned)):
        r = measure(a.binary, a.connections, False, a.message_size, extra)
        p = r["parts"]
        print(f"| {label} | {r['idle']:.1f} KiB | {p['reader stack']:.1f} KiB | {p['writer stack']:.1f} KiB "
              f"| {p['other']:.1f} KiB | {p['mappings']:.2f} |")


if __name__ == "__main__":
    sys.exit(main())

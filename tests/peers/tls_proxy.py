"""A TLS-terminating TCP proxy, so that kosoku (the Autobahn runner, which has no TLS) can run
its cases over a syncws connection that is TLS end to end on the syncws side.

Usage: tls_proxy.py to-tls TARGET_PORT      plain in, TLS out: kosoku -> proxy -> wss server
       tls_proxy.py from-tls TARGET_PORT    TLS in, plain out: wss client -> proxy -> kosoku
It listens on 127.0.0.1 (a free port), prints "listening PORT", and relays every connection
to 127.0.0.1:TARGET_PORT until both directions end. The TLS side uses the test certificates of
tests/certs/ (the CA to verify the server; the server certificate to serve). A half-close on
one side becomes a half-close on the other, so closing handshakes keep their order. Uses only
Python's standard library (ssl is OpenSSL: a third TLS implementation against syncws's).
"""
import os
import select
import socket
import ssl
import sys
import threading

CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "certs")


class SharedTls:
    """One TLS socket used by two threads, one reading and one writing. OpenSSL's SSL object is
    not thread-safe, and a reader blocked inside it would block the writer (and the reverse),
    so the socket is non-blocking, every OpenSSL call is made under one lock, and the threads
    wait for the socket in select() without holding the lock (syncws's own design)."""

    def __init__(self, sock):
        self.sock = sock
        self.lock = threading.Lock()
        sock.setblocking(False)

    def recv(self, n):
        while True:
            with self.lock:
                try:
                    return self.sock.recv(n)
                except ssl.SSLWantReadError:
                    wait = ([self.sock], [])
                except ssl.SSLWantWriteError:
                    wait = ([], [self.sock])
                except ssl.SSLZeroReturnError:
                    return b""
            select.select(*wait, [], 1.0)

    def sendall(self, data):
        view = memoryview(data)
        while view:
            with self.lock:
                try:
                    sent = self.sock.send(view)
                    view = view[sent:]
                    continue
                except ssl.SSLWantWriteError:
                    wait = ([], [self.sock])
                except ssl.SSLWantReadError:
                    wait = ([self.sock], [])
            select.select(*wait, [], 1.0)

    def setsockopt(self, *args):
        self.sock.setsockopt(*args)

    def shutdown(self, how):
        # socket.socket's own shutdown: SSLSocket.shutdown would drop the TLS state, and the
        # other direction, still being read, would then see raw records.
        socket.socket.shutdown(self.sock, how)

    def close(self):
        self.sock.close()


def pump(src, dst):
    """Copies src to dst until src ends, then half-closes dst."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def relay(client, mode, target_port):
    upstream = None
    try:
        if mode == "to-tls":
            context = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))
            raw = socket.create_connection(("127.0.0.1", target_port))
            upstream = SharedTls(context.wrap_socket(raw, server_hostname="localhost"))
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(os.path.join(CERTS, "server.pem"), os.path.join(CERTS, "server.key"))
            client = SharedTls(context.wrap_socket(client, server_side=True))
            upstream = socket.create_connection(("127.0.0.1", target_port))
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join()
    except OSError as e:
        print(f"relay failed: {e}", file=sys.stderr, flush=True)
    finally:
        for s in (client, upstream):
            if s is not None:
                s.close()


def main():
    mode, target_port = sys.argv[1], int(sys.argv[2])
    assert mode in ("to-tls", "from-tls"), mode
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    print(f"listening {listener.getsockname()[1]}", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=relay, args=(client, mode, target_port), daemon=True).start()


if __name__ == "__main__":
    main()

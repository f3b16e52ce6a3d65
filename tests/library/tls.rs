//! TLS (`wss://`, feature `tls`): syncws's client against syncws's server, and raw TCP and
//! rustls peers for what a good client never does. The certificates are in `tests/certs/`
//! (made by its `make.sh`); they are compiled in, so that these tests also run on the boards
//! under qemu.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;
use crossbeam_channel::Receiver;
use syncws::{
    CertificateProblem, Client, ClientConfig, ClientTls, Config, Error, Handler, HandshakeError, Message,
    Server, ServerHandle, ServerTls, Session, TlsError,
};

const CA: &[u8] = include_bytes!("../certs/ca.pem");
const SERVER: &[u8] = include_bytes!("../certs/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("../certs/server.key");
const OTHER_SERVER: &[u8] = include_bytes!("../certs/other-server.pem");
const OTHER_SERVER_KEY: &[u8] = include_bytes!("../certs/other-server.key");
const WRONG_NAME: &[u8] = include_bytes!("../certs/wrong-name.pem");
const WRONG_NAME_KEY: &[u8] = include_bytes!("../certs/wrong-name.key");
const EXPIRED: &[u8] = include_bytes!("../certs/expired.pem");
const EXPIRED_KEY: &[u8] = include_bytes!("../certs/expired.key");
const CLIENT: &[u8] = include_bytes!("../certs/client.pem");
const CLIENT_KEY: &[u8] = include_bytes!("../certs/client.key");

struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, session: &Session, message: Message) {
        let _ = session.send(message);
    }
}

fn tls_server(tls: ServerTls, config: Config) -> ServerHandle {
    start(Server::new(config).tls(tls).route("/echo", || Echo).page("/", "text/plain", "board page\n"))
}

fn echo_server() -> ServerHandle {
    tls_server(ServerTls::from_pem(SERVER, SERVER_KEY).unwrap(), Config::default())
}

fn wss(server: &ServerHandle, path: &str) -> String {
    format!("wss://127.0.0.1:{}{path}", server.local_addr().port())
}

fn trusting_ca() -> ClientConfig {
    ClientConfig::default().tls(ClientTls::ca_pem(CA).unwrap())
}

/// A client whose messages arrive on the returned channel.
fn dial(config: ClientConfig, url: &str) -> Result<(syncws::ClientHandle, Receiver<Message>), Error> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = Client::new(config).channel(url, move |session| {
        while let Ok(m) = session.incoming().recv() {
            if tx.send(m).is_err() {
                return;
            }
        }
    })?;
    handle.wait_open(READ_TIMEOUT).expect("open in time");
    Ok((handle, rx))
}

fn tls_error(result: Result<impl std::fmt::Debug, Error>) -> TlsError {
    match result {
        Err(Error::Tls(e)) => e,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[test]
fn echo_over_wss_in_order_any_size() {
    let server = echo_server();
    let (client, rx) = dial(trusting_ca(), &wss(&server, "/echo")).unwrap();
    let sizes = [0usize, 1, 125, 126, 1000, 16 * 1024 - 20, 16 * 1024, 40_000, 300_000];
    for (i, size) in sizes.iter().enumerate() {
        let text = Message::Text(format!("{i}:{}", "x".repeat(*size)));
        client.send(text).unwrap();
        client.send(Message::Binary(vec![i as u8; *size])).unwrap();
    }
    for (i, size) in sizes.iter().enumerate() {
        match rx.recv_timeout(READ_TIMEOUT).expect("echo in time") {
            Message::Text(t) => assert_eq!(t, format!("{i}:{}", "x".repeat(*size))),
            other => panic!("expected text {i}, got {other:?}"),
        }
        assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Binary(vec![i as u8; *size]));
    }
    // localhost (the certificate's DNS name) as well as its IP address.
    let url = format!("wss://localhost:{}/echo", server.local_addr().port());
    let (named, rx) = dial(trusting_ca(), &url).unwrap();
    named.send(Message::Text("by name".into())).unwrap();
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text("by name".into()));
    drop((client, named));
    server.shutdown();
}

/// The server writes while its read loop waits in `recv` for a client that sends nothing: a
/// read loop that held the TLS session while waiting would block these writes for ever.
#[test]
fn writing_while_the_reader_waits() {
    struct PushLater;
    impl Handler for PushLater {
        fn on_message(&mut self, _: &Session, _: Message) {}
        fn on_open(&mut self, session: &Session) {
            let session = session.clone();
            thread::spawn(move || {
                for i in 0..20 {
                    thread::sleep(Duration::from_millis(10));
                    if session.send(Message::Text(format!("push {i}"))).is_err() {
                        return;
                    }
                }
            });
        }
    }
    let tls = ServerTls::from_pem(SERVER, SERVER_KEY).unwrap();
    let server = start(Server::new(Config::default()).tls(tls).route("/push", || PushLater));
    let (client, rx) = dial(trusting_ca(), &wss(&server, "/push")).unwrap();
    for i in 0..20 {
        assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text(format!("push {i}")));
    }
    drop(client);
    server.shutdown();
}

/// Both sides stream at once, more than the socket buffers hold: each side's reading and
/// writing go on together, and every byte arrives in order.
#[test]
fn both_directions_at_once() {
    const COUNT: usize = 64;
    const SIZE: usize = 32 * 1024;
    struct Flood;
    impl Handler for Flood {
        fn on_open(&mut self, session: &Session) {
            let session = session.clone();
            thread::spawn(move || {
                for i in 0..COUNT {
                    if session.send(Message::Binary(vec![i as u8; SIZE])).is_err() {
                        return;
                    }
                }
            });
        }
        fn on_message(&mut self, session: &Session, message: Message) {
            // Counted back to the client once all have come.
            if let Message::Binary(b) = message {
                if b[0] as usize == COUNT - 1 {
                    let _ = session.send(Message::Text("all received".into()));
                }
            }
        }
    }
    let tls = ServerTls::from_pem(SERVER, SERVER_KEY).unwrap();
    let server = start(Server::new(Config::default()).tls(tls).route("/flood", || Flood));
    let (client, rx) = dial(trusting_ca(), &wss(&server, "/flood")).unwrap();
    let sender = {
        let session = client.session().unwrap();
        thread::spawn(move || {
            for i in 0..COUNT {
                session.send(Message::Binary(vec![i as u8; SIZE])).unwrap();
            }
        })
    };
    let mut next = 0;
    let mut acknowledged = false;
    while next < COUNT || !acknowledged {
        match rx.recv_timeout(READ_TIMEOUT).expect("flood in time") {
            Message::Binary(b) => {
                assert_eq!((b.len(), b[0] as usize), (SIZE, next), "message {next}");
                next += 1;
            }
            Message::Text(t) => {
                assert_eq!(t, "all received");
                acknowledged = true;
            }
        }
    }
    sender.join().unwrap();
    drop(client);
    server.shutdown();
}

#[test]
fn certificates_refused_with_typed_errors() {
    let wrong = tls_server(ServerTls::from_pem(WRONG_NAME, WRONG_NAME_KEY).unwrap(), Config::default());
    let e = tls_error(dial(trusting_ca(), &wss(&wrong, "/echo")));
    assert_eq!(e, TlsError::Certificate(CertificateProblem::WrongName));

    let expired = tls_server(ServerTls::from_pem(EXPIRED, EXPIRED_KEY).unwrap(), Config::default());
    let e = tls_error(dial(trusting_ca(), &wss(&expired, "/echo")));
    assert_eq!(e, TlsError::Certificate(CertificateProblem::Expired));

    // The default trusts the bundled public roots, not the test CA.
    let server = echo_server();
    let e = tls_error(dial(ClientConfig::default(), &wss(&server, "/echo")));
    assert_eq!(e, TlsError::Certificate(CertificateProblem::UnknownIssuer));
    assert!(e.to_string().contains("not signed by a trusted root"), "{e}");
    for s in [wrong, expired, server] {
        s.shutdown();
    }
}

#[test]
fn plain_and_tls_mixed_up() {
    // wss:// to a ws:// port: the server answers the ClientHello with a plain 400.
    let plain = start(Server::new(Config::default()).route("/echo", || Echo));
    let e = tls_error(dial(trusting_ca(), &wss(&plain, "/echo")));
    assert_eq!(e, TlsError::NotTls);
    // ws:// to a TLS port: a plain 400 that says why.
    let server = echo_server();
    let url = format!("ws://127.0.0.1:{}/echo", server.local_addr().port());
    match dial(ClientConfig::default(), &url) {
        Err(Error::Handshake(HandshakeError::Status { status, body, .. })) => {
            assert_eq!(status, 400);
            assert!(String::from_utf8_lossy(&body).contains("TLS"), "{body:?}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    plain.shutdown();
    server.shutdown();
}

#[test]
fn mutual_tls_requires_a_client_certificate() {
    let tls = ServerTls::from_pem(SERVER, SERVER_KEY).unwrap().require_client_cert(CA).unwrap();
    let server = tls_server(tls, Config::default());
    let with_cert =
        trusting_ca().tls(ClientTls::ca_pem(CA).unwrap().client_cert_pem(CLIENT, CLIENT_KEY).unwrap());
    let (client_ok, rx) = dial(with_cert, &wss(&server, "/echo")).unwrap();
    client_ok.send(Message::Text("device-1 here".into())).unwrap();
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text("device-1 here".into()));
    // Without one, the server's alert reaches the client as the reason.
    let e = tls_error(dial(trusting_ca(), &wss(&server, "/echo")));
    assert_eq!(e, TlsError::Alert("certificate_required".into()));
    // A certificate from another CA is refused too.
    let stranger = ClientTls::ca_pem(CA).unwrap().client_cert_pem(OTHER_SERVER, OTHER_SERVER_KEY).unwrap();
    let e = tls_error(dial(ClientConfig::default().tls(stranger), &wss(&server, "/echo")));
    assert!(matches!(e, TlsError::Alert(_)), "{e:?}");
    drop(client_ok);
    server.shutdown();
}

#[test]
fn reloaded_certificate_serves_new_connections() {
    let tls = ServerTls::from_pem(OTHER_SERVER, OTHER_SERVER_KEY).unwrap();
    let server = tls_server(tls.clone(), Config::default());
    let before = dial(trusting_ca(), &wss(&server, "/echo"));
    assert_eq!(tls_error(before), TlsError::Certificate(CertificateProblem::UnknownIssuer));
    // A bad reload keeps the certificate the server had.
    assert!(matches!(tls.reload_pem(b"not PEM", SERVER_KEY), Err(Error::Tls(TlsError::Config(_)))));
    assert!(matches!(tls.reload(), Err(Error::Tls(TlsError::Config(_)))), "made from bytes, not files");
    tls.reload_pem(SERVER, SERVER_KEY).unwrap();
    let (after, rx) = dial(trusting_ca(), &wss(&server, "/echo")).unwrap();
    after.send(Message::Text("renewed".into())).unwrap();
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text("renewed".into()));
    drop(after);
    server.shutdown();
}

#[test]
fn reload_from_files() {
    let dir = std::env::temp_dir().join(format!("syncws-tls-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, OTHER_SERVER).unwrap();
    std::fs::write(&key, OTHER_SERVER_KEY).unwrap();
    let tls = ServerTls::from_pem_files(&cert, &key).unwrap();
    let server = tls_server(tls.clone(), Config::default());
    assert!(dial(trusting_ca(), &wss(&server, "/echo")).is_err());
    std::fs::write(&cert, SERVER).unwrap();
    std::fs::write(&key, SERVER_KEY).unwrap();
    tls.reload().unwrap();
    assert!(dial(trusting_ca(), &wss(&server, "/echo")).is_ok());
    let missing = ServerTls::from_pem_files(dir.join("none.pem"), &key).unwrap_err();
    assert!(missing.to_string().contains("none.pem"), "{missing}");
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the server closes `tcp` (EOF or reset); returns how long that took.
fn closed_within(mut tcp: TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    tcp.set_read_timeout(Some(limit)).unwrap();
    let mut scratch = [0u8; 4096];
    for _ in 0..1000 {
        match tcp.read(&mut scratch) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                panic!("still open after {limit:?}")
            }
            Err(_) => return start.elapsed(),
        }
    }
    panic!("the server kept sending");
}

/// The first flight of a real rustls client (its ClientHello).
fn client_hello() -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    hello
}

#[test]
fn bad_handshakes_are_dropped_and_others_served() {
    // 2 s: a good client's handshake must fit in it under qemu on ARMv6 on a loaded machine
    // (at 400 ms it did not, once); garbage must be refused well before it.
    let timeout = Duration::from_secs(2);
    let config = Config::default().handshake_timeout(timeout);
    let server = tls_server(ServerTls::from_pem(SERVER, SERVER_KEY).unwrap(), config);
    let addr = server.local_addr();
    // Silent: TCP open, no ClientHello.
    let silent = TcpStream::connect(addr).unwrap();
    // Truncated: half a ClientHello.
    let mut truncated = TcpStream::connect(addr).unwrap();
    let hello = client_hello();
    truncated.write_all(&hello[..hello.len() / 2]).unwrap();
    // Garbage: a record header announcing a handshake, then noise.
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage.write_all(&[0x16, 0x03, 0x01, 0x00, 0x40]).unwrap();
    garbage.write_all(&[0xa5; 64]).unwrap();
    // Meanwhile a good client is served.
    let (good, rx) = dial(trusting_ca(), &wss(&server, "/echo")).unwrap();
    good.send(Message::Text("still served".into())).unwrap();
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text("still served".into()));
    // Garbage is refused at once (an alert, then the close); the others at the timeout.
    let refused = closed_within(garbage, Duration::from_secs(5));
    assert!(refused < timeout / 2, "garbage refused after {refused:?}, not at once");
    let limit = timeout + Duration::from_secs(5);
    for tcp in [silent, truncated] {
        let took = closed_within(tcp, limit);
        assert!(took < limit, "dropped after {took:?}");
    }
    drop(good);
    server.shutdown();
}

#[test]
fn max_connections_counts_tls_handshakes() {
    let config = Config::default().max_connections(2).handshake_timeout(Duration::from_millis(500));
    let server = tls_server(ServerTls::from_pem(SERVER, SERVER_KEY).unwrap(), config);
    let addr: SocketAddr = server.local_addr();
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    assert!(wait_until(Duration::from_secs(5), || server.connections() == 2), "two handshakes in progress");
    // The third is closed without an answer while the two hold their places.
    let third = TcpStream::connect(addr).unwrap();
    let took = closed_within(third, Duration::from_secs(5));
    assert!(took < Duration::from_millis(450), "closed after {took:?}");
    // Once the two are dropped at the handshake timeout, a client gets in.
    for tcp in held {
        closed_within(tcp, Duration::from_secs(5));
    }
    assert!(wait_until(Duration::from_secs(5), || server.connections() == 0));
    let (c, rx) = dial(trusting_ca(), &wss(&server, "/echo")).unwrap();
    c.send(Message::Text("in".into())).unwrap();
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text("in".into()));
    drop(c);
    server.shutdown();
}

#[test]
fn page_over_https_and_plain_http_told_off() {
    let server = echo_server();
    let addr = server.local_addr();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(CA) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // As a browser does: HTTP/2 first, HTTP/1.1 too.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let conn = rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("board page\n"), "{answer}");
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"http/1.1"[..]));

    let mut plain = TcpStream::connect(addr).unwrap();
    plain.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = plain.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("plain HTTP sent to a TLS"), "{answer}");
    server.shutdown();
}

#[test]
fn config_errors_name_the_problem() {
    let e = ServerTls::from_pem(b"", SERVER_KEY).unwrap_err();
    assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
    let e = ServerTls::from_pem(SERVER, b"").unwrap_err();
    assert!(e.to_string().contains("private key"), "{e}");
    let e = ServerTls::from_pem(SERVER, CLIENT_KEY).unwrap_err();
    assert!(matches!(e, Error::Tls(TlsError::Config(_))), "a key that does not match: {e:?}");
    let e = ClientTls::ca_file("/nonexistent/ca.pem").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}

fn der(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem).unwrap().to_vec()
}

/// Each side's `Request` tells that the connection is TLS and carries the other side's
/// certificate chain: the device's certificate on the server (mutual TLS), the server's on the
/// client.
#[test]
fn peer_certificates_name_the_other_side() {
    let (tx, seen) = crossbeam_channel::unbounded();
    struct Identify(crossbeam_channel::Sender<(bool, Vec<Vec<u8>>)>);
    impl Handler for Identify {
        fn on_open(&mut self, session: &Session) {
            let request = session.request();
            let _ = self.0.send((request.is_tls(), request.peer_certificates().to_vec()));
        }
        fn on_message(&mut self, _: &Session, _: Message) {}
    }
    let tls = ServerTls::from_pem(SERVER, SERVER_KEY).unwrap().require_client_cert(CA).unwrap();
    let server = start(Server::new(Config::default()).tls(tls).route("/who", move || Identify(tx.clone())));
    let device = ClientTls::ca_pem(CA).unwrap().client_cert_pem(CLIENT, CLIENT_KEY).unwrap();
    let (client, _) = dial(ClientConfig::default().tls(device), &wss(&server, "/who")).unwrap();
    let (secure, chain) = seen.recv_timeout(READ_TIMEOUT).unwrap();
    assert!(secure);
    assert_eq!(chain, vec![der(CLIENT)], "the device's certificate, as it sent it");
    let on_client = client.session().unwrap().request().clone();
    assert!(on_client.is_tls());
    assert_eq!(on_client.peer_certificates().first(), Some(&der(SERVER)));
    drop(client);
    // Plain connections have neither.
    let plain = start(Server::new(Config::default()).route("/echo", || Echo));
    let (client, _) = dial(ClientConfig::default(), &format!("ws://{}/echo", plain.local_addr())).unwrap();
    let request = client.session().unwrap().request().clone();
    assert!(!request.is_tls() && request.peer_certificates().is_empty());
    drop(client);
    server.shutdown();
    plain.shutdown();
}

/// A rustls client (trusting the test CA) over TCP to `server`, asking for `name` (its SNI).
fn raw_tls(server: &ServerHandle, name: &str) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(der(CA))).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// A client that asks for another name (SNI `other.example`) gets the server's one certificate
/// and refuses it (as it must); the server logs the client's alert and goes on serving.
#[test]
fn a_wrong_sni_is_refused_by_the_client_and_the_server_goes_on() {
    let server = echo_server();
    let mut tls = raw_tls(&server, "other.example");
    let e = tls.write_all(b"GET /echo HTTP/1.1\r\nHost: other.example\r\n\r\n").unwrap_err();
    let refused = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    assert!(
        matches!(
            refused,
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{e:?}"
    );
    let (good, rx) = dial(trusting_ca(), &wss(&server, "/echo")).unwrap();
    good.send(Message::Text("next".into())).unwrap();
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text("next".into()));
    drop(good);
    server.shutdown();
}

/// A rustls client over TCP to `server`, upgraded to a WebSocket on `path` (the 101 read).
fn raw_tls_upgrade(
    server: &ServerHandle,
    path: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut tls = raw_tls(server, "localhost");
    tls.write_all(upgrade_request(path, "").as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tls.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tls
}

/// Bytes after a peer's close_notify are ignored (RFC 8446 §6.1), and the connection ends: a
/// reader that kept offering them to rustls (which takes nothing more) spun for ever, holding
/// the session and its place in `max_connections`.
#[test]
fn bytes_after_close_notify_end_the_connection() {
    let server = echo_server();
    for junk in [0usize, 100, 6000, 20_000] {
        let mut tls = raw_tls_upgrade(&server, "/echo");
        tls.conn.send_close_notify();
        let mut out = Vec::new();
        while tls.conn.wants_write() {
            tls.conn.write_tls(&mut out).unwrap();
        }
        out.extend(std::iter::repeat_n(0x17u8, junk));
        tls.sock.write_all(&out).unwrap();
        assert!(
            wait_until(Duration::from_secs(5), || server.connections() == 0),
            "{junk} bytes after close_notify: the connection did not end"
        );
        drop(tls);
    }
    server.shutdown();
}

/// A record that fails to decrypt (one bit flipped on the way) ends the connection with
/// `Error::Tls` on the server's `on_error`, and close code 1006.
#[test]
fn a_corrupt_record_is_a_tls_error() {
    let (tx, events) = crossbeam_channel::unbounded();
    struct Report(crossbeam_channel::Sender<String>);
    impl Handler for Report {
        fn on_message(&mut self, _: &Session, _: Message) {}
        fn on_error(&mut self, _: &Session, error: &Error) {
            let _ = self.0.send(format!("error: {error} / tls: {}", matches!(error, Error::Tls(_))));
        }
        fn on_close(&mut self, _: &Session, reason: &syncws::CloseReason) {
            let _ = self.0.send(format!("close: {}", reason.code));
        }
    }
    let tls = ServerTls::from_pem(SERVER, SERVER_KEY).unwrap();
    let server = start(Server::new(Config::default()).tls(tls).route("/r", move || Report(tx.clone())));
    let mut tls = raw_tls_upgrade(&server, "/r");
    let mut frame = vec![0x81, 0x85, 1, 2, 3, 4];
    frame.extend(b"hello".iter().zip([1u8, 2, 3, 4].iter().cycle()).map(|(b, m)| b ^ m));
    std::io::Write::write_all(&mut tls.conn.writer(), &frame).unwrap();
    let mut record = Vec::new();
    while tls.conn.wants_write() {
        tls.conn.write_tls(&mut record).unwrap();
    }
    let last = record.len() - 1;
    record[last] ^= 0x01;
    tls.sock.write_all(&record).unwrap();
    let error = events.recv_timeout(READ_TIMEOUT).unwrap();
    assert!(error.starts_with("error: TLS failed") && error.ends_with("tls: true"), "{error}");
    assert_eq!(events.recv_timeout(READ_TIMEOUT).unwrap(), "close: 1006");
    drop(tls);
    server.shutdown();
}

/// Clones share one configuration: a clone taken before `require_client_cert` (and given to the
/// server) requires client certificates too.
#[test]
fn clones_share_the_configuration() {
    let first = ServerTls::from_pem(SERVER, SERVER_KEY).unwrap();
    let given = first.clone();
    let _mutual = first.require_client_cert(CA).unwrap();
    let server = tls_server(given, Config::default());
    let e = tls_error(dial(trusting_ca(), &wss(&server, "/echo")));
    assert_eq!(e, TlsError::Alert("certificate_required".into()));
    server.shutdown();
}

//! The `syncws-echo` binary: flags, echo on any path, and a clean exit with 1001 on SIGTERM.
#![cfg(feature = "cli")]

mod support;

use std::time::Duration;

use support::*;

/// Time given to the binary to exit after a signal that ends it.
const EXIT: Duration = Duration::from_secs(10);

#[test]
fn echoes_and_exits_cleanly_on_sigterm_with_1001() {
    let mut echo = EchoProcess::start(&[]);
    let addr = echo.addr();
    let mut c = Client::connect(addr, "/echo");
    c.send_text("hello binary");
    assert_eq!(c.read_data().unwrap().text(), "hello binary");
    c.send_binary(&[0, 1, 2]);
    assert_eq!(c.read_data().unwrap().payload, [0, 1, 2]);
    assert_eq!(status(&http(addr, &upgrade_request("/other", ""))), 404);
    echo.signal(libc::SIGTERM);
    assert_eq!(c.expect_close().0, 1001);
    c.send_close(1001, "");
    assert!(c.sees_eof());
    assert!(echo.wait_exit(EXIT).success());
}

#[test]
fn any_path_and_limits_from_flags() {
    let mut echo = EchoProcess::start(&["--any-path", "--max-message-size", "100", "--protocol", "p1"]);
    let addr = echo.addr();
    let mut c = Client::connect_with(addr, &upgrade_request("/some/where", "Sec-WebSocket-Protocol: p1\r\n"))
        .unwrap();
    assert_eq!(c.header("sec-websocket-protocol").as_deref(), Some("p1"));
    c.send_text("short");
    assert_eq!(c.read_data().unwrap().text(), "short");
    c.send_binary(&[0; 101]);
    assert_eq!(c.expect_close().0, 1009);
    c.send_close(1009, "");
    assert!(c.sees_eof());
    drop(c);
    echo.signal(libc::SIGINT);
    assert!(echo.wait_exit(EXIT).success());
}

#[test]
fn bad_flags_fail_with_usage() {
    let out = std::process::Command::new(echo_binary()).args(["--ping-period", "soon"]).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("duration"), "{text}");
}

/// `--tls-cert` and `--tls-key`: wss:// and https:// from PEM files, a plain 400 for plain
/// HTTP, and SIGHUP reloading renewed files while the server runs.
#[test]
#[cfg(feature = "tls")]
fn tls_from_files_and_reload_on_sighup() {
    use syncws::{ClientConfig, ClientTls, Error, Message, TlsError};
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs/");
    let read = |name: &str| std::fs::read(format!("{certs}{name}")).unwrap();
    let dir = std::env::temp_dir().join(format!("syncws-echo-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, read("other-server.pem")).unwrap();
    std::fs::write(&key, read("other-server.key")).unwrap();
    let mut echo =
        EchoProcess::start(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let addr = echo.addr();
    let url = format!("wss://localhost:{}/echo", addr.port());
    let connect = || {
        let config = ClientConfig::default().tls(ClientTls::ca_pem(&read("ca.pem")).unwrap());
        let (tx, rx) = crossbeam_channel::unbounded();
        let client = syncws::Client::new(config).channel(&url, move |session| {
            for m in session.incoming() {
                let _ = tx.send(m);
            }
        })?;
        Ok::<_, Error>((client, rx))
    };
    match connect() {
        Err(Error::Tls(TlsError::Certificate(_))) => {}
        other => panic!("the first certificate is not from the test CA: {:?}", other.map(|_| ())),
    }
    assert_eq!(status(&http(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")), 400, "plain HTTP to a TLS port");
    std::fs::write(&cert, read("server.pem")).unwrap();
    std::fs::write(&key, read("server.key")).unwrap();
    echo.signal(libc::SIGHUP);
    let mut opened = None;
    assert!(wait_until(Duration::from_secs(10), || {
        opened = connect().ok();
        opened.is_some()
    }));
    let (client, rx) = opened.unwrap();
    client.wait_open(READ_TIMEOUT).unwrap();
    client.send(Message::Text("after reload".into())).unwrap();
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text("after reload".into()));
    echo.signal(libc::SIGTERM);
    assert!(echo.wait_exit(EXIT).success(), "SIGHUP did not end it, SIGTERM did, cleanly");
    drop(client);
    let _ = std::fs::remove_dir_all(&dir);
}

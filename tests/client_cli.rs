//! The `syncws-client` binary against syncws servers: lines out and back, the close at the end
//! of the input, `--echo` and `--listen`, headers and subprotocols, and its exit statuses.
#![cfg(feature = "cli")]

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::*;
use syncws::{CloseCode, Config, Frame, Opcode, RawHandler, Route, Server, Session};

/// Runs the client with `args` and `input` on its standard input (killed after 20 s).
fn client(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_syncws-client"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn lines_go_out_and_come_back_then_a_clean_close_exits_0() {
    let (server, events) = recording(Config::default());
    let url = format!("ws://{}/echo", server.local_addr());
    let out = client(&[&url], "one\ntwo\r\n\nthree");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "one\ntwo\n\nthree\n");
    let r = close_event(&events);
    assert_eq!((r.code, r.by_peer, r.was_clean), (CloseCode::NORMAL, true, true));
}

#[test]
fn binary_mode_headers_and_subprotocols_reach_the_server() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default()).route_with(
            "/chat",
            Route::channel(move |s: Session| {
                let _ = tx.send(format!(
                    "{:?} {:?} {:?}",
                    s.protocol(),
                    s.request().header("x-board"),
                    s.request().header("origin")
                ));
                for m in s.incoming() {
                    let _ = tx.send(format!(
                        "{} {:?}",
                        if m.is_text() { "text" } else { "binary" },
                        m.as_bytes()
                    ));
                    let _ = s.send(m);
                }
            })
            .protocols(["v1"]),
        ),
    );
    let url = format!("ws://{}/chat", server.local_addr());
    let out =
        client(&["-b", "-H", "X-Board: 7", "--protocol", "v1", "--origin", "http://board", &url], "ab\n");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), "Some(\"v1\") Some(\"7\") Some(\"http://board\")");
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), "binary [97, 98]");
}

/// Sends two messages, then closes with the code in the path.
struct Closer;

impl RawHandler for Closer {
    fn on_open(&mut self, session: &Session) {
        let code: u16 = session.request().path().trim_start_matches('/').parse().unwrap();
        session.send_frame(Frame::new(Opcode::Text, true, "first")).unwrap();
        session.send_frame(Frame::new(Opcode::Binary, true, "second")).unwrap();
        session.send_frame(Frame::close(CloseCode(code), "server done")).unwrap();
    }
    fn on_frame(&mut self, _: &Session, _: Frame) {}
}

#[test]
fn listen_prints_until_the_server_closes_and_the_code_sets_the_status() {
    let server = start(Server::new(Config::default()).fallback(Route::raw(|| Closer)));
    let url = |code: u16| format!("ws://{}/{code}", server.local_addr());
    let out = client(&["--listen", &url(1000)], "");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "first\nsecond\n");
    let out = client(&["--listen", &url(4001)], "");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("4001"), "{}", text(&out.stderr));
}

#[test]
fn echo_mode_sends_everything_back() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(Server::new(Config::default()).route_with(
        "/feed",
        Route::channel(move |s: Session| {
            s.send_text("a").unwrap();
            s.send_binary(vec![1, 2]).unwrap();
            for _ in 0..2 {
                let _ = tx.send(s.incoming().recv_timeout(READ_TIMEOUT).ok());
            }
        }),
    ));
    let out = client(&["--echo", &format!("ws://{}/feed", server.local_addr())], "");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Some(syncws::Message::Text("a".to_owned())));
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Some(syncws::Message::Binary(vec![1, 2])));
    assert!(out.stdout.is_empty(), "echo mode prints nothing");
}

#[test]
fn failures_have_their_own_statuses() {
    let (server, _events) = recording(Config::default());
    let out = client(&[&format!("ws://{}/missing", server.local_addr())], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("HTTP 404"), "{}", text(&out.stderr));
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = client(&[&format!("ws://{free}/")], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot connect"), "{}", text(&out.stderr));
    for bad in [&["http://x/"][..], &["-H", "NoColon", "ws://x/"], &["--max-attempts", "3", "ws://x/"], &[]] {
        let out = client(bad, "");
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {}", text(&out.stderr));
    }
}

#[test]
fn readme_client_table_matches_the_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_syncws-client")).arg("--help").output().unwrap();
    let help = text(&out.stdout);
    assert!(out.status.success(), "{help}");
    // `--flag` -> the default its (possibly wrapped) help entry gives.
    let mut defaults = std::collections::HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in help.lines().skip_while(|l| !l.starts_with("Options:")).skip(1) {
        let trimmed = line.trim_start();
        if line.starts_with("  -") {
            defaults.extend(current.take());
            let flag = trimmed.split([',', ' ']).find(|w| w.starts_with("--")).unwrap_or("").to_owned();
            current = Some((flag, trimmed.to_owned()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push(' ');
            text.push_str(trimmed);
        }
    }
    defaults.extend(current);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("\n## A client that dials out\n").nth(1).expect("the client section");
    let section = section.split("\n## ").next().unwrap();
    let mut checked = 0;
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some(flag) = cells[2].split('`').nth(1).filter(|f| f.starts_with("--")) else { continue };
        let entry = defaults.get(flag).unwrap_or_else(|| panic!("README names {flag}, the help does not"));
        let written = cells[3].split_whitespace().next().unwrap_or("").trim_matches('`');
        if let Some(said) = entry.split("(default ").nth(1).and_then(|d| d.split(&[')', ';'][..]).next()) {
            let said = match said {
                "1M" => "1048576",
                other => other,
            };
            assert_eq!(written, said, "README's default for {flag}");
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} rows of the client table were found");
}

#[test]
fn reconnect_gives_up_after_max_attempts_with_status_2() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let started = std::time::Instant::now();
    let out =
        client(&["--reconnect", "--max-attempts", "2", &format!("ws://{free}/")], "a line that waits\n");
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot connect"), "{}", text(&out.stderr));
    // Two attempts, with a 0.25 to 0.5 s wait between them.
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `wss://` with `--ca`, `--cert` and `--key` against a syncws server that requires a client
/// certificate; the statuses of what goes wrong.
#[test]
#[cfg(feature = "tls")]
fn wss_with_a_ca_and_a_client_certificate() {
    use syncws::ServerTls;
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs/");
    let path = |name: &str| format!("{certs}{name}");
    let ca = std::fs::read(path("ca.pem")).unwrap();
    let tls = ServerTls::from_pem_files(path("server.pem"), path("server.key"))
        .unwrap()
        .require_client_cert(&ca)
        .unwrap();
    let server = start(
        Server::new(Config::default())
            .tls(tls)
            .route("/echo", || support::Recorder { events: crossbeam_channel::unbounded().0 }),
    );
    let url = format!("wss://localhost:{}/echo", server.local_addr().port());
    let (ca, cert, key) = (path("ca.pem"), path("client.pem"), path("client.key"));
    let out = client(&["--ca", &ca, "--cert", &cert, "--key", &key, &url], "one\ntwo\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "one\ntwo\n");
    // No client certificate: the server's alert, status 2.
    let out = client(&["--ca", &ca, &url], "one\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("certificate_required"), "{}", text(&out.stderr));
    // The bundled roots do not include the test CA.
    let out = client(&["--cert", &cert, "--key", &key, &url], "one\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not signed by a trusted root"), "{}", text(&out.stderr));
    for bad in [
        &["--ca", &ca, "--system-roots", &url][..],
        &["--cert", &cert, &url],
        &["--ca", "/nonexistent.pem", &url],
    ] {
        let out = client(bad, "");
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {}", text(&out.stderr));
    }
    server.shutdown();
}

/// Every flag the README's TLS table names is in the help of the binary it names.
#[test]
#[cfg(feature = "tls")]
fn readme_tls_table_names_real_flags() {
    let help = |bin: &str| text(&Command::new(bin).arg("--help").output().unwrap().stdout);
    let echo_help = help(env!("CARGO_BIN_EXE_syncws-echo"));
    let client_help = help(env!("CARGO_BIN_EXE_syncws-client"));
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("\n## TLS (wss://)\n").nth(1).expect("the TLS section");
    let section = section.split("\n## ").next().unwrap();
    let mut checked = 0;
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let binary = row.split('|').nth(2).unwrap_or("");
        let help = if binary.contains("syncws-echo") { &echo_help } else { &client_help };
        for flag in binary.split(|c: char| c == '`' || c.is_whitespace()).filter(|w| w.starts_with("--")) {
            assert!(help.contains(flag), "README's TLS table names {flag}, which {binary} does not take");
            checked += 1;
        }
    }
    assert_eq!(checked, 7, "flags found in the README's TLS table");
}

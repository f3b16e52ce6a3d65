//! Interoperability with Python's `websockets` client, installed by this test into a venv
//! under `target/` (pinned version; needs `python3` with `venv` and access to PyPI once).

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use support::*;
use syncws::{CloseCode, Config, Handler, Message, Route, Server, Session};

/// The pinned client, shared with scripts/cross-test.sh.
const REQUIREMENT: &str = include_str!("peers/requirements.txt");

/// The venv's python, created once per test run.
fn python() -> &'static PathBuf {
    support::require_peer_tests("installs Python websockets with pip");
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv");
        let python = venv.join("bin/python");
        let requirement = REQUIREMENT.trim();
        let version = requirement.trim_start_matches("websockets==");
        let check = format!("import websockets, sys; sys.exit(websockets.version.version != '{version}')");
        let ready = Command::new(&python).args(["-c", &check]).status().is_ok_and(|s| s.success());
        if !ready {
            let made =
                Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3 is needed");
            assert!(made.success(), "python3 -m venv failed");
            let pip =
                Command::new(venv.join("bin/pip")).args(["install", "-q", requirement]).status().unwrap();
            assert!(pip.success(), "pip install {requirement} failed");
        }
        python
    })
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_client.py")
}

/// Runs a scenario to completion (at most 60 s) and returns its output.
fn run(scenario: &str, url: &str) -> String {
    run_with(scenario, url, &[])
}

/// [`run`] with environment variables (the TLS files: `SYNCWS_CA`, `SYNCWS_CLIENT_CERT`,
/// `SYNCWS_CLIENT_KEY`).
fn run_with(scenario: &str, url: &str, env: &[(&str, String)]) -> String {
    let out = Command::new(python())
        .arg(script())
        .args([scenario, url])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python {scenario} failed:\n{text}");
    text
}

struct KtorEcho;

impl Handler for KtorEcho {
    fn on_message(&mut self, session: &Session, message: Message) {
        match message.as_text() {
            Some("bye") => {
                session.close(CloseCode::NORMAL, "Client said BYE");
            }
            _ => {
                let _ = session.send(message);
            }
        }
    }
}

fn server() -> syncws::ServerHandle {
    let config = Config::default().max_message_size(4 << 20).max_frame_size(4 << 20);
    start(
        Server::new(config)
            .route("/echo", || KtorEcho)
            .route_with("/chat", Route::handler(|| KtorEcho).protocols(["chat.v2", "chat.v1"])),
    )
}

#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn python_echo_fragments_ping_and_close() {
    let server = server();
    let out = run("echo", &format!("ws://{}/echo", server.local_addr()));
    assert!(out.contains("echo ok"), "{out}");
}

#[cfg(feature = "deflate")]
#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn python_round_trips_with_permessage_deflate() {
    let server = start(
        Server::new(Config::default()).extension(syncws::Deflate::default()).route("/echo", || KtorEcho),
    );
    let out = run("deflate", &format!("ws://{}/echo", server.local_addr()));
    assert!(out.contains("deflate ok"), "{out}");
}

/// Window bits 9 to 15 offered by the client in both directions, against a server with a
/// 32 KiB window and against one set for a board (10 bits).
#[cfg(feature = "deflate")]
#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn python_round_trips_with_every_window_size() {
    for server_bits in [15, 10] {
        let deflate = syncws::Deflate::default().min_size(0).window_bits(server_bits);
        let server = start(Server::new(Config::default()).extension(deflate).route("/echo", || KtorEcho));
        let url = format!("ws://{}/echo", server.local_addr());
        let out = Command::new(python())
            .arg(script())
            .args(["windows", &url, &server_bits.to_string()])
            .output()
            .unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains("windows ok"), "server window {server_bits}: {text}");
    }
}

#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn python_sees_1007_for_bad_utf8_and_1009_for_a_large_message() {
    let server = start(Server::new(Config::default()).route("/echo", || KtorEcho));
    let out = run("close_codes", &format!("ws://{}/echo", server.local_addr()));
    assert!(out.contains("close codes ok"), "{out}");
}

#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn python_subprotocol() {
    let server = server();
    let out = run("subprotocol", &format!("ws://{}/chat", server.local_addr()));
    assert!(out.contains("subprotocol ok"), "{out}");
}

#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn python_sees_the_server_close_with_its_reason() {
    let server = server();
    let out = run("server_close", &format!("ws://{}/echo", server.local_addr()));
    assert!(out.contains("server close ok"), "{out}");
}

#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn python_sees_1001_on_shutdown() {
    let server = server();
    let mut child = Command::new(python())
        .arg(script())
        .args(["shutdown", &format!("ws://{}/echo", server.local_addr())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "waiting");
    assert_eq!(server.shutdown(), 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "python did not finish");
        thread::sleep(Duration::from_millis(20));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success() && rest.iter().any(|l| l == "shutdown ok"), "{rest:?} {status}");
}

#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn the_client_against_a_python_websockets_server_with_and_without_compression() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_server.py");
    for (mode, deflate) in [("plain", false), ("deflate", true)] {
        if deflate && cfg!(not(feature = "deflate")) {
            continue;
        }
        let mut command = Command::new(python());
        command.arg(&script).arg(mode);
        client_against(&PeerServer::start(command), deflate, false);
    }
}

/// Python's `ssl` (OpenSSL) against the TLS server with mutual TLS: the whole echo scenario with
/// a client certificate, and a client without one refused.
#[cfg(feature = "tls")]
#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn python_over_wss_with_a_client_certificate() {
    let tls = mutual_tls();
    let config = Config::default().max_message_size(4 << 20).max_frame_size(4 << 20);
    let server = start(Server::new(config).tls(tls).route("/echo", || KtorEcho));
    let url = format!("wss://localhost:{}/echo", server.local_addr().port());
    let ca = ("SYNCWS_CA", cert_path("ca.pem"));
    let identity = [
        ca.clone(),
        ("SYNCWS_CLIENT_CERT", cert_path("client.pem")),
        ("SYNCWS_CLIENT_KEY", cert_path("client.key")),
    ];
    let out = run_with("echo", &url, &identity);
    assert!(out.contains("echo ok"), "{out}");
    let out = run_with("tls_refused", &url, &[ca]);
    assert!(out.contains("refused ok: TLSV13_ALERT_CERTIFICATE_REQUIRED"), "{out}");
}

/// The syncws client over TLS against a Python `websockets` server on `ssl`.
#[cfg(feature = "tls")]
#[test]
#[ignore = "installs Python websockets with pip into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn the_client_over_wss_against_a_python_websockets_server() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_server.py");
    let mut command = Command::new(python());
    command.arg(&script).arg("plain");
    client_against(&PeerServer::start_tls(command), false, false);
}

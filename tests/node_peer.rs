//! Interoperability with Node's `ws` client with permessage-deflate on, installed by this test
//! with npm into `target/node` (pinned version; needs node and npm).
#![cfg(feature = "deflate")]

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use support::*;
use syncws::{Config, Deflate, Route, Server};

const WS: &str = "ws@8.23.0";

/// The folder whose node_modules holds `ws`, installed once per test run.
fn node_dir() -> &'static PathBuf {
    support::require_peer_tests("installs Node ws with npm");
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/node");
        let installed = dir.join("node_modules/ws/package.json");
        let current =
            std::fs::read_to_string(&installed).is_ok_and(|p| p.contains("\"version\": \"8.23.0\""));
        if !current {
            std::fs::create_dir_all(&dir).unwrap();
            let status = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&dir)
                .arg(WS)
                .status()
                .expect("npm is needed");
            assert!(status.success(), "npm install {WS} failed");
        }
        dir
    })
}

fn run(url: &str, mode: &str) -> String {
    run_with(url, mode, &[])
}

/// [`run`] with environment variables (the TLS files: `SYNCWS_CA`, `SYNCWS_CLIENT_CERT`,
/// `SYNCWS_CLIENT_KEY`).
fn run_with(url: &str, mode: &str, env: &[(&str, String)]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/node_client.js");
    let out = Command::new("node")
        .arg(script)
        .args([url, mode])
        .envs(env.iter().cloned())
        .env("NODE_PATH", node_dir().join("node_modules"))
        .output()
        .expect("node is needed");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "node client failed: {text}");
    text
}

fn server(deflate: Deflate) -> syncws::ServerHandle {
    start(Server::new(Config::default()).extension(deflate).route_with(
        "/echo",
        Route::channel(|s| {
            for m in s.incoming() {
                let _ = s.send(m);
            }
        }),
    ))
}

#[test]
#[ignore = "installs Node ws with npm into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn node_ws_round_trips_with_context_takeover() {
    let server = server(Deflate::default().min_size(0));
    let out = run(&format!("ws://{}/echo", server.local_addr()), "context");
    assert!(out.starts_with("ok permessage-deflate"), "{out}");
}

/// Window bits 9 to 15 offered by the client in both directions, against a server with a
/// 32 KiB window and against one set for a board (10 bits): the answer limits both to the
/// smaller.
#[test]
#[ignore = "installs Node ws with npm into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn node_ws_round_trips_with_every_window_size() {
    for server_bits in [15u8, 10] {
        let server = server(Deflate::default().min_size(0).window_bits(server_bits));
        for bits in 9..=15u8 {
            let out = run(&format!("ws://{}/echo", server.local_addr()), &format!("bits={bits}"));
            let agreed = bits.min(server_bits);
            let mut want = format!("ok permessage-deflate; server_max_window_bits={agreed}");
            if agreed < 15 {
                want += &format!("; client_max_window_bits={agreed}");
            }
            assert_eq!(out.trim(), want, "client {bits}, server {server_bits}");
        }
    }
}

#[test]
#[ignore = "installs Node ws with npm into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn node_ws_round_trips_without_context_takeover() {
    let server = server(Deflate::default());
    let out = run(&format!("ws://{}/echo", server.local_addr()), "no-context");
    assert!(
        out.contains("server_no_context_takeover") && out.contains("client_no_context_takeover"),
        "{out}"
    );
}

#[test]
#[ignore = "installs Node ws with npm into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn the_client_against_a_node_ws_server_with_and_without_compression() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/node_server.js");
    for (mode, deflate) in [("plain", false), ("deflate", true)] {
        let mut command = Command::new("node");
        command.arg(&script).arg(mode).env("NODE_PATH", node_dir().join("node_modules"));
        let server = PeerServer::start(command);
        client_against(&server, deflate, true);
    }
}

/// Node's `ws` over `https` (OpenSSL) against the TLS server, with a client certificate the
/// server requires, and permessage-deflate on.
#[cfg(feature = "tls")]
#[test]
#[ignore = "installs Node ws with npm into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn node_ws_over_wss_with_a_client_certificate() {
    let tls = mutual_tls();
    let server =
        start(Server::new(Config::default()).tls(tls).extension(Deflate::default().min_size(0)).route_with(
            "/echo",
            Route::channel(|s| {
                for m in s.incoming() {
                    let _ = s.send(m);
                }
            }),
        ));
    let env = [
        ("SYNCWS_CA", cert_path("ca.pem")),
        ("SYNCWS_CLIENT_CERT", cert_path("client.pem")),
        ("SYNCWS_CLIENT_KEY", cert_path("client.key")),
    ];
    let out = run_with(&format!("wss://localhost:{}/echo", server.local_addr().port()), "context", &env);
    assert!(out.starts_with("ok permessage-deflate"), "{out}");
}

/// The syncws client over TLS against a Node `ws` server on `https`.
#[cfg(feature = "tls")]
#[test]
#[ignore = "installs Node ws with npm into target/; SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn the_client_over_wss_against_a_node_ws_server() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/node_server.js");
    let mut command = Command::new("node");
    command.arg(&script).arg("deflate").env("NODE_PATH", node_dir().join("node_modules"));
    client_against(&PeerServer::start_tls(command), true, true);
}

//! The `syncws-echo` binary: flags, echo on any path, and a clean exit with 1001 on SIGTERM.
#![cfg(feature = "cli")]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// The running binary; killed and reaped if a test fails before it exits.
struct Echo(Child);

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free port and returns it with the address it logged.
fn spawn(args: &[&str]) -> (Echo, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_syncws-echo"))
        .args(["--listen", "127.0.0.1:0", "--log-level", "info"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(Echo)
        .unwrap();
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    for _ in 0..20 {
        let line = lines.next().expect("echo server output").unwrap();
        if let Some(rest) = line.split("ws://").nth(1) {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            // Keep draining the log so the server never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return (child, addr);
        }
    }
    panic!("no listening line");
}

fn signal(child: &Echo, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.0.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

fn wait_exit(child: &mut Echo) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "syncws-echo did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn echoes_and_exits_cleanly_on_sigterm_with_1001() {
    let (mut child, addr) = spawn(&[]);
    let mut c = Client::connect(addr, "/echo");
    c.send_text("hello binary");
    assert_eq!(c.read_data().unwrap().text(), "hello binary");
    c.send_binary(&[0, 1, 2]);
    assert_eq!(c.read_data().unwrap().payload, [0, 1, 2]);
    assert_eq!(status(&http(addr, &upgrade_request("/other", ""))), 404);
    signal(&child, "-TERM");
    assert_eq!(c.expect_close().0, 1001);
    c.send_close(1001, "");
    assert!(c.sees_eof());
    assert!(wait_exit(&mut child).success());
}

#[test]
fn any_path_and_limits_from_flags() {
    let (mut child, addr) = spawn(&["--any-path", "--max-message-size", "100", "--protocol", "p1"]);
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
    signal(&child, "-INT");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn bad_flags_fail_with_usage() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_syncws-echo")).args(["--ping-period", "soon"]).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("duration"), "{text}");
}

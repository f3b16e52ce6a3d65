//! `syncws-echo --help`: its defaults are the library's, and the README's options table says
//! the same.
#![cfg(feature = "cli")]

use std::collections::HashMap;
use std::process::Command;

/// `--flag` -> the default its help line gives.
fn help_defaults() -> HashMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_syncws-echo")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(!help.contains('{'), "a placeholder was left in the help:\n{help}");
    // Help entries wrap: join each flag's lines before reading "(default X)".
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in help.lines().skip_while(|l| !l.starts_with("Options:")).skip(1) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("--") && line.starts_with("  --") {
            let (flag, text) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
            entries.push((flag.to_owned(), text.trim().to_owned()));
        } else if let Some(last) = entries.last_mut() {
            last.1.push(' ');
            last.1.push_str(trimmed);
        }
    }
    entries
        .into_iter()
        .filter_map(|(flag, text)| {
            let default = text.split("(default ").nth(1)?.split(')').next()?.to_owned();
            Some((flag, default))
        })
        .collect()
}

/// A duration as the help prints it: `30s`, `500ms` or `2m`.
fn duration(text: &str) -> std::time::Duration {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("not a duration: {text}"));
    match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n * 60),
        _ => panic!("not a duration: {text}"),
    }
}

#[test]
fn help_defaults_are_the_configs() {
    let d = help_defaults();
    let c = syncws::Config::default();
    let deflate = syncws::Deflate::default();
    assert_eq!(Some(duration(&d["--ping-period"])), c.get_ping_period());
    assert_eq!(duration(&d["--timeout"]), c.get_timeout());
    assert_eq!(duration(&d["--close-timeout"]), c.get_close_timeout());
    assert_eq!(duration(&d["--handshake-timeout"]), c.get_handshake_timeout());
    assert_eq!(d["--max-frame-size"], c.get_max_frame_size().to_string());
    assert_eq!(d["--max-message-size"], c.get_max_message_size().to_string());
    assert_eq!(d["--max-connections"], c.get_max_connections().to_string());
    assert_eq!(d["--queue-capacity"], c.get_queue_capacity().to_string());
    assert_eq!(d["--stack-size"], c.get_stack_size().to_string());
    assert_eq!(d["--read-buffer-size"], c.get_read_buffer_size().to_string());
    assert_eq!(d["--max-request-size"], c.get_max_request_size().to_string());
    assert_eq!(d["--deflate-level"], deflate.get_level().to_string());
    assert_eq!(d["--deflate-min-size"], deflate.get_min_size().to_string());
}

#[test]
fn readme_options_table_matches_the_help() {
    let help = help_defaults();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    // The server's table, in the "Options" section (the client's has its own test).
    let section =
        readme.split("\n## Options\n").nth(1).expect("an Options section").split("\n## ").next().unwrap();
    let mut checked = 0;
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | `setter` | `--flag` ... | default | meaning |
        let (Some(flag_cell), Some(default_cell)) = (cells.get(2), cells.get(3)) else { continue };
        let Some(flag) = flag_cell.split('`').nth(1) else { continue };
        let Some(want) = help.get(flag) else { continue };
        let written = default_cell.split_whitespace().next().unwrap_or("").trim_matches('`');
        assert_eq!(written, want, "README's default for {flag}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} rows of the options table were found");
}

/// The binary, run with `args` until it exits (bounded: every case here exits at once).
fn run_to_exit(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_syncws-echo")).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("panicked"), "a panic instead of an error: {text}");
    (out.status.success(), text)
}

#[test]
fn bad_values_are_refused_with_a_clear_message() {
    for (args, says) in [
        (&["--ping-period", "99999999999999999999"][..], "out of range"),
        (&["--timeout", "-5s"], "bad duration"),
        (&["--deflate-level", "12"], "bad deflate level"),
        (&["--max-frame-size", "1Q"], "bad size"),
        (&["--max-message-size", "99999999999999999999G"], "bad size"),
        (&["--stack-size", "100"], "stack_size must be at least 32768 (was 100)"),
        (&["--queue-capacity", "0"], "queue_capacity must be at least 1"),
        (&["--max-frame-size", "0"], "max_frame_size must be at least 1 (was 0)"),
        (&["--max-message-size", "0"], "max_message_size must be at least 1 (was 0)"),
        (&["--read-buffer-size", "16"], "read_buffer_size must be at least 256"),
        (&["--handshake-timeout", "0"], "handshake_timeout must be at least 1 ms"),
        (&["--ping-period", "0.5ms"], "ping_period must be at least 1 ms"),
        (&["--listen", "no-such-host.invalid:80"], "cannot listen on no-such-host.invalid:80"),
    ] {
        let mut all = if args.contains(&"--listen") { vec![] } else { vec!["--listen", "127.0.0.1:0"] };
        all.extend_from_slice(args);
        let (ok, text) = run_to_exit(&all);
        assert!(!ok, "{args:?} was accepted");
        assert!(text.contains(says), "{args:?}: expected {says:?} in {text:?}");
    }
}

/// A running `syncws-echo` and what it printed; killed when dropped.
struct Running {
    child: std::process::Child,
    lines: crossbeam_channel::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(args: &[&str]) -> Running {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_syncws-echo"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = crossbeam_channel::unbounded();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Running { child, lines }
    }

    /// The first line containing `needle`, within 10 s.
    fn line(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?}");
    }

    /// The address from the "echoing on ws://ADDR/..." line.
    fn addr(&self) -> std::net::SocketAddr {
        let line = self.line("echoing on ws://");
        let rest = line.split("ws://").nth(1).unwrap();
        rest[..rest.find('/').unwrap()].parse().unwrap()
    }
}

#[test]
fn listen_takes_host_names_ipv6_and_sizes_with_units() {
    // IPv6 only where the machine has an IPv6 loopback (said, not skipped silently).
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    if !ipv6 {
        eprintln!("no IPv6 loopback on this machine: [::1] is not tried");
    }
    for listen in ["localhost:0", "[::1]:0"].into_iter().filter(|l| ipv6 || !l.starts_with('[')) {
        let echo =
            Running::start(&["--listen", listen, "--max-frame-size", "64K", "--max-message-size", "1M"]);
        let addr = echo.addr();
        let mut client = wsclient::Client::connect(addr, "/echo");
        client.send_binary(&vec![7; 64 * 1024]);
        assert_eq!(client.read_data().unwrap().payload.len(), 64 * 1024);
        client.send_binary(&vec![7; 64 * 1024 + 1]);
        assert_eq!(client.expect_close().0, 1009, "64K is the frame limit");
    }
}

#[test]
fn a_taken_address_is_named_in_the_error() {
    let echo = Running::start(&["--listen", "127.0.0.1:0"]);
    let addr = echo.addr().to_string();
    let (ok, text) = run_to_exit(&["--listen", &addr]);
    assert!(!ok);
    assert!(text.contains(&format!("cannot listen on {addr}")), "{text}");
}

#[test]
fn connections_are_logged_with_time_peer_path_and_close_code() {
    let echo = Running::start(&["--listen", "127.0.0.1:0", "--log-level", "info"]);
    let addr = echo.addr();
    let mut client = wsclient::Client::connect(addr, "/echo");
    let peer = client.stream.local_addr().unwrap().to_string();
    let open = echo.line("open /echo");
    assert!(open.contains(&peer), "{open}");
    // An RFC 3339 UTC timestamp leads every line: 2026-11-25T22:41:07.123Z
    let stamp = open.split_whitespace().next().unwrap();
    assert!(stamp.len() >= 20 && stamp.as_bytes()[4] == b'-' && stamp.contains('T'), "{open}");
    client.send_close(4000, "done");
    client.expect_close();
    let closed = echo.line("closed /echo");
    assert!(closed.contains(&peer) && closed.contains("4000 (done)"), "{closed}");
    let missing = wsclient::Client::connect_with(addr, &wsclient::upgrade_request("/nowhere", ""));
    assert!(missing.is_err());
    assert!(echo.line("HTTP 404").contains("/nowhere"));
}

//! The peers (`syncws-bench run --peers`): a short run against those installed, in which every
//! peer is either measured or reported as skipped with its reason, in the table and in the
//! JSON, never dropped. Installs nothing (no `--install-peers`): no root, no network; a peer
//! that is not there is a skipped row. Figures are not judged here.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The peers the bench knows.
const PEERS: [&str; 4] = ["node-ws", "python-websockets", "tokio-tungstenite", "libwebsockets"];

/// How long the run may take (a debug build on a shared, busy machine).
const LIMIT: Duration = Duration::from_secs(300);

#[test]
fn every_peer_is_measured_or_skipped_with_a_reason() {
    let json = std::env::temp_dir().join(format!("syncws-bench-peers-{}.json", std::process::id()));
    let stdout = std::env::temp_dir().join(format!("syncws-bench-peers-{}.txt", std::process::id()));
    let mut run = Command::new(env!("CARGO_BIN_EXE_syncws-bench"));
    run.args(["run", "--scale", "100", "--rounds", "1", "--peers", "--scenario", "pingpong32"]);
    if cfg!(feature = "deflate") {
        run.args(["--scenario", "deflate1k"]);
    }
    let mut child = run
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("syncws-bench run --peers took more than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let table = std::fs::read_to_string(&stdout).unwrap();
    let _ = std::fs::remove_file(&stdout);
    assert!(status.success(), "bench failed: {table}");
    let written = std::fs::read_to_string(&json).unwrap();
    let _ = std::fs::remove_file(&json);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&written).unwrap();
    let row = |scenario: &str, server: &str| {
        rows.iter().find(|r| r["scenario"] == scenario && r["server"] == server).cloned()
    };
    for peer in PEERS {
        let head = table
            .lines()
            .find(|l| l.starts_with(&format!("peer {peer}: ")))
            .unwrap_or_else(|| panic!("{table}"));
        let Some(pingpong) = row("pingpong32", peer) else {
            panic!("no pingpong32 row for {peer}: {written}")
        };
        if let Some(reason) = pingpong["skipped"].as_str() {
            assert!(!reason.is_empty() && head.contains(&format!("skipped ({reason})")), "{head}");
            assert!(table.contains(&format!("| pingpong32 | {peer} | - |")), "{table}");
            if cfg!(feature = "deflate") {
                let deflate = row("deflate1k", peer).unwrap_or_else(|| panic!("no deflate1k row for {peer}"));
                assert_eq!(deflate["skipped"], pingpong["skipped"]);
            }
            continue;
        }
        assert!(pingpong["messages"].as_u64().unwrap() > 0, "{pingpong}");
        assert!(pingpong["cpu_seconds"].as_f64().unwrap() > 0.0, "the peer's CPU was not read: {pingpong}");
        assert!(pingpong["version"].as_str().is_some_and(|v| !v.is_empty()), "{pingpong}");
        if cfg!(feature = "deflate") {
            let name = format!("{peer}, deflate");
            let deflate = row("deflate1k", &name).unwrap_or_else(|| panic!("no deflate1k row for {name}"));
            match deflate["skipped"].as_str() {
                Some(reason) => assert!(reason.contains("permessage-deflate"), "{deflate}"),
                None => assert!(deflate["messages"].as_u64().unwrap() > 0, "{deflate}"),
            }
            if peer == "tokio-tungstenite" {
                assert!(
                    deflate["skipped"].is_string(),
                    "tokio-tungstenite has no permessage-deflate: {deflate}"
                );
            }
        }
    }
}

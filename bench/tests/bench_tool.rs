//! `syncws-bench` itself: a short run of the comparative scenarios against all four servers
//! (every echo is checked byte for byte inside the tool, which fails on a wrong one), its JSON
//! output, and the bare-thread floor. Figures are not judged here: performance is measured with
//! the tool, never in a timed test.

use std::process::Command;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_syncws-bench"))
}

#[test]
fn a_quick_run_covers_every_server_and_writes_json() {
    let json = std::env::temp_dir().join(format!("syncws-bench-{}.json", std::process::id()));
    let out = bench()
        .args(["run", "--quick", "--rounds", "1", "--scenario", "pingpong32", "--scenario", "pipelined64k"])
        .args(["--scenario", "pipelined64kpinned", "--scenario", "latency", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read_to_string(&json).unwrap();
    let _ = std::fs::remove_file(&json);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&written).unwrap();
    assert_eq!(rows.len(), 16, "4 scenarios x 4 servers: {written}");
    for scenario in ["pingpong32", "pipelined64k", "pipelined64kpinned", "latency"] {
        for server in ["raw-tcp", "bare-ws", "naive-tungstenite", "syncws"] {
            let row = rows
                .iter()
                .find(|r| r["scenario"] == scenario && r["server"] == server)
                .unwrap_or_else(|| panic!("no row for {scenario} on {server}"));
            assert!(row["messages"].as_u64().unwrap() > 0, "{row}");
            assert!(row["cpu_seconds"].as_f64().unwrap() > 0.0, "the server's CPU was not read: {row}");
            if scenario != "latency" {
                let client: f64 = row["notes"]["client us/msg"].as_str().unwrap().parse().unwrap();
                assert!(client > 0.0, "the load generator's CPU was not read: {row}");
            }
            assert!(stdout.contains(&format!("| {scenario} | {server} |")), "table row missing");
        }
    }
}

#[test]
fn the_floor_of_bare_threads_is_reported() {
    for per in ["1", "2"] {
        let out = bench().args(["floor", "--connections", "50", "--threads", per]).output().unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let row = format!("| {per} |");
        let line = stdout.lines().find(|l| l.starts_with(&row)).unwrap_or_else(|| panic!("{stdout}"));
        // Each thread costs at least its stack mapping.
        let maps: f64 = line.split('|').nth(3).unwrap().trim().parse().unwrap();
        assert!(maps >= 1.0, "{line}");
    }
}

#[test]
fn the_client_scenarios_measure_the_client_process() {
    let out = bench()
        .args(["run", "--quick", "--rounds", "1", "--scenario", "client32", "--scenario", "clientidle1000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    for server in ["raw-tcp", "syncws"] {
        let row = format!("| client32 | {server} | 32000 |");
        assert!(stdout.contains(&row), "{row} missing from:\n{stdout}");
    }
    let idle =
        stdout.lines().find(|l| l.starts_with("| clientidle100 |")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(idle.contains("open at end 100/100"), "{idle}");
    // One thread per idle client (its write loop starts only when something must wait), and
    // the process's few shared ones (the timer) spread over 100 clients.
    let threads: f64 = idle
        .split("threads/client ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or_else(|| panic!("no threads/client in {idle}"));
    assert!((1.0..1.2).contains(&threads), "{idle}");
}

//! The TLS scenarios (feature `tls`): a short run of each, both kinds of server, every echo
//! checked inside the tool. Figures are not judged here.
#![cfg(feature = "tls")]

use std::process::Command;

#[test]
fn the_tls_scenarios_compare_tls_with_plain_syncws() {
    let out = Command::new(env!("CARGO_BIN_EXE_syncws-bench"))
        .args(["run", "--quick", "--rounds", "1", "--idle-seconds", "10"])
        .args(["--scenario", "tlspingpong32", "--scenario", "tlshandshake", "--scenario", "tlsidle1000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    let row = |prefix: &str| {
        stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in:\n{stdout}"))
    };
    assert!(row("| tlspingpong32 | syncws | 32000 |").contains("conns 16"));
    assert!(row("| tlspingpong32 | syncws-tls | 32000 |").contains("CPU vs plain syncws"));
    row("| tlshandshake | syncws | 200 |");
    assert!(row("| tlshandshake | syncws-tls | 200 |").contains("resumed 0/200"));
    let resumed = row("| tlshandshake | syncws-tls, resumed | 200 |");
    assert!(resumed.contains("TLSv1_3"), "{resumed}");
    row("| tlsidle100 | syncws |");
    let idle = row("| tlsidle100 | syncws-tls |");
    // One thread per idle connection: the write loop starts only when something must wait.
    assert!(idle.contains("threads/conn 1.00") && idle.contains("dropped 0"), "{idle}");
}

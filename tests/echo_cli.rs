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

#[test]
fn help_defaults_are_the_configs() {
    let d = help_defaults();
    let c = syncws::Config::default();
    assert_eq!(d["--ping-period"], format!("{}s", c.get_ping_period().unwrap().as_secs()));
    assert_eq!(d["--timeout"], format!("{}s", c.get_timeout().as_secs()));
    assert_eq!(d["--max-frame-size"], c.get_max_frame_size().to_string());
    assert_eq!(d["--max-message-size"], c.get_max_message_size().to_string());
    assert_eq!(d["--max-connections"], c.get_max_connections().to_string());
    assert_eq!(d["--close-timeout"], format!("{}s", c.get_close_timeout().as_secs()));
    assert_eq!(d["--handshake-timeout"], format!("{}s", c.get_handshake_timeout().as_secs()));
    assert_eq!(d["--queue-capacity"], c.get_queue_capacity().to_string());
    assert_eq!(d["--stack-size"], c.get_stack_size().to_string());
    assert_eq!(d["--read-buffer-size"], c.get_read_buffer_size().to_string());
    assert_eq!(d["--max-request-size"], c.get_max_request_size().to_string());
    assert_eq!(d["--deflate-level"], syncws::Deflate::default().get_level().to_string());
}

#[test]
fn readme_options_table_matches_the_help() {
    let help = help_defaults();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut checked = 0;
    for row in readme.lines().filter(|l| l.starts_with("| `")) {
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

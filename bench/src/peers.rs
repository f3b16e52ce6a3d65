//! The peers: the servers a user would pick instead of syncws, each a small echo server in its
//! own language and library (sources in `bench/peers/`), run as a child process like the
//! other servers and driven by the same load generator.
//!
//! - `node-ws`: Node's `ws` (`bench/peers/ws_echo.js`), installed into `target/node` as the
//!   tests install it;
//! - `python-websockets`: Python's asyncio `websockets` (`bench/peers/websockets_echo.py`),
//!   from the tests' venv `target/pyenv`;
//! - `tokio-tungstenite`: a tokio echo (`bench/peers/tokio-echo`, a crate outside the
//!   workspace) built into `target/peers/tokio-echo`;
//! - `libwebsockets`: a C echo (`bench/peers/lws_echo.c`) on Debian's `libwebsockets-dev`,
//!   compiled with `cc` into `target/peers/lws_echo`.
//!
//! Without `--install-peers` only what is already there is used (the C echo is compiled when
//! the library's headers are installed: a second's work, no network); a peer that is missing
//! is skipped with its reason, which the report lists. `--install-peers` installs what is
//! missing: npm, a venv and pip, `apt-get install libwebsockets-dev`, `cargo build`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
#[cfg(feature = "deflate")]
use std::time::Duration;
use std::time::SystemTime;

/// The peers, in the order of the report.
pub const PEERS: [&str; 4] = ["node-ws", "python-websockets", "tokio-tungstenite", "libwebsockets"];

/// The `ws` version the bench installs: the one the tests pin (tests/node_peer.rs).
const WS: &str = "ws@8.23.0";

/// A peer after preparation: started once, it answered.
pub struct Ready {
    /// The peer's kind, one of [`PEERS`].
    pub kind: &'static str,
    /// What it runs on, as it reported (and, for some, as the bench found).
    pub version: String,
    /// Why the deflate scenario skips it; `None` if it accepted permessage-deflate.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub no_deflate: Option<String>,
}

/// The checkout's root (the workspace's folder).
fn root() -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).to_path_buf()
}

/// Where peers are built and installed.
fn target() -> PathBuf {
    root().join("target")
}

/// The tokio echo's manifest.
fn tokio_manifest() -> PathBuf {
    root().join("bench/peers/tokio-echo/Cargo.toml")
}

/// The tokio echo's binary, built into its own target folder.
fn tokio_binary() -> PathBuf {
    target().join("peers/tokio-echo/release/tokio-echo")
}

/// The C echo's binary.
fn lws_binary() -> PathBuf {
    target().join("peers/lws_echo")
}

/// The venv's python.
fn python() -> PathBuf {
    target().join("pyenv/bin/python")
}

/// The command that starts peer `kind` (its stdout is read for `listening ADDR ...`).
pub fn command(kind: &str) -> Option<Command> {
    let peers = root().join("bench/peers");
    Some(match kind {
        "node-ws" => {
            let mut c = Command::new("node");
            c.arg(peers.join("ws_echo.js")).env("NODE_PATH", target().join("node/node_modules"));
            c
        }
        "python-websockets" => {
            let mut c = Command::new(python());
            c.arg(peers.join("websockets_echo.py"));
            c
        }
        "tokio-tungstenite" => Command::new(tokio_binary()),
        "libwebsockets" => Command::new(lws_binary()),
        _ => return None,
    })
}

/// Prepares every peer (installing what is missing if `install`), starts each once, and
/// returns those that answered and those skipped with their reasons.
pub fn prepare_all(install: bool) -> (Vec<Ready>, Vec<(&'static str, String)>) {
    let (mut ready, mut skipped) = (Vec::new(), Vec::new());
    for kind in PEERS {
        match prepare(kind, install).and_then(|()| probe(kind)) {
            Ok(r) => ready.push(r),
            Err(reason) => skipped.push((kind, reason)),
        }
    }
    (ready, skipped)
}

/// Makes peer `kind` runnable, or says why it is not.
fn prepare(kind: &str, install: bool) -> Result<(), String> {
    match kind {
        "node-ws" => {
            run_ok(Command::new("node").arg("--version"), "node is not installed")?;
            let manifest = target().join("node/node_modules/ws/package.json");
            let pinned = WS.trim_start_matches("ws@");
            let current = |m: &Path| {
                std::fs::read_to_string(m).is_ok_and(|p| p.contains(&format!("\"version\": \"{pinned}\"")))
            };
            if !current(&manifest) {
                if !install {
                    return Err(format!("{WS} is not in target/node; --install-peers installs it"));
                }
                let dir = target().join("node");
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                run_ok(
                    Command::new("npm")
                        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                        .arg(&dir)
                        .arg(WS),
                    &format!("npm install {WS} failed"),
                )?;
            }
            Ok(())
        }
        "python-websockets" => {
            let has =
                || run_ok(Command::new(python()).args(["-c", "import websockets"]), "no websockets").is_ok();
            if !has() {
                if !install {
                    return Err("no venv with websockets in target/pyenv; --install-peers makes it".into());
                }
                let venv = target().join("pyenv");
                run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv failed")?;
                let requirements = root().join("tests/peers/requirements.txt");
                run_ok(
                    Command::new(venv.join("bin/pip")).args(["install", "-q", "-r"]).arg(requirements),
                    "pip install -r tests/peers/requirements.txt failed",
                )?;
            }
            Ok(())
        }
        "tokio-tungstenite" => {
            if install {
                run_ok(
                    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                        .args(["build", "--release", "--quiet", "--manifest-path"])
                        .arg(tokio_manifest())
                        .arg("--target-dir")
                        .arg(target().join("peers/tokio-echo")),
                    "cargo build of bench/peers/tokio-echo failed",
                )?;
            }
            let sources = ["Cargo.toml", "Cargo.lock", "src/main.rs"]
                .map(|f| root().join("bench/peers/tokio-echo").join(f));
            match modified(&tokio_binary()) {
                None => Err("bench/peers/tokio-echo is not built; --install-peers builds it".into()),
                Some(built) if sources.iter().any(|s| modified(s).is_some_and(|m| m > built)) => {
                    Err("the tokio-echo binary is older than its sources; --install-peers rebuilds it".into())
                }
                Some(_) => Ok(()),
            }
        }
        "libwebsockets" => {
            let installed =
                || run_ok(Command::new("pkg-config").args(["--exists", "libwebsockets"]), "").is_ok();
            if !installed() && install {
                run_ok(
                    Command::new("apt-get").args(["install", "-y", "-q", "libwebsockets-dev"]),
                    "apt-get install libwebsockets-dev failed (root and Debian's packages are needed)",
                )?;
            }
            if !installed() {
                return Err("libwebsockets-dev is not installed; --install-peers installs it".into());
            }
            let source = root().join("bench/peers/lws_echo.c");
            let binary = lws_binary();
            if modified(&binary).is_none_or(|b| modified(&source).is_some_and(|s| s > b)) {
                compile_lws(&source, &binary)?;
            }
            Ok(())
        }
        other => Err(format!("unknown peer {other}")),
    }
}

/// `cc -O2 lws_echo.c $(pkg-config --cflags --libs libwebsockets)` into `binary`.
fn compile_lws(source: &Path, binary: &Path) -> Result<(), String> {
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libwebsockets"])
        .output()
        .map_err(|e| format!("pkg-config: {e}"))?;
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    if let Some(dir) = binary.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // Built beside it, then renamed over it: a bench already running the old one keeps it.
    let fresh = binary.with_extension(format!("new{}", std::process::id()));
    run_ok(
        Command::new("cc").args(["-O2", "-o"]).arg(&fresh).arg(source).args(flags.split_whitespace()),
        "cc could not build bench/peers/lws_echo.c",
    )?;
    std::fs::rename(&fresh, binary).map_err(|e| format!("{}: {e}", binary.display()))
}

/// Starts peer `kind` once: its version from its `listening` line, and whether it accepts
/// permessage-deflate.
fn probe(kind: &'static str) -> Result<Ready, String> {
    let srv = crate::scenarios::ServerProc::start(kind, 0).map_err(|e| format!("did not start: {e}"))?;
    let mut version = srv.banner.clone();
    match kind {
        "tokio-tungstenite" => {
            let lock =
                std::fs::read_to_string(root().join("bench/peers/tokio-echo/Cargo.lock")).unwrap_or_default();
            let of = |name: &str| locked_version(&lock, name).unwrap_or_else(|| "?".into());
            version = format!("tokio-tungstenite {} on tokio {}", of("tokio-tungstenite"), of("tokio"));
        }
        "libwebsockets" => {
            let out =
                Command::new("dpkg-query").args(["-W", "-f", "${Version}", "libwebsockets-dev"]).output();
            if let Some(out) = out.ok().filter(|o| o.status.success()) {
                version =
                    format!("{version} (Debian libwebsockets-dev {})", String::from_utf8_lossy(&out.stdout));
            }
        }
        _ => {}
    }
    #[cfg(feature = "deflate")]
    let no_deflate = match wsclient::Client::open_deflate(srv.addr, "/echo", Duration::from_secs(10)) {
        Ok(_) => None,
        Err(e) if e.to_string().contains("did not accept") => {
            Some(format!("no permessage-deflate: {kind} answers an offer of it without it"))
        }
        Err(e) => Some(format!("the permessage-deflate probe failed: {e}")),
    };
    #[cfg(not(feature = "deflate"))]
    let no_deflate = Some("syncws-bench was built without its deflate feature".to_owned());
    Ok(Ready { kind, version, no_deflate })
}

/// The version of package `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{name}\"") {
            let next = lines.next()?;
            return Some(next.strip_prefix("version = \"")?.trim_end_matches('"').to_owned());
        }
    }
    None
}

/// A file's modification time.
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs `command` (its output discarded); `Err(what)` unless it succeeds.
fn run_ok(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what} ({s})")),
        Err(e) => Err(format!("{what} ({e})")),
    }
}

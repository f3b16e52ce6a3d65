//! syncws-echo's page in a real browser: headless Chromium (Debian's `chromium`, installed with
//! apt if missing) driven by `playwright-core` (npm, installed under `target/browser`).
#![cfg(all(feature = "cli", feature = "deflate"))]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::status;

const PLAYWRIGHT: &str = "playwright-core@1.65.1";

/// Installs Debian's `package` with apt unless `program` exists (the package lists are
/// updated first: a fresh machine has none).
fn apt_install(program: &str, package: &str) {
    if Path::new(program).exists() {
        return;
    }
    let script =
        format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}");
    let ok = Command::new("sh").args(["-c", &script]).status().is_ok_and(|s| s.success());
    assert!(ok, "could not install Debian's {package} with apt-get");
}

/// Installs Chromium and playwright-core once per run; returns the folder with node_modules.
fn setup() -> &'static PathBuf {
    support::require_peer_tests("installs Chromium with apt and playwright-core with npm");
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        apt_install("/usr/bin/chromium", "chromium");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser");
        if !dir.join("node_modules/playwright-core/package.json").exists() {
            std::fs::create_dir_all(&dir).unwrap();
            let ok = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&dir)
                .arg(PLAYWRIGHT)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "npm install {PLAYWRIGHT} failed");
        }
        dir
    })
}

/// The echo binary; over TLS with the test certificate (`tests/certs/`) if `tls`.
fn start_echo(tls: bool) -> support::EchoProcess {
    let (cert, key) = (support::cert_path("server.pem"), support::cert_path("server.key"));
    let tls_args = ["--tls-cert", &cert, "--tls-key", &key];
    support::EchoProcess::start(if tls { &tls_args } else { &[] })
}

#[test]
#[ignore = "installs Chromium (apt, as root) and playwright-core (npm); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn the_echo_page_works_in_headless_chromium() {
    let dir = setup();
    let echo = start_echo(false);
    let addr = echo.addr();
    assert_eq!(status(&support::http(addr, "GET /nothing-here HTTP/1.1\r\nHost: t\r\n\r\n")), 404);
    page_in_chromium(dir, echo, &format!("http://{addr}/"), "echo-page.png", None);
}

/// The page over `https://` and its WebSocket over `wss://`, with Chromium trusting the test CA
/// as a user would: in its NSS database (`$HOME/.pki/nssdb`, made with NSS's `certutil` in a
/// home of its own), without `--ignore-certificate-errors`.
#[cfg(feature = "tls")]
#[test]
#[ignore = "installs Chromium and libnss3-tools (apt, as root) and playwright-core (npm); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn the_echo_page_works_over_https_in_headless_chromium() {
    let dir = setup();
    apt_install("/usr/bin/certutil", "libnss3-tools");
    let home = dir.join("home-with-test-ca");
    let nssdb = home.join(".pki/nssdb");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    let certutil = |args: &[&str]| {
        let ok = Command::new("certutil").args(args).status().unwrap();
        assert!(ok.success(), "certutil {args:?}");
    };
    certutil(&["-N", "-d", &db, "--empty-password"]);
    certutil(&["-A", "-d", &db, "-n", "syncws test CA", "-t", "C,,", "-i", &support::cert_path("ca.pem")]);
    let echo = start_echo(true);
    let port = echo.addr().port().to_string();
    page_in_chromium(dir, echo, &format!("https://localhost:{port}/"), "echo-page-https.png", Some(&home));
}

/// Loads `url` (the echo page) in headless Chromium, through every step of `browser_e2e.js`,
/// then stops `echo` with SIGTERM and checks that the page saw 1001. `home`: Chromium's home
/// (its certificate database).
fn page_in_chromium(
    dir: &Path,
    mut echo: support::EchoProcess,
    url: &str,
    screenshot: &str,
    home: Option<&Path>,
) {
    let shot = dir.join(screenshot);
    let _ = std::fs::remove_file(&shot);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/browser_e2e.js");
    let mut command = Command::new("node");
    command.arg(script).arg(url).arg(&shot).env("NODE_PATH", dir.join("node_modules"));
    if let Some(home) = home {
        command.env("HOME", home);
    }
    let mut node = command.stdout(Stdio::piped()).spawn().expect("node is needed");
    let mut steps = std::collections::HashMap::new();
    for line in BufReader::new(node.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let step = v["step"].as_str().unwrap().to_owned();
        assert_ne!(step, "fail", "browser test failed: {line}");
        if step == "shutdown-ready" {
            // Stop the server as a board owner would (SIGTERM); the page must get 1001.
            echo.signal(libc::SIGTERM);
        }
        steps.insert(step, v);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let node_status = loop {
        if let Some(s) = node.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "node did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(node_status.success(), "{steps:?}");
    assert_eq!(steps["loaded"]["status"], 200);
    assert_eq!(steps["loaded"]["title"], "syncws echo");
    assert!(steps["open"]["extensions"].as_str().unwrap().starts_with("permessage-deflate"), "{steps:?}");
    for step in ["text", "binary", "large"] {
        assert_eq!(steps[step]["ok"], true, "{step}");
    }
    assert_eq!(
        (steps["closed"]["code"].as_u64(), steps["closed"]["wasClean"].as_bool()),
        (Some(1000), Some(true))
    );
    assert_eq!(steps["shutdown"]["code"], 1001, "{:?}", steps["shutdown"]);
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "screenshot written");
    assert!(echo.wait_exit(Duration::from_secs(10)).success(), "syncws-echo exits 0 after SIGTERM");
}

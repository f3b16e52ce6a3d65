//! A network namespace made by a test: a veth pair with one end in the namespace, addresses on
//! a /24 of their own, nftables rules inside the namespace, and sockets opened in it from a
//! thread that joined it (`setns`). Names carry the process id and a counter, so that runs and
//! tests never share one; the namespace (and with it both ends of the pair) goes when the value
//! is dropped, also when the test panics. Any failure to make it panics with the command's
//! output: these tests never skip.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Netns {
    pub name: String,
    host_if: String,
    /// The host's end of the pair (the root namespace).
    pub host_ip: Ipv4Addr,
    /// The namespace's end.
    pub ns_ip: Ipv4Addr,
    tag: String,
}

/// Runs a command; panics with its output unless it succeeds. Returns its standard output.
pub fn run(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `nft`, installed with apt if missing (the tests that call this run as root in CI).
pub fn ensure_nft() {
    if Command::new("nft").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return;
    }
    run(&["apt-get", "install", "-y", "-qq", "nftables"], None);
    run(&["nft", "--version"], None);
}

impl Netns {
    /// A namespace joined to the root namespace by a veth pair: `host_ip` is the root's end,
    /// `ns_ip` the namespace's.
    pub fn new() -> Netns {
        let ns = Netns::bare();
        let peer = format!("swn{}", ns.tag);
        // From here on, Drop removes whatever was made.
        run(&["ip", "link", "add", &ns.host_if, "type", "veth", "peer", "name", &peer], None);
        run(&["ip", "link", "set", &peer, "netns", &ns.name], None);
        run(&["ip", "addr", "add", &format!("{}/24", ns.host_ip), "dev", &ns.host_if], None);
        run(&["ip", "link", "set", &ns.host_if, "up"], None);
        run(&["ip", "-n", &ns.name, "addr", "add", &format!("{}/24", ns.ns_ip), "dev", &peer], None);
        run(&["ip", "-n", &ns.name, "link", "set", &peer, "up"], None);
        ns
    }

    /// Two namespaces joined by a veth pair and nothing else: `(a, b)`, whose addresses are
    /// `a.ns_ip` and `b.ns_ip` (their `host_ip` is unused). Rules in each one's input hook
    /// then act on what arrives on the wire, both ways.
    pub fn pair() -> (Netns, Netns) {
        let (a, mut b) = (Netns::bare(), Netns::bare());
        b.ns_ip = a.host_ip;
        let (if_a, if_b) = (format!("swa{}", a.tag), format!("swb{}", a.tag));
        run(
            &[
                "ip", "link", "add", &if_a, "netns", &a.name, "type", "veth", "peer", "name", &if_b, "netns",
                &b.name,
            ],
            None,
        );
        for (ns, dev) in [(&a, &if_a), (&b, &if_b)] {
            run(&["ip", "-n", &ns.name, "addr", "add", &format!("{}/24", ns.ns_ip), "dev", dev], None);
            run(&["ip", "-n", &ns.name, "link", "set", dev, "up"], None);
        }
        (a, b)
    }

    /// A namespace with its loopback up and no other link.
    fn bare() -> Netns {
        ensure_nft();
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // Interface names have at most 15 bytes.
        let tag = format!("{:x}{n}", pid & 0xff_ffff);
        let (x, y) = (213 + (n % 40) as u8, (pid % 251) as u8);
        let ns = Netns {
            name: format!("syncws-f{tag}"),
            host_if: format!("swh{tag}"),
            host_ip: Ipv4Addr::new(10, x, y, 1),
            ns_ip: Ipv4Addr::new(10, x, y, 2),
            tag,
        };
        run(&["ip", "netns", "add", &ns.name], None);
        run(&["ip", "-n", &ns.name, "link", "set", "lo", "up"], None);
        ns
    }

    /// Loads an nftables script inside the namespace.
    pub fn nft(&self, script: &str) -> String {
        run(&["ip", "netns", "exec", &self.name, "nft", "-f", "-"], Some(script))
    }

    /// `nft ARGS...` inside the namespace.
    pub fn nft_cmd(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", &self.name, "nft"];
        all.extend_from_slice(args);
        run(&all, None)
    }

    /// A counter of the namespace's TCP statistics (`/proc/net/snmp`, e.g. `RetransSegs`).
    pub fn tcp_stat(&self, name: &str) -> u64 {
        let snmp = run(&["ip", "netns", "exec", &self.name, "cat", "/proc/net/snmp"], None);
        tcp_stat_of(&snmp, name)
    }

    /// Runs `f` on a thread that joined the namespace: the sockets it opens live there (a
    /// server bound there accepts there; its threads need not stay in the namespace).
    pub fn inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns on a descriptor we own, for this thread only (CLONE_NEWNET).
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
    }
}

fn tcp_stat_of(snmp: &str, name: &str) -> u64 {
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap(), tcp.next().unwrap());
    let i = names.split_whitespace().position(|n| n == name).unwrap_or_else(|| panic!("no {name}"));
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
        // Deleting the namespace deletes the pair; this is for a half-made one.
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).stderr(Stdio::null()).status();
    }
}

//! Stopping a server: `wait` with a `Stopper`, and a shutdown that must end even when the
//! process can open no new socket. Its own test binary, as it lowers the process's file
//! descriptor limit; its tests take turns for the same reason.

mod support;

use std::fs::File;
use std::time::Duration;

use support::{http, start, status};
use syncws::{Config, Server};

/// Held by each test: one lowers the descriptor limit of the whole process.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Lowers the soft limit of open files to what is open now plus `spare`; returns the old one.
#[allow(unsafe_code)]
fn limit_open_files(spare: u64) -> libc::rlimit {
    let open = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(64) as u64;
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the rlimit structs passed by reference.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
        let new = libc::rlimit { rlim_cur: open + spare, rlim_max: old.rlim_max };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &new), 0);
    }
    old
}

#[allow(unsafe_code)]
fn restore_open_files(old: &libc::rlimit) {
    // SAFETY: as above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, old) };
}

#[test]
fn shutdown_ends_when_no_socket_can_be_opened() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = start(Server::new(Config::default()));
    // Make sure the listener is waiting for the next connection (a thread that reaches
    // accept(2) only once no descriptor is left gets EMFILE at once instead of waiting).
    assert_eq!(status(&http(server.local_addr(), "GET /x HTTP/1.1\r\nHost: t\r\n\r\n")), 404);
    std::thread::sleep(Duration::from_millis(200));
    let old = limit_open_files(16);
    // Use up every descriptor left (bounded by the limit just set).
    let mut held = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        held.push(f);
        assert!(held.len() < 100, "the limit did not take");
    }
    assert!(std::net::TcpStream::connect(server.local_addr()).is_err(), "no socket can be opened now");
    let (done_tx, done) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let left = server.shutdown();
        let _ = done_tx.send(left);
    });
    let ended = done.recv_timeout(Duration::from_secs(10));
    drop(held);
    restore_open_files(&old);
    assert_eq!(ended, Ok(0), "shutdown did not return");
}

#[test]
fn wait_serves_until_a_stopper_fires_then_closes_sessions_with_1001() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (server, events) = support::recording(Config::default());
    let mut client = support::Client::connect(server.local_addr(), "/echo");
    client.send_text("before");
    assert_eq!(client.read_data().unwrap().text(), "before");
    let stopper = server.stopper();
    let late = server.stopper();
    let (done_tx, done) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = done_tx.send(server.wait());
    });
    assert!(done.recv_timeout(Duration::from_millis(300)).is_err(), "wait returned before a stop");
    // From another thread, twice.
    std::thread::spawn(move || {
        stopper.stop();
        stopper.stop();
    });
    assert_eq!(client.expect_close().0, 1001);
    client.send_close(1001, "");
    assert_eq!(done.recv_timeout(Duration::from_secs(10)), Ok(0), "wait did not return");
    assert_eq!(support::close_event(&events).code.as_u16(), 1001);
    // After the server is gone, a stop does nothing, and raises no SIGPIPE even where SIGPIPE
    // would end the process (as in C programs, or after `signal(SIGPIPE, SIG_DFL)`).
    let old = set_sigpipe(libc::SIG_DFL);
    late.stop();
    late.stop();
    set_sigpipe(old);
}

/// Sets what SIGPIPE does; returns what it did.
#[allow(unsafe_code)]
fn set_sigpipe(action: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: sets a signal's disposition to a value `signal` returned or to `SIG_DFL`.
    unsafe { libc::signal(libc::SIGPIPE, action) }
}

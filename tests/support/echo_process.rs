//! The `syncws-echo` binary as a child process: started on a free port, its address read from
//! the line it logs, signalled, waited for, sampled, and killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::ProcessSample;

/// The binary that the tests run: `SYNCWS_ECHO_BIN` if set (`scripts/faults.sh` and
/// `scripts/soak.sh` point it at the release build), else the one cargo built for the tests.
pub fn echo_binary() -> String {
    std::env::var("SYNCWS_ECHO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_syncws-echo").to_owned())
}

/// A running `syncws-echo`, killed and reaped when dropped. It is also killed if the thread that
/// started it ends first (`PR_SET_PDEATHSIG`), so a test that aborts leaves no server behind.
pub struct EchoProcess {
    child: Child,
    addr: SocketAddr,
}

impl EchoProcess {
    /// Starts the binary with `--listen 127.0.0.1:0 --log-level info` and `args`, and waits for
    /// its "echoing on ws://ADDR/..." (or `wss://`) line. Its output is drained from then on, so
    /// that it never blocks on a full pipe.
    pub fn start(args: &[&str]) -> EchoProcess {
        let mut command = Command::new(echo_binary());
        command.args(["--listen", "127.0.0.1:0", "--log-level", "info"]).args(args);
        // SAFETY: prctl is async-signal-safe; it only sets the child's parent-death signal.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start syncws-echo");
        let mut echo = EchoProcess { child, addr: SocketAddr::from(([0, 0, 0, 0], 0)) };
        let mut lines = BufReader::new(echo.child.stdout.take().unwrap()).lines();
        for _ in 0..20 {
            let line = lines.next().expect("syncws-echo ended before it listened").unwrap();
            let url = line.split_once("echoing on ").and_then(|(_, url)| url.split_once("://"));
            if let Some((_, rest)) = url {
                echo.addr =
                    rest.split('/').next().unwrap().parse().expect("an address in the listening line");
                std::thread::spawn(move || lines.for_each(drop));
                return echo;
            }
        }
        panic!("syncws-echo printed no listening line");
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends it `signal` (`libc::SIGTERM`, ...).
    #[allow(unsafe_code)]
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill only sends a signal, to a child this value owns and has not reaped.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Its exit status if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits for it to exit; fails the test if it has not within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(Instant::now() < deadline, "syncws-echo did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its resident memory, threads and open descriptors now.
    pub fn sample(&self) -> ProcessSample {
        ProcessSample::of(&self.pid().to_string())
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

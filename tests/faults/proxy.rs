//! A fault-injecting TCP proxy owned by the tests: every chunk read from one side is written to
//! the other after `delay` plus or minus a random `jitter`, never reordered (a chunk is due no
//! sooner than the one before it), so the byte stream stays intact and only its timing changes.
//! [`Proxy::stall`] stops all forwarding while TCP stays up (no FIN, no RST), until it is
//! turned off.
//! Threads and std::net only: an acceptor, and per connection a reader and a writer each way,
//! with a bounded queue between them (at most `QUEUE` chunks of `CHUNK` bytes in flight per
//! direction). Everything stops when the proxy is dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

const CHUNK: usize = 16 * 1024;
const QUEUE: usize = 256;
/// How often blocked reads and accepts look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

pub struct Proxy {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<Vec<JoinHandle<()>>>>,
    /// Chunks forwarded, both ways, all connections.
    pub chunks: Arc<AtomicU64>,
    stalled: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Timing {
    delay: Duration,
    jitter: Duration,
    stalled: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on 127.0.0.1 and forwards every connection to `upstream` with the given delay
    /// and jitter on each direction.
    pub fn start(upstream: SocketAddr, delay: Duration, jitter: Duration) -> Proxy {
        assert!(jitter <= delay, "a chunk cannot be due before it arrived");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let chunks = Arc::new(AtomicU64::new(0));
        let stalled = Arc::new(AtomicBool::new(false));
        let timing = Timing { delay, jitter, stalled: stalled.clone() };
        let (stop2, chunks2) = (stop.clone(), chunks.clone());
        let acceptor = std::thread::spawn(move || {
            let mut threads = Vec::new();
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ u64::from(addr.port());
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(upstream) else { continue };
                        for (from, to) in [(&client, &server), (&server, &client)] {
                            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                            let (from, to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                            threads.extend(pump(
                                from,
                                to,
                                timing.clone(),
                                seed,
                                stop2.clone(),
                                chunks2.clone(),
                            ));
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("proxy accept: {e}"),
                }
            }
            threads
        });
        Proxy { addr, stop, acceptor: Some(acceptor), chunks, stalled }
    }

    /// Stops forwarding (`true`) or resumes it: what arrives meanwhile waits in the proxy's
    /// queues and the socket buffers, and goes on in order when it resumes.
    pub fn stall(&self, on: bool) {
        self.stalled.store(on, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // No let chains: rust-version is 1.85.
        if let Some(Ok(threads)) = self.acceptor.take().map(|acceptor| acceptor.join()) {
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

/// Bytes read and the time they are due on the other side; empty for the EOF.
type Chunk = (Instant, Vec<u8>);

/// One direction: a reader that stamps each chunk with its due time, a writer that waits for it.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    timing: Timing,
    mut seed: u64,
    stop: Arc<AtomicBool>,
    chunks: Arc<AtomicU64>,
) -> [JoinHandle<()>; 2] {
    let (tx, rx): (Sender<Chunk>, Receiver<Chunk>) = bounded(QUEUE);
    from.set_read_timeout(Some(POLL)).unwrap();
    let stop2 = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut last_due = Instant::now();
        let mut buf = vec![0u8; CHUNK];
        while !stop.load(Ordering::SeqCst) {
            match from.read(&mut buf) {
                Ok(n) => {
                    // xorshift: a jitter in [-jitter, +jitter]
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let span = timing.jitter.as_micros() as u64 * 2 + 1;
                    let offset = Duration::from_micros(seed % span);
                    let due = (Instant::now() + timing.delay + offset - timing.jitter).max(last_due);
                    last_due = due;
                    // An empty chunk is the EOF, forwarded in its turn.
                    if tx.send((due, buf[..n].to_vec())).is_err() || n == 0 {
                        return;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => {
                    let _ = tx.send((last_due, Vec::new()));
                    return;
                }
            }
        }
    });
    let writer = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            let (due, chunk) = match rx.recv_timeout(POLL) {
                Ok(item) => item,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            while timing.stalled.load(Ordering::SeqCst) && !stop2.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            if chunk.is_empty() {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            if to.write_all(&chunk).is_err() {
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
            chunks.fetch_add(1, Ordering::Relaxed);
        }
        let _ = to.shutdown(Shutdown::Both);
    });
    [reader, writer]
}

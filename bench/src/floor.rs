//! The floor of the thread-per-connection shape: what bare threads cost, with nothing of
//! syncws in them.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use argh::FromArgs;

use crate::servers::Result;

/// Measure RSS and memory mappings per connection of bare threads blocked on a channel (one
/// measurement per process: glibc caches the stacks of ended threads).
#[derive(FromArgs)]
#[argh(subcommand, name = "floor")]
pub struct FloorArgs {
    /// connections to simulate (default 1000)
    #[argh(option, default = "1000")]
    connections: usize,
    /// threads per connection, 1 or 2 (default 2: the read loop and the write loop)
    #[argh(option, default = "2")]
    threads: usize,
}

/// Stacks as syncws gives them: the connection thread (`Config::stack_size` default) and the
/// write loop.
const STACKS: [usize; 2] = [128 * 1024, 64 * 1024];

pub fn floor(args: FloorArgs) -> Result<()> {
    let per = args.threads.clamp(1, STACKS.len());
    let (rss, maps) = measure(args.connections.max(1), per)?;
    println!("| threads per connection | RSS per connection | memory mappings per connection |");
    println!("| --- | --- | --- |");
    println!("| {per} | {rss:.1} KiB | {maps:.2} |");
    Ok(())
}

/// Spawns `per` threads per connection, each blocked in a channel receive (as the write loop
/// waits), and returns the growth of RSS (KiB) and of mappings, per connection.
fn measure(connections: usize, per: usize) -> Result<(f64, f64)> {
    let (rss0, maps0) = (rss_kib()?, mappings()?);
    let started = Arc::new(Barrier::new(connections * per + 1));
    let mut releases = Vec::with_capacity(connections * per);
    let mut handles = Vec::with_capacity(connections * per);
    for _ in 0..connections {
        for stack in &STACKS[..per] {
            let (release, wait) = crossbeam_channel::bounded::<()>(0);
            let started = started.clone();
            handles.push(thread::Builder::new().stack_size(*stack).spawn(move || {
                started.wait();
                let _ = wait.recv();
            })?);
            releases.push(release);
        }
    }
    started.wait();
    thread::sleep(Duration::from_millis(200));
    let (rss1, maps1) = (rss_kib()?, mappings()?);
    drop(releases);
    for h in handles {
        let _ = h.join();
    }
    let n = connections as f64;
    Ok((rss1.saturating_sub(rss0) as f64 / n, maps1.saturating_sub(maps0) as f64 / n))
}

fn rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
}

fn mappings() -> Result<usize> {
    Ok(std::fs::read_to_string("/proc/self/maps")?.lines().count())
}

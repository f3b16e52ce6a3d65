//! The binaries' log: one line per record, led by a UTC timestamp, on standard output (the
//! echo server) or standard error (the client, whose standard output carries messages).
//!
//! (simple_logger prints timestamps only with the `time` crate, whose versions that it accepts
//! need a newer Rust than syncws's 1.85; this is the little that the binary needs.)

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

/// Logs records up to a level.
struct Logger {
    level: LevelFilter,
    stderr: bool,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        // One write per line, so that lines from several threads never interleave.
        let line = format!(
            "{} {:<5} [{}] {}\n",
            rfc3339(since_epoch.as_secs(), since_epoch.subsec_millis()),
            record.level(),
            record.target(),
            record.args()
        );
        if self.stderr {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        } else {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// Installs the logger for `level`, writing to standard error if `stderr`, else standard
/// output.
pub fn init(level: LevelFilter, stderr: bool) -> Result<(), String> {
    // Lives as long as the process: the log crate keeps a `'static` reference.
    log::set_logger(Box::leak(Box::new(Logger { level, stderr }))).map_err(|e| e.to_string())?;
    log::set_max_level(level);
    Ok(())
}

/// `2026-11-25T22:41:07.123Z` for a time in seconds (and milliseconds) since 1970.
fn rfc3339(secs: u64, millis: u32) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z", "a leap day");
        assert_eq!(rfc3339(1_795_646_467, 123), "2026-11-25T22:41:07.123Z");
        assert_eq!(rfc3339(4_107_542_399, 999), "2100-02-28T23:59:59.999Z", "2100 is no leap year");
    }
}

//! What the binaries' command lines share: durations, sizes and deflate levels.

use std::time::Duration;

/// Parses `30s`, `500ms`, `2m`, `1.5s` or a bare number of seconds. In integers: parsing an
/// `f64` would bring 13 KiB of tables into the board binaries.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("bad duration {s:?}: use e.g. 30s or 500ms");
    let out_of_range = || format!("duration {s:?} is out of range: at most a year");
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map_or((s, "s"), |i| s.split_at(i));
    let unit_nanos: u128 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        _ => return Err(format!("bad duration unit in {s:?}: use ms, s or m")),
    };
    let (whole, fraction) = num.split_once('.').unwrap_or((num, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(bad());
    }
    // Only digits are left: a parse error is an overflow.
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| out_of_range())? };
    let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(out_of_range)?;
    let mut scale = unit_nanos;
    for digit in fraction.bytes() {
        scale /= 10;
        nanos += u128::from(digit - b'0') * scale;
    }
    // A year is more than any timeout needs.
    if nanos > 365 * 86_400 * 1_000_000_000 {
        return Err(out_of_range());
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Parses a size: bytes, or with a binary suffix `K`, `M` or `G` (`64K` is 65536).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, shift) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 10),
        Some('M') => (&s[..s.len() - 1], 20),
        Some('G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n: usize = num.parse().map_err(|_| format!("bad size {s:?}: use bytes, or e.g. 64K or 1M"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("size {s:?} is too large"))
}

/// Parses a deflate level, 0 to 9.
pub fn parse_level(s: &str) -> Result<u32, String> {
    match s.trim().parse() {
        Ok(level) if level <= 9 => Ok(level),
        _ => Err(format!("bad deflate level {s:?}: use 0 (store) to 9 (smallest)")),
    }
}

/// A permessage-deflate window, as a power of two: 9 to 15.
pub fn parse_window_bits(s: &str) -> Result<u8, String> {
    match s.trim().parse() {
        Ok(bits) if (9..=15).contains(&bits) => Ok(bits),
        _ => Err(format!("bad deflate window {s:?}: use 9 (512 bytes) to 15 (32 KiB)")),
    }
}

/// zlib's memory level: 1 to 9.
pub fn parse_mem_level(s: &str) -> Result<u8, String> {
    match s.trim().parse() {
        Ok(level) if (1..=9).contains(&level) => Ok(level),
        _ => Err(format!("bad deflate memory level {s:?}: use 1 (least memory) to 9")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_in_integers() {
        for (text, want) in [
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("7", Duration::from_secs(7)),
            ("1.5s", Duration::from_millis(1500)),
            (".25s", Duration::from_millis(250)),
            ("0.5ms", Duration::from_micros(500)),
            ("1.000000000001s", Duration::from_secs(1)),
            ("365d", Duration::ZERO),
        ] {
            if text.ends_with('d') {
                assert!(parse_duration(text).unwrap_err().contains("unit"), "{text}");
            } else {
                assert_eq!(parse_duration(text), Ok(want), "{text}");
            }
        }
        for bad in ["", "s", "-5s", "1.2.3s", "."] {
            assert!(parse_duration(bad).unwrap_err().contains("bad duration"), "{bad:?}");
        }
        for huge in ["99999999999999999999", "999999999999999999999999999999999999999999s", "366000000s"] {
            assert!(parse_duration(huge).unwrap_err().contains("out of range"), "{huge}");
        }
        assert_eq!(parse_duration("31536000s"), Ok(Duration::from_secs(31_536_000)), "a year is allowed");
    }
}

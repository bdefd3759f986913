//! Time on the wire: epoch seconds for JSON 1.1, ISO-8601 basic for SigV4.

/// Converts a UTC calendar date to days since 1970-01-01 (proleptic Gregorian).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Converts days since 1970-01-01 to a (year, month, day) UTC date.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// Parses SigV4's `YYYYMMDDTHHMMSSZ` into epoch seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86400 + h * 3600 + mi * 60 + se)
}

/// Parses ISO-8601 `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or a bare date) into epoch seconds, as
/// filters that take a time as text give it.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T').unwrap_or((s, "00:00:00"));
    let time = time.split('.').next()?;
    let compact = format!("{}T{}Z", date.replace('-', ""), time.replace(':', ""));
    parse_amz_date(&compact)
}

/// Formats epoch seconds as SigV4's `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(epoch: i64) -> String {
    let (y, m, d) = civil_from_days(epoch.div_euclid(86400));
    let s = epoch.rem_euclid(86400);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Formats epoch seconds as ISO-8601 extended (`2024-01-02T03:04:05Z`).
pub fn format_iso8601(epoch: i64) -> String {
    let (y, m, d) = civil_from_days(epoch.div_euclid(86400));
    let s = epoch.rem_euclid(86400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Milliseconds since the epoch as the fractional seconds JSON 1.1 puts on the wire.
pub fn epoch_seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_parse_with_and_without_time() {
        assert_eq!(parse_iso8601("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(parse_iso8601("1970-01-02"), Some(86_400));
        assert_eq!(parse_iso8601("1970-01-02T00:00:01.250Z"), Some(86_401));
        assert_eq!(parse_iso8601("yesterday"), None);
    }

    #[test]
    fn amz_dates_round_trip() {
        for (text, epoch) in
            [("19700101T000000Z", 0), ("20240229T235959Z", 1709251199), ("20261128T064500Z", 1795848300)]
        {
            assert_eq!(parse_amz_date(text), Some(epoch), "{text}");
            assert_eq!(format_amz_date(epoch), text);
        }
    }

    #[test]
    fn malformed_amz_dates_are_refused() {
        for bad in ["", "2024-01-01T00:00:00Z", "20241301T000000Z", "2024010xT000000Z", "20240101T000000"] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}

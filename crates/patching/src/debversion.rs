//! Debian version order (`[epoch:]upstream[-revision]`), as dpkg compares versions: the epoch
//! as a number, then upstream and revision each in alternating runs of non-digits and
//! digits, where `~` sorts before anything (even the end) and letters before other signs.

use std::cmp::Ordering;

/// Compares two Debian version strings.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb).then_with(|| compare_part(ua, ub)).then_with(|| compare_part(ra, rb))
}

fn split(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
        _ => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// Weight of one non-digit character: `~` lowest, the end next, letters, then the rest.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // The non-digit run.
        loop {
            let ca = a.first().copied().filter(|c| !c.is_ascii_digit());
            let cb = b.first().copied().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let (wa, wb) = (weight(ca), weight(cb));
            if wa != wb {
                return wa.cmp(&wb);
            }
            a = &a[ca.map_or(0, |_| 1)..];
            b = &b[cb.map_or(0, |_| 1)..];
        }
        // The digit run, as a number (leading zeros do not count).
        let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
        let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let na = trim_zeros(&a[..da]);
        let nb = trim_zeros(&b[..db]);
        let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if order != Ordering::Equal {
            return order;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

/// A run of digits without its leading zeros (both version orders compare numbers so).
pub(crate) fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[start..]
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn orders_as_dpkg() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~~", "1.0~", Less),
            ("1:0.9", "2.0", Greater),
            ("2.0-1", "2.0-2", Less),
            ("2.0-1ubuntu1", "2.0-1", Greater),
            ("2.0-1+deb12u1", "2.0-1", Greater),
            ("1.0a", "1.0+", Less),
            ("1.002", "1.2", Equal),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
            ("0:1.0", "1.0", Equal),
            ("1.0", "1.0.0", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}

//! RPM version order (`[epoch:]version-release`), as rpm compares EVRs: the epoch as a number,
//! then version and release segment by segment — runs of digits as numbers, runs of letters
//! as text, a digit run newer than a letter run; `~` sorts before anything (even the end) and
//! `^` after the end but before anything else; other signs only separate.

use std::cmp::Ordering;

use crate::debversion::trim_zeros;

/// Compares two RPM `[epoch:]version[-release]` strings.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    ea.cmp(&eb).then_with(|| segments(va, vb)).then_with(|| segments(ra, rb))
}

fn split(evr: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match evr.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
        _ => (0, evr),
    };
    match rest.rsplit_once('-') {
        Some((version, release)) => (epoch, version, release),
        None => (epoch, rest, ""),
    }
}

fn segments(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.first().is_some_and(separator) {
            a = &a[1..];
        }
        while b.first().is_some_and(separator) {
            b = &b[1..];
        }
        // Tilde: older than anything, the end included.
        match (a.first() == Some(&b'~'), b.first() == Some(&b'~')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // Caret: newer than the end, older than anything else.
        match (a.first() == Some(&b'^'), b.first() == Some(&b'^')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => return if b.is_empty() { Ordering::Greater } else { Ordering::Less },
            (false, true) => return if a.is_empty() { Ordering::Less } else { Ordering::Greater },
            _ => {}
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter().take_while(|c| if numeric { c.is_ascii_digit() } else { c.is_ascii_alphabetic() }).count()
        };
        let (la, lb) = (run(a), run(b));
        if lb == 0 {
            // Different kinds of run: digits are newer than letters.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (sa, sb) = (&a[..la], &b[..lb]);
        let order = if numeric {
            let (ta, tb) = (trim_zeros(sa), trim_zeros(sb));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if order != Ordering::Equal {
            return order;
        }
        a = &a[la..];
        b = &b[lb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        _ => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn orders_as_rpm() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p2", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0", "1.0.a", Less),
            ("a", "1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.01", "1.1", Equal),
            ("1:1.0-1", "2.0-1", Greater),
            ("0:2.9-1.el9", "2.9-1.el9", Equal),
            ("3.0.7-24.el9", "3.0.7-25.el9", Less),
            ("4.18.0-513.5.1.el8_9", "4.18.0-513.11.1.el8_9", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}

//! Schedule expressions as State Manager and maintenance windows read them:
//! `cron(minutes hours day-of-month month day-of-week year)`, `rate(N unit)` and
//! `at(yyyy-mm-ddThh:mm:ss)`, evaluated in an IANA time zone.
//!
//! Cron fields take `*`, lists (`,`), ranges (`-`), increments (`/`), month and weekday
//! names (`JAN`, `MON`; weekday 1 is Sunday), and in the day fields `?` (one of the two
//! must be `?`), `L` (last day of the month, `L-3`; in day-of-week `6L`, the last Friday),
//! `W` (`15W`, the weekday nearest the 15th; `LW`) and `#` (`2#1`, the first Monday).

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `cron(…)`.
    Cron(Box<Cron>),
    /// `rate(N minutes|hours|days)`: every `seconds`, counted from an anchor.
    Rate {
        /// The period.
        seconds: i64,
    },
    /// `at(…)`: once, at this local time.
    At(DateTime),
}

/// The six fields of a cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    day_of_month: DayOfMonth,
    months: u16,
    day_of_week: DayOfWeek,
    years: Vec<(i16, i16, i16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    Any,
    Days(u32),
    Last { before: i8 },
    NearestWeekday(i8),
    LastWeekday,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    Any,
    Days(u8),
    Last(i8),
    Nth { day: i8, n: i8 },
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn number(text: &str, names: &[&str], base: i64) -> Result<i64, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i as i64 + base);
    }
    text.parse::<i64>().map_err(|_| format!("'{text}' is not a number"))
}

/// The values a plain field allows, as a bitset over `lo..=hi`.
fn field(text: &str, lo: i64, hi: i64, names: &[&str], base: i64, what: &str) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: i64 = s.parse().map_err(|_| format!("the increment in {what} '{item}' is not a number"))?;
                if step < 1 {
                    return Err(format!("the increment in {what} '{item}' must be at least 1"));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (from, to) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a, names, base)?, number(b, names, base)?)
        } else {
            let a = number(range, names, base)?;
            (a, if item.contains('/') { hi } else { a })
        };
        if from < lo || to > hi || from > to {
            return Err(format!("{what} '{item}' is outside {lo}-{hi}"));
        }
        let mut v = from;
        while v <= to {
            set |= 1 << (v - lo);
            v += step;
        }
    }
    Ok(set)
}

fn day_of_month(text: &str) -> Result<DayOfMonth, String> {
    match text {
        "?" => return Ok(DayOfMonth::Any),
        "L" => return Ok(DayOfMonth::Last { before: 0 }),
        "LW" => return Ok(DayOfMonth::LastWeekday),
        _ => {}
    }
    if let Some(n) = text.strip_prefix("L-") {
        let before: i8 = n.parse().map_err(|_| format!("day-of-month '{text}' is not valid"))?;
        if !(0..=30).contains(&before) {
            return Err(format!("day-of-month '{text}' is outside L-0 to L-30"));
        }
        return Ok(DayOfMonth::Last { before });
    }
    if let Some(n) = text.strip_suffix('W') {
        let day: i8 = n.parse().map_err(|_| format!("day-of-month '{text}' is not valid"))?;
        if !(1..=31).contains(&day) {
            return Err(format!("day-of-month '{text}' is outside 1-31"));
        }
        return Ok(DayOfMonth::NearestWeekday(day));
    }
    Ok(DayOfMonth::Days(field(text, 1, 31, &[], 1, "day-of-month")? as u32))
}

fn day_of_week(text: &str) -> Result<DayOfWeek, String> {
    if text == "?" {
        return Ok(DayOfWeek::Any);
    }
    if let Some(d) = text.strip_suffix('L').filter(|d| !d.is_empty()) {
        let day = number(d, &WEEKDAYS, 1)?;
        if !(1..=7).contains(&day) {
            return Err(format!("day-of-week '{text}' is outside 1-7"));
        }
        return Ok(DayOfWeek::Last(day as i8));
    }
    if let Some((d, n)) = text.split_once('#') {
        let day = number(d, &WEEKDAYS, 1)?;
        let n: i64 = n.parse().map_err(|_| format!("day-of-week '{text}' is not valid"))?;
        if !(1..=7).contains(&day) || !(1..=5).contains(&n) {
            return Err(format!("day-of-week '{text}' must be DAY#N with DAY 1-7 and N 1-5"));
        }
        return Ok(DayOfWeek::Nth { day: day as i8, n: n as i8 });
    }
    if text == "L" {
        return Ok(DayOfWeek::Days(1 << 6)); // L alone: the last day of the week, Saturday
    }
    Ok(DayOfWeek::Days(field(text, 1, 7, &WEEKDAYS, 1, "day-of-week")? as u8))
}

fn years(text: &str) -> Result<Vec<(i16, i16, i16)>, String> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                (r, s.parse::<i16>().ok().filter(|s| *s >= 1).ok_or(format!("year '{item}' is not valid"))?)
            }
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (1970, 2199),
            r => match r.split_once('-') {
                Some((a, b)) => (
                    a.parse().map_err(|_| format!("year '{item}' is not valid"))?,
                    b.parse().map_err(|_| format!("year '{item}' is not valid"))?,
                ),
                None => {
                    let y: i16 = r.parse().map_err(|_| format!("year '{item}' is not valid"))?;
                    (y, if item.contains('/') { 2199 } else { y })
                }
            },
        };
        if from < 1970 || to > 2199 || from > to {
            return Err(format!("year '{item}' is outside 1970-2199"));
        }
        out.push((from, to, step));
    }
    Ok(out)
}

impl Schedule {
    /// Parses an expression; the error says what is wrong.
    pub fn parse(expression: &str) -> Result<Schedule, String> {
        let expression = expression.trim();
        if let Some(body) = expression.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
            let parts: Vec<&str> = body.split_whitespace().collect();
            let parts: Vec<&str> = match parts.len() {
                6 => parts,
                5 => parts.into_iter().chain(["*"]).collect(),
                n => {
                    return Err(format!(
                        "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), not {n}"
                    ))
                }
            };
            let dom = day_of_month(parts[2])?;
            let dow = day_of_week(parts[4])?;
            match (&dom, &dow) {
                (DayOfMonth::Any, DayOfWeek::Any) => {
                    return Err("day-of-month and day-of-week cannot both be '?'".into())
                }
                (DayOfMonth::Any, _) | (_, DayOfWeek::Any) => {}
                _ => return Err("one of day-of-month and day-of-week must be '?'".into()),
            }
            return Ok(Schedule::Cron(Box::new(Cron {
                minutes: field(parts[0], 0, 59, &[], 0, "minutes")?,
                hours: field(parts[1], 0, 23, &[], 0, "hours")? as u32,
                day_of_month: dom,
                months: field(parts[3], 1, 12, &MONTHS, 1, "month")? as u16,
                day_of_week: dow,
                years: years(parts[5])?,
            })));
        }
        if let Some(body) = expression.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            let (n, unit) = body.trim().split_once(' ').ok_or("a rate is rate(N unit)")?;
            let n: i64 = n.parse().map_err(|_| format!("'{n}' is not a whole number"))?;
            if n < 1 {
                return Err("a rate must be at least 1".into());
            }
            let unit_seconds = match unit.trim() {
                "minute" | "minutes" => 60,
                "hour" | "hours" => 3600,
                "day" | "days" => 86_400,
                other => return Err(format!("'{other}' is not a unit: use minutes, hours or days")),
            };
            return Ok(Schedule::Rate { seconds: n * unit_seconds });
        }
        if let Some(body) = expression.strip_prefix("at(").and_then(|r| r.strip_suffix(')')) {
            let at: DateTime = body.trim().parse().map_err(|_| format!("'{body}' is not yyyy-mm-ddThh:mm:ss"))?;
            return Ok(Schedule::At(at));
        }
        Err(format!("'{expression}' is not cron(…), rate(…) or at(…)"))
    }

    /// The first run strictly after `after`, for a schedule anchored at `anchor` (rates count
    /// from it), in `zone`. `None` when there is none (a past `at`, years exhausted).
    pub fn next_after(&self, after: Timestamp, anchor: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::Rate { seconds } => {
                let elapsed = after.as_second() - anchor.as_second();
                let periods = if elapsed < 0 { 0 } else { elapsed / seconds + 1 };
                Timestamp::from_second(anchor.as_second() + periods * seconds).ok()
            }
            Schedule::At(at) => {
                let t = zone.to_ambiguous_zoned(*at).compatible().ok()?.timestamp();
                (t > after).then_some(t)
            }
            Schedule::Cron(cron) => cron.next_after(after, zone),
        }
    }

    /// [`Schedule::next_after`] in epoch milliseconds, with a cron run moved `offset_days`
    /// later (ScheduleOffset: "the second Thursday, plus two days").
    pub fn next_run_millis(&self, after_ms: i64, anchor_ms: i64, zone: &TimeZone, offset_days: i64) -> Option<i64> {
        let offset_ms = match self {
            Schedule::Cron(_) => offset_days * 86_400_000,
            _ => 0,
        };
        let after = Timestamp::from_millisecond(after_ms - offset_ms).ok()?;
        let anchor = Timestamp::from_millisecond(anchor_ms).ok()?;
        Some(self.next_after(after, anchor, zone)?.as_millisecond() + offset_ms)
    }
}

impl Cron {
    fn year_ok(&self, year: i16) -> bool {
        self.years.iter().any(|(from, to, step)| year >= *from && year <= *to && (year - from) % step == 0)
    }

    fn day_ok(&self, date: Date) -> bool {
        if self.months & (1 << (date.month() - 1)) == 0 || !self.year_ok(date.year()) {
            return false;
        }
        let last = date.last_of_month().day();
        let weekday = date.weekday().to_sunday_one_offset();
        let dom = match &self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(set) => set & (1 << (date.day() - 1)) != 0,
            DayOfMonth::Last { before } => date.day() == last - before,
            DayOfMonth::NearestWeekday(day) => Some(date.day()) == nearest_weekday(date, *day),
            DayOfMonth::LastWeekday => Some(date.day()) == nearest_weekday(date, last),
        };
        let dow = match &self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(set) => set & (1 << (weekday - 1)) != 0,
            DayOfWeek::Last(day) => weekday == *day && date.day() + 7 > last,
            DayOfWeek::Nth { day, n } => weekday == *day && (date.day() - 1) / 7 + 1 == *n,
        };
        dom && dow
    }

    fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(zone.clone());
        let mut date = local.date();
        // Ten years of days at most: `cron(0 0 29 2 ? *)` needs four.
        for _ in 0..3700 {
            if date.year() > 2199 {
                return None;
            }
            if self.day_ok(date) {
                for hour in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                    for minute in (0..60).filter(|m| self.minutes & (1u64 << m) != 0) {
                        let civil = date.at(hour, minute, 0, 0);
                        // A time skipped by a DST change runs at the first instant after it.
                        let Ok(zoned) = zone.to_ambiguous_zoned(civil).compatible() else { continue };
                        if zoned.timestamp() > after {
                            return Some(zoned.timestamp());
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// The weekday nearest `day` within `date`'s month (Saturday → Friday, Sunday → Monday,
/// never crossing into another month).
fn nearest_weekday(date: Date, day: i8) -> Option<i8> {
    let last = date.last_of_month().day();
    if day > last {
        return None;
    }
    let target = date.with().day(day).build().ok()?;
    Some(match target.weekday() {
        Weekday::Saturday if day == 1 => 3,
        Weekday::Saturday => day - 1,
        Weekday::Sunday if day == last => day - 2,
        Weekday::Sunday => day + 1,
        _ => day,
    })
}

/// The time zone of an IANA name (`None` if unknown); `UTC` when no name is given.
pub fn zone(name: Option<&str>) -> Option<TimeZone> {
    match name {
        None | Some("") | Some("UTC") | Some("Etc/UTC") => Some(TimeZone::UTC),
        Some(name) => TimeZone::get(name).ok(),
    }
}

/// A local time in `zone` for display.
pub fn local(t: Timestamp, zone: &TimeZone) -> Zoned {
    t.to_zoned(zone.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_move_cron_runs_by_days_and_rates_not_at_all() {
        // The second Thursday of December 2026 is the 10th; two days later is Saturday the 12th.
        let cron = Schedule::parse("cron(0 3 ? * THU#2 *)").unwrap();
        let after = ts("2026-11-28T00:00:00Z").as_millisecond();
        let next = cron.next_run_millis(after, after, &TimeZone::UTC, 2).unwrap();
        assert_eq!(Timestamp::from_millisecond(next).unwrap(), ts("2026-12-12T03:00:00Z"));
        // Between the cron time and the offset run, the pending run is still the offset one.
        let between = ts("2026-12-11T00:00:00Z").as_millisecond();
        assert_eq!(cron.next_run_millis(between, after, &TimeZone::UTC, 2), Some(next));
        let rate = Schedule::parse("rate(30 minutes)").unwrap();
        assert_eq!(rate.next_run_millis(after, after, &TimeZone::UTC, 2), Some(after + 1_800_000));
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(expr: &str, after: &str, tz: &str) -> String {
        let zone = zone(Some(tz)).unwrap();
        let schedule = Schedule::parse(expr).unwrap();
        match schedule.next_after(ts(after), ts(after), &zone) {
            Some(t) => t.to_string(),
            None => "none".into(),
        }
    }

    #[test]
    fn next_runs() {
        for (expr, after, tz, expected) in [
            ("cron(0 2 ? * * *)", "2026-11-28T10:00:00Z", "UTC", "2026-11-29T02:00:00Z"),
            ("cron(0/15 * * * ? *)", "2026-11-28T10:07:00Z", "UTC", "2026-11-28T10:15:00Z"),
            ("cron(30 1 ? * SUN *)", "2026-11-28T10:00:00Z", "UTC", "2026-11-29T01:30:00Z"),
            ("cron(0 4 ? * MON-FRI *)", "2026-11-28T10:00:00Z", "UTC", "2026-11-30T04:00:00Z"),
            ("cron(0 0 L * ? *)", "2026-02-03T00:00:00Z", "UTC", "2026-02-28T00:00:00Z"),
            ("cron(0 0 L-2 * ? *)", "2026-02-03T00:00:00Z", "UTC", "2026-02-26T00:00:00Z"),
            ("cron(0 0 LW * ? *)", "2026-05-01T00:00:00Z", "UTC", "2026-05-29T00:00:00Z"),
            ("cron(0 0 15W * ? *)", "2026-11-01T00:00:00Z", "UTC", "2026-11-16T00:00:00Z"),
            ("cron(0 0 1W * ? *)", "2026-07-31T00:00:00Z", "UTC", "2026-08-03T00:00:00Z"),
            ("cron(0 9 ? * 2#1 *)", "2026-11-28T10:00:00Z", "UTC", "2026-12-07T09:00:00Z"),
            ("cron(0 9 ? * 6L *)", "2026-11-28T10:00:00Z", "UTC", "2026-12-25T09:00:00Z"),
            ("cron(0 0 29 2 ? *)", "2026-03-01T00:00:00Z", "UTC", "2028-02-29T00:00:00Z"),
            ("cron(0 12 1 JAN,JUL ? 2027)", "2026-11-28T10:00:00Z", "UTC", "2027-01-01T12:00:00Z"),
            ("cron(0 12 1 1 ? 2025)", "2026-11-28T10:00:00Z", "UTC", "none"),
            // Time zones: 02:00 in New York is 07:00 UTC in winter, 06:00 in summer.
            ("cron(0 2 ? * * *)", "2026-11-28T10:00:00Z", "America/New_York", "2026-11-29T07:00:00Z"),
            ("cron(0 2 ? * * *)", "2026-06-01T10:00:00Z", "America/New_York", "2026-06-02T06:00:00Z"),
            // 02:30 does not exist on 2026-03-08 in New York: it runs at 03:30 EDT (07:30Z).
            ("cron(30 2 ? * * *)", "2026-03-08T05:00:00Z", "America/New_York", "2026-03-08T07:30:00Z"),
            // 01:30 happens twice on 2026-11-01: the first one (EDT, 05:30Z) counts.
            ("cron(30 1 ? * * *)", "2026-11-01T04:00:00Z", "America/New_York", "2026-11-01T05:30:00Z"),
            ("cron(0 9 * * ? *)", "2026-11-28T10:00:00Z", "Asia/Kolkata", "2026-11-29T03:30:00Z"),
            ("rate(30 minutes)", "2026-11-28T10:00:00Z", "UTC", "2026-11-28T10:30:00Z"),
            ("rate(1 day)", "2026-11-28T10:00:00Z", "UTC", "2026-11-29T10:00:00Z"),
            ("at(2026-12-24T18:00:00)", "2026-11-28T10:00:00Z", "Europe/Paris", "2026-12-24T17:00:00Z"),
            ("at(2020-12-24T18:00:00)", "2026-11-28T10:00:00Z", "UTC", "none"),
        ] {
            assert_eq!(next(expr, after, tz), expected, "{expr} after {after} in {tz}");
        }
    }

    #[test]
    fn rates_count_from_their_anchor() {
        let s = Schedule::parse("rate(2 hours)").unwrap();
        let anchor = ts("2026-11-28T10:05:00Z");
        let got = s.next_after(ts("2026-11-28T13:00:00Z"), anchor, &TimeZone::UTC).unwrap();
        assert_eq!(got, ts("2026-11-28T14:05:00Z"));
        assert_eq!(s.next_after(ts("2026-11-28T09:00:00Z"), anchor, &TimeZone::UTC).unwrap(), anchor);
    }

    #[test]
    fn bad_expressions_say_why() {
        for (expr, why) in [
            ("cron(0 2 * * * *)", "must be '?'"),
            ("cron(0 2 ? * ? *)", "cannot both be '?'"),
            ("cron(0 2 * *)", "6 fields"),
            ("cron(60 2 ? * * *)", "outside 0-59"),
            ("cron(0 24 ? * * *)", "outside 0-23"),
            ("cron(0 0 32 * ? *)", "outside 1-31"),
            ("cron(0 0 ? 13 * *)", "outside 1-12"),
            ("cron(0 0 ? * 8 *)", "outside 1-7"),
            ("cron(0 0 ? * 2#6 *)", "N 1-5"),
            ("cron(0/0 0 ? * * *)", "at least 1"),
            ("cron(0 0 ? * * 1969)", "1970-2199"),
            ("cron(x 0 ? * * *)", "not a number"),
            ("rate(0 minutes)", "at least 1"),
            ("rate(5 weeks)", "not a unit"),
            ("rate(five minutes)", "whole number"),
            ("at(2026-13-01T00:00:00)", "yyyy-mm-dd"),
            ("every day", "is not cron"),
        ] {
            let err = Schedule::parse(expr).unwrap_err();
            assert!(err.contains(why), "{expr}: {err}");
        }
        assert!(zone(Some("Mars/Olympus")).is_none());
    }
}

//! Cron schedules for cleanup policies, read by `croner`: the five classic fields (minute,
//! hour, day of month, month, day of week) with `*`, numbers, names, ranges `a-b`, steps `*/n`
//! and `a-b/n`, lists, croner's `L`, `W` and `#`, and `@hourly`, `@daily`, `@weekly`,
//! `@monthly`, `@yearly`. No seconds or years field. Times are UTC. As in cron, when both the
//! day of month and the day of week are restricted, either one matching is enough.

use chrono::{DateTime, Duration, Timelike, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

#[derive(Debug, Clone)]
pub struct Schedule(Cron);

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("five fields: minute hour day-of-month month day-of-week (or @daily, @weekly)".into());
        }
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let cron = parser.parse(text).map_err(|e| {
            format!("{e} (five fields: minute hour day-of-month month day-of-week, or @daily, @weekly)")
        })?;
        let schedule = Self(cron);
        if schedule.next_after(Utc::now()).is_none() {
            return Err("never comes: no such day in the next four years (a 30 or 31 February?)".into());
        }
        Ok(schedule)
    }

    /// Whether the minute starting at `t` is one of the schedule's.
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        let minute = t - Duration::seconds(i64::from(t.second())) - Duration::nanoseconds(i64::from(t.nanosecond()));
        self.0.is_time_matching(&minute).unwrap_or(false)
    }

    /// Whether a scheduled minute came after `since` and by `now` (a run is due).
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.next_after(since).is_some_and(|next| next <= now)
    }

    /// The first scheduled minute after `t`, within the [`HORIZON_DAYS`] after it; `None` if the
    /// schedule has none there (`0 0 31 2 *`: it never comes).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = self.0.find_next_occurrence(&t, false).ok()?;
        (next <= t + Duration::days(HORIZON_DAYS)).then_some(next)
    }
}

/// How far ahead a schedule must come at least once: four years and a day hold a 29 February.
pub const HORIZON_DAYS: i64 = 4 * 366;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fields_are_read_as_cron_reads_them() {
        let s = Schedule::parse("30 3 * * 1-5").unwrap();
        assert!(s.matches(at("2026-12-02T03:30:00Z")), "a Wednesday");
        assert!(!s.matches(at("2026-12-06T03:30:00Z")), "a Sunday");
        assert!(!s.matches(at("2026-12-02T03:31:00Z")));
        let every = Schedule::parse("*/15 * * * *").unwrap();
        assert!(every.matches(at("2026-12-02T10:45:00Z")) && !every.matches(at("2026-12-02T10:44:00Z")));
        let sunday = Schedule::parse("0 4 * * 7").unwrap();
        assert!(sunday.matches(at("2026-12-06T04:00:00Z")));
        let (weekly, sundays) = (Schedule::parse("@weekly").unwrap(), Schedule::parse("0 0 * * 0").unwrap());
        for t in ["2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z", "2026-12-06T00:01:00Z"] {
            assert_eq!(weekly.matches(at(t)), sundays.matches(at(t)), "{t}");
        }
        let names = Schedule::parse("30 3 * * MON-FRI").unwrap();
        assert!(names.matches(at("2026-12-02T03:30:00Z")) && !names.matches(at("2026-12-06T03:30:00Z")));
        // Day of month or day of week, when both are given.
        let either = Schedule::parse("0 0 1 * 1").unwrap();
        assert!(either.matches(at("2026-12-01T00:00:00Z")) && either.matches(at("2026-12-07T00:00:00Z")));
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
            "@yearly-ish",
            "0 0 0 * * *",
            "0 0 * * * 2030",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
        // Days that never come are refused, not walked every minute for ever.
        for never in ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"] {
            let why = Schedule::parse(never).unwrap_err();
            assert!(why.contains("never comes"), "{never:?}: {why}");
        }
        assert!(Schedule::parse("0 0 29 2 *").is_ok(), "a leap day comes within four years");
    }

    #[test]
    fn the_next_minute_is_found_by_days() {
        let next = |s: &str, t: &str| Schedule::parse(s).unwrap().next_after(at(t));
        assert_eq!(next("0 3 * * *", "2026-12-02T03:00:10Z"), Some(at("2026-12-03T03:00:00Z")));
        assert_eq!(next("*/15 * * * *", "2026-12-02T10:44:59Z"), Some(at("2026-12-02T10:45:00Z")));
        assert_eq!(next("*/15 * * * *", "2026-12-02T10:45:00Z"), Some(at("2026-12-02T11:00:00Z")));
        assert_eq!(next("59 23 31 12 *", "2026-12-31T23:59:30Z"), Some(at("2027-12-31T23:59:00Z")));
        assert_eq!(next("0 0 29 2 *", "2026-12-02T00:00:00Z"), Some(at("2028-02-29T00:00:00Z")));
        assert_eq!(next("30 4 * * 1", "2026-12-02T12:00:00Z"), Some(at("2026-12-07T04:30:00Z")), "next Monday");
        // A schedule that never comes has no next minute.
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let never = Schedule(parser.parse("0 0 31 2 *").unwrap());
        assert_eq!(never.next_after(at("2026-12-02T00:00:00Z")), None);
    }

    #[test]
    fn a_run_is_due_once_a_scheduled_minute_has_passed() {
        let daily = Schedule::parse("0 3 * * *").unwrap();
        assert!(!daily.due(at("2026-12-02T03:00:10Z"), at("2026-12-02T23:59:00Z")), "ran at today's 03:00");
        assert!(daily.due(at("2026-12-02T03:00:10Z"), at("2026-12-03T03:00:30Z")), "tomorrow's has come");
        assert!(daily.due(at("2026-11-01T00:00:00Z"), at("2026-12-02T12:00:00Z")), "missed ones count once");
    }
}

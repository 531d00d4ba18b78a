//! Cron schedules for cleanup policies: the five classic fields (minute, hour, day of month,
//! month, day of week) with `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, and lists;
//! `@hourly`, `@daily`, `@weekly`, `@monthly`. Times are UTC. As in cron, when both the day of
//! month and the day of week are restricted, either one matching is enough.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

/// One field: which values of `min..=max` it allows, and whether it restricts at all.
fn field(text: &str, min: u32, max: u32) -> Result<(Vec<bool>, bool), String> {
    let mut allowed = vec![false; max as usize + 1];
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("{part:?}: the step is not a number"))?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("{part:?}: a step of 0"));
        }
        let (from, to) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a, min, max)?, number(b, min, max)?),
                None => {
                    let n = number(r, min, max)?;
                    (n, if part.contains('/') { max } else { n })
                }
            },
        };
        if from > to {
            return Err(format!("{part:?}: the range runs backwards"));
        }
        for v in (from..=to).step_by(step as usize) {
            allowed[v as usize] = true;
        }
    }
    Ok((allowed, text != "*"))
}

fn number(text: &str, min: u32, max: u32) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{text:?} is not from {min} to {max}"))
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = match text.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            t => t,
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [m, h, dom, mon, dow] = fields[..] else {
            return Err("five fields: minute hour day-of-month month day-of-week (or @daily, @weekly)".into());
        };
        let (minutes, _) = field(m, 0, 59)?;
        let (hours, _) = field(h, 0, 23)?;
        let (days, days_restricted) = field(dom, 1, 31)?;
        let (months, _) = field(mon, 1, 12)?;
        let (mut weekdays, weekdays_restricted) = field(dow, 0, 7)?;
        if weekdays[7] {
            weekdays[0] = true; // 7 is Sunday too
        }
        Ok(Self { minutes, hours, days, months, weekdays, days_restricted, weekdays_restricted })
    }

    /// Whether the minute starting at `t` is one of the schedule's.
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        let day = self.days[t.day() as usize];
        let weekday = self.weekdays[t.weekday().num_days_from_sunday() as usize];
        let date = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        };
        self.minutes[t.minute() as usize] && self.hours[t.hour() as usize] && self.months[t.month() as usize] && date
    }

    /// Whether a scheduled minute came after `since` and by `now` (a run is due).
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let floor = |t: DateTime<Utc>| {
            t - Duration::seconds(i64::from(t.second())) - Duration::nanoseconds(i64::from(t.nanosecond()))
        };
        let mut t = floor(since) + Duration::minutes(1);
        // A year and a day covers every schedule five fields can say.
        let end = floor(now).min(t + Duration::days(367));
        while t <= end {
            if self.matches(t) {
                return true;
            }
            t += Duration::minutes(1);
        }
        false
    }
}

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
        assert_eq!(Schedule::parse("@weekly").unwrap(), Schedule::parse("0 0 * * 0").unwrap());
        // Day of month or day of week, when both are given.
        let either = Schedule::parse("0 0 1 * 1").unwrap();
        assert!(either.matches(at("2026-12-01T00:00:00Z")) && either.matches(at("2026-12-07T00:00:00Z")));
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        for bad in ["", "* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "5-1 * * * *", "a * * * *", "@yearly-ish"]
        {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_run_is_due_once_a_scheduled_minute_has_passed() {
        let daily = Schedule::parse("0 3 * * *").unwrap();
        assert!(!daily.due(at("2026-12-02T03:00:10Z"), at("2026-12-02T23:59:00Z")), "ran at today's 03:00");
        assert!(daily.due(at("2026-12-02T03:00:10Z"), at("2026-12-03T03:00:30Z")), "tomorrow's has come");
        assert!(daily.due(at("2026-11-01T00:00:00Z"), at("2026-12-02T12:00:00Z")), "missed ones count once");
    }
}

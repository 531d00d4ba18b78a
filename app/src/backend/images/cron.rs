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
        let schedule = Self { minutes, hours, days, months, weekdays, days_restricted, weekdays_restricted };
        if schedule.next_after(Utc::now()).is_none() {
            return Err("never comes: no such day in the next four years (a 30 or 31 February?)".into());
        }
        Ok(schedule)
    }

    /// Whether the minute starting at `t` is one of the schedule's.
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        self.minutes[t.minute() as usize] && self.hours[t.hour() as usize] && self.on_date(t.date_naive())
    }

    /// Whether a scheduled minute came after `since` and by `now` (a run is due).
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.next_after(since).is_some_and(|next| next <= now)
    }

    /// The first scheduled minute after `t`, within the [`HORIZON_DAYS`] after it; `None` if the
    /// schedule has none there (`0 0 31 2 *`: it never comes). Walks days, not minutes: at most
    /// a few thousand cheap steps, whatever the schedule.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = t - Duration::seconds(i64::from(t.second())) - Duration::nanoseconds(i64::from(t.nanosecond()))
            + Duration::minutes(1);
        let first_day = start.date_naive();
        for offset in 0..=HORIZON_DAYS {
            let day = first_day + Duration::days(offset);
            if !self.on_date(day) {
                continue;
            }
            let today = offset == 0;
            for hour in (0..24u32).filter(|h| self.hours[*h as usize] && (!today || *h >= start.hour())) {
                let from = if today && hour == start.hour() { start.minute() } else { 0 };
                if let Some(minute) = (from..60).find(|m| self.minutes[*m as usize]) {
                    return day.and_hms_opt(hour, minute, 0).map(|n| n.and_utc());
                }
            }
        }
        None
    }

    fn on_date(&self, d: chrono::NaiveDate) -> bool {
        let day = self.days[d.day() as usize];
        let weekday = self.weekdays[d.weekday().num_days_from_sunday() as usize];
        let date = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        };
        self.months[d.month() as usize] && date
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
        // The walk is over days: a schedule that never comes is known at once.
        let never = Schedule { days: vec![false; 32], days_restricted: true, ..Schedule::parse("0 0 * * *").unwrap() };
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

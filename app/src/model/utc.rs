//! Times in the JSON the pages read (RFC 3339, as chrono writes them), parsed by hand:
//! chrono's own parser is its general format machinery, which would be most of what reading a
//! time adds to a page's code.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// `2026-12-02T20:30:05.123456Z`, or with an offset (`+01:00`); fractions up to nanoseconds.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let d = b.get(from..from + len)?;
        d.iter().all(u8::is_ascii_digit).then(|| d.iter().fold(0, |n, c| n * 10 + i64::from(c - b'0')))
    };
    let sep = |at: usize, any: &[u8]| b.get(at).is_some_and(|c| any.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)? as u32, num(8, 2)? as u32)?;
    let (mut at, mut nanos) = (19, 0);
    if sep(19, b".") {
        let digits = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(20, digits)? * 10_i64.pow(9 - digits as u32);
        at = 20 + digits;
    }
    let time = date.and_hms_nano_opt(num(11, 2)? as u32, num(14, 2)? as u32, num(17, 2)? as u32, nanos as u32)?;
    let offset = match b.get(at..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let minutes = num(at + 1, 2)? * 60 + num(at + 4, 2)?;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    Some(time.and_utc() - chrono::Duration::minutes(offset))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = Cow::<str>::deserialize(d)?;
    parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s}")))
}

pub fn deserialize_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<Cow<str>>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse(&s).map(Some).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s}"))),
    }
}

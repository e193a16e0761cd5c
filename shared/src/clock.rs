//! Timestamps: RFC 3339, UTC, always with milliseconds and a four-digit year,
//! so that their text order is their time order (they are used inside sort
//! keys) and every stored timestamp reads back as the instant it was.

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

pub fn now() -> String {
    // The current time always has a four-digit year.
    format(OffsetDateTime::now_utc()).unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Now, in milliseconds since the epoch: the unit of leases, which compare
/// as numbers.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `at` in UTC, or `None` when the UTC instant is outside the years 0000 to
/// 9999, which RFC 3339 cannot write (`0000-01-01T00:00:00+00:01` is such an
/// instant). No arithmetic here can panic, whatever the client sent.
pub fn format(at: OffsetDateTime) -> Option<String> {
    let utc = at.checked_to_offset(UtcOffset::UTC)?;
    if !(0..=9999).contains(&utc.year()) {
        return None;
    }
    utc.format(FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    #[test]
    fn fixed_width_utc_with_milliseconds() {
        assert_eq!(
            super::format(datetime!(2026-11-26 23:55:12.5 +10)).as_deref(),
            Some("2026-11-26T13:55:12.500Z")
        );
        assert_eq!(super::now().len(), 24);
    }

    #[test]
    fn instants_outside_four_digit_years_have_no_text() {
        assert_eq!(super::format(datetime!(0000-01-01 00:00:00 +00:01)), None);
        assert_eq!(super::format(datetime!(9999-12-31 23:59:59 -23:59)), None);
    }
}

//! Timestamps: RFC 3339, UTC, always with milliseconds, so that their text
//! order is their time order (they are used inside sort keys).

use time::macros::format_description;
use time::OffsetDateTime;

pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

pub fn format(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    #[test]
    fn fixed_width_utc_with_milliseconds() {
        assert_eq!(
            super::format(datetime!(2026-11-26 23:55:12.5 +10)),
            "2026-11-26T13:55:12.500Z"
        );
        assert_eq!(super::now().len(), 24);
    }
}

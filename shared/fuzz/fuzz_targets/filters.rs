//! Structured fuzzing of the filter grammars and the time arithmetic behind
//! them. Unstructured bytes rarely spell `9999-12-31T23:59:59-23:59`; this
//! target builds such values from components biased toward the edges (years
//! 0000, 0001, 9998 and 9999, days 0 and 31, hour 23, minute 59, second 60,
//! offsets up to ±23:59 and beyond) and checks properties, not only the
//! absence of panics. Any panic or failed assertion is a crash.
//!
//! 1. `Timestamp::parse` of RFC 3339 text: it accepts exactly the RFC 3339
//!    instants whose UTC time falls in the years 0000 to 9999; the stored
//!    text is 24 bytes, is the instant truncated to milliseconds, parses
//!    back to itself, and sorts as the instants do.
//! 2. `clock::format` of any `OffsetDateTime` built from valid components:
//!    never panics, is `Some` exactly for the UTC years 0000 to 9999, and its
//!    text parses back to the same instant (to the millisecond).
//! 3. `TransactionQuery::parse_filter` of 1-4 `transaction.postDate.*` and
//!    `account.id.eq` clauses, optionally damaged: well-formed filters are
//!    accepted exactly when every clause is valid, and whenever a query is
//!    accepted, the key range the store reads from it (as
//!    `store::finance::transactions` builds it, an empty range when its
//!    bounds cross) holds exactly the transactions every clause selects.
//! 4. User search criteria (q, firstName, lastName, email, mobile, filter)
//!    of arbitrary Unicode, added in two orders: the same ones are accepted,
//!    and the fingerprint, the plan's shape and the cursor do not depend on
//!    the order.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

use shared::filter::Clause;
use shared::finance::{Timestamp, TransactionQuery};
use shared::http::cursor::Cursor;
use shared::keys;
use shared::search::Criteria;
use shared::store::{Plan, Position};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

#[derive(Debug, Arbitrary)]
enum Case {
    Timestamps(Vec<Text3339>),
    Clock(Vec<Parts>),
    Transactions(TxnFilter),
    Users(UserSearch),
}

fuzz_target!(|case: Case| match case {
    Case::Timestamps(stamps) => timestamps(&stamps),
    Case::Clock(parts) => clock(&parts),
    Case::Transactions(filter) => transactions(&filter),
    Case::Users(search) => users(&search),
});

// ---------------------------------------------------------------------------
// Instants as numbers: nanoseconds and milliseconds since the Unix epoch.

/// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z, in seconds since the epoch.
const FIRST_SECOND: i128 = -62_167_219_200;
const END_SECOND: i128 = 253_402_300_800;
const NS_PER_MS: i128 = 1_000_000;
const MS_PER_DAY: i128 = 86_400_000;

fn storable(nanos: i128) -> bool {
    (FIRST_SECOND * 1_000_000_000..END_SECOND * 1_000_000_000).contains(&nanos)
}

fn to_ms(nanos: i128) -> i128 {
    nanos.div_euclid(NS_PER_MS)
}

/// The stored text of a millisecond instant, written here by hand (not with
/// the service's format description).
fn text_of_ms(ms: i128) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(ms * NS_PER_MS)
        .expect("a storable millisecond is a valid instant");
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

fn day_of_ms(ms: i128) -> Date {
    OffsetDateTime::from_unix_timestamp_nanos(ms * NS_PER_MS)
        .expect("a storable millisecond is a valid instant")
        .date()
}

fn first_ms_of(day: Date) -> i128 {
    to_ms(day.midnight().assume_utc().unix_timestamp_nanos())
}

/// Text the service parsed: the instant it means, in UTC, in nanoseconds.
fn reference_nanos(text: &str) -> Option<i128> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp_nanos)
}

// ---------------------------------------------------------------------------
// RFC 3339 text and dates, from components biased toward the edges.

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Year {
    Y0000,
    Y0001,
    Y1969,
    Y1970,
    Y2000,
    Y2024,
    Y9998,
    Y9999,
    /// Any four digits.
    Four(u16),
    /// Four digits and a sign, as ISO 8601's expanded years have.
    Plus(u16),
    Minus(u16),
    /// The digits of a number, unpadded: 1 to 10 of them.
    Digits(u32),
}

impl Year {
    fn render(self) -> String {
        match self {
            Year::Y0000 => "0000".into(),
            Year::Y0001 => "0001".into(),
            Year::Y1969 => "1969".into(),
            Year::Y1970 => "1970".into(),
            Year::Y2000 => "2000".into(),
            Year::Y2024 => "2024".into(),
            Year::Y9998 => "9998".into(),
            Year::Y9999 => "9999".into(),
            Year::Four(n) => format!("{:04}", n % 10_000),
            Year::Plus(n) => format!("+{:04}", n % 10_000),
            Year::Minus(n) => format!("-{:04}", n % 10_000),
            Year::Digits(n) => n.to_string(),
        }
    }
}

/// A two-digit field: one of the field's edges, any two digits, or the wrong
/// number of digits.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Two {
    Edge(u8),
    Any(u8),
    One(u8),
    Three(u16),
}

impl Two {
    fn render(self, edges: &[u8]) -> String {
        match self {
            Two::Edge(i) => format!("{:02}", edges[usize::from(i) % edges.len()]),
            Two::Any(n) => format!("{:02}", n % 100),
            Two::One(n) => (n % 10).to_string(),
            Two::Three(n) => format!("{:03}", n % 1_000),
        }
    }
}

const MONTHS: &[u8] = &[1, 2, 12, 0, 13, 6];
const DAYS: &[u8] = &[1, 28, 29, 30, 31, 0, 32];
const HOURS: &[u8] = &[0, 23, 24, 12];
const MINUTES: &[u8] = &[0, 59, 60, 1];
const SECONDS: &[u8] = &[0, 59, 60, 61];
const OFFSET_HOURS: &[u8] = &[0, 23, 24, 1, 14, 99];
const OFFSET_MINUTES: &[u8] = &[0, 59, 60, 1, 30];

#[derive(Debug, Clone, Copy, Arbitrary)]
struct DateText {
    year: Year,
    month: Two,
    day: Two,
}

impl DateText {
    fn render(&self) -> String {
        format!(
            "{}-{}-{}",
            self.year.render(),
            self.month.render(MONTHS),
            self.day.render(DAYS)
        )
    }
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Separator {
    T,
    LowerT,
    Space,
    Byte(u8),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Fraction {
    None,
    /// A dot and 0 to 9 digits of `value` (0 digits: a bare dot).
    Digits(u8, u32),
    /// All nines, 1 to 9 of them (or more).
    Nines(u8),
    Zeros(u8),
    /// Far more digits than a nanosecond has.
    Long(u8, u64),
}

impl Fraction {
    fn render(self) -> String {
        match self {
            Fraction::None => String::new(),
            Fraction::Digits(n, value) => {
                let n = usize::from(n % 10);
                let digits = format!("{value:09}");
                format!(".{}", &digits[digits.len() - n..])
            }
            Fraction::Nines(n) => format!(".{}", "9".repeat(usize::from(n % 12).max(1))),
            Fraction::Zeros(n) => format!(".{}", "0".repeat(usize::from(n % 12).max(1))),
            Fraction::Long(n, value) => format!(".{value:020}{}", "7".repeat(usize::from(n % 40))),
        }
    }
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Offset {
    Z,
    LowerZ,
    Plus(Two, Two),
    Minus(Two, Two),
    /// +23:59 and -23:59, the widest offsets RFC 3339 text can have.
    MaxEast,
    MaxWest,
    MinusZero,
    /// No colon, no minutes, or nothing at all.
    Compact(bool, u16),
    HoursOnly(bool, u8),
    Missing,
}

impl Offset {
    fn render(self) -> String {
        let sign = |east: bool| if east { '+' } else { '-' };
        match self {
            Offset::Z => "Z".into(),
            Offset::LowerZ => "z".into(),
            Offset::Plus(h, m) => format!("+{}:{}", h.render(OFFSET_HOURS), m.render(OFFSET_MINUTES)),
            Offset::Minus(h, m) => format!("-{}:{}", h.render(OFFSET_HOURS), m.render(OFFSET_MINUTES)),
            Offset::MaxEast => "+23:59".into(),
            Offset::MaxWest => "-23:59".into(),
            Offset::MinusZero => "-00:00".into(),
            Offset::Compact(east, n) => format!("{}{:04}", sign(east), n % 10_000),
            Offset::HoursOnly(east, n) => format!("{}{:02}", sign(east), n % 100),
            Offset::Missing => String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Arbitrary)]
struct Text3339 {
    date: DateText,
    separator: Separator,
    hour: Two,
    minute: Two,
    second: Two,
    fraction: Fraction,
    offset: Offset,
}

impl Text3339 {
    fn render(&self) -> String {
        let mut text = self.date.render();
        match self.separator {
            Separator::T => text.push('T'),
            Separator::LowerT => text.push('t'),
            Separator::Space => text.push(' '),
            Separator::Byte(b) => text.push(char::from(b & 0x7f)),
        }
        text.push_str(&format!(
            "{}:{}:{}{}{}",
            self.hour.render(HOURS),
            self.minute.render(MINUTES),
            self.second.render(SECONDS),
            self.fraction.render(),
            self.offset.render()
        ));
        text
    }
}

// ---------------------------------------------------------------------------
// 1. Timestamp::parse

fn timestamps(stamps: &[Text3339]) {
    let mut accepted: Vec<(Timestamp, i128)> = Vec::new();
    for stamp in stamps.iter().take(8) {
        let text = stamp.render();
        let parsed = Timestamp::parse(&text);
        let instant = reference_nanos(&text);
        assert_eq!(
            parsed.is_ok(),
            instant.is_some_and(storable),
            "{text:?}: accepted exactly when RFC 3339 in the UTC years 0000-9999 ({parsed:?}, {instant:?})"
        );
        let (Ok(stored), Some(nanos)) = (parsed, instant) else {
            continue;
        };
        let ms = to_ms(nanos);
        assert_eq!(stored.as_str().len(), 24, "{text:?} stored as {stored}");
        assert_eq!(stored.as_str(), text_of_ms(ms), "{text:?}: the instant to the millisecond, in UTC");
        let again = Timestamp::parse(stored.as_str())
            .unwrap_or_else(|e| panic!("{text:?}: its stored text {stored} is refused: {e:?}"));
        assert_eq!(again, stored, "{text:?}: the stored text parses back to itself");
        accepted.push((stored, ms));
    }
    // A date alone is not an instant.
    if let Some(stamp) = stamps.first() {
        assert!(Timestamp::parse(&stamp.date.render()).is_err());
    }
    for (a, a_ms) in &accepted {
        for (b, b_ms) in &accepted {
            assert_eq!(
                a.cmp(b),
                a_ms.cmp(b_ms),
                "{a} and {b} sort as their instants do"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 2. clock::format

/// A number: one of the field's edges, a small one, or any.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum N {
    Edge(u8),
    Small(i8),
    Any(i32),
}

impl N {
    fn get(self, edges: &[i64]) -> i64 {
        match self {
            N::Edge(i) => edges[usize::from(i) % edges.len()],
            N::Small(n) => i64::from(n),
            N::Any(n) => i64::from(n),
        }
    }
}

#[derive(Debug, Clone, Copy, Arbitrary)]
struct Parts {
    year: N,
    month: N,
    day: N,
    hour: N,
    minute: N,
    second: N,
    nanosecond: N,
    offset_hours: N,
    offset_minutes: N,
    offset_seconds: N,
}

impl Parts {
    fn build(&self) -> Option<OffsetDateTime> {
        let year = self.year.get(&[0, 1, 9998, 9999, -1, 10_000, 1970, 2024, -9999, 1969]);
        let month = self.month.get(&[1, 12, 2, 0, 13]);
        let day = self.day.get(&[1, 31, 28, 29, 30, 0, 32]);
        let hour = self.hour.get(&[0, 23, 24, 1]);
        let minute = self.minute.get(&[0, 59, 60, 1]);
        let second = self.second.get(&[0, 59, 60, 1]);
        let nanosecond = self.nanosecond.get(&[
            0,
            999_999_999,
            999_999,
            1_000_000,
            999_000_000,
            1_000_000_000,
            1,
        ]);
        let offset_hours = self.offset_hours.get(&[0, 23, -23, 24, -24, 25, -25, 26, 1, -1, 10, -10]);
        let offset_minutes = self.offset_minutes.get(&[0, 59, -59, 60, -60, 1, -1, 30]);
        let offset_seconds = self.offset_seconds.get(&[0, 59, -59, 60, 1, -1]);
        let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
        let date = Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
        let time = Time::from_hms_nano(
            u8::try_from(hour).ok()?,
            u8::try_from(minute).ok()?,
            u8::try_from(second).ok()?,
            u32::try_from(nanosecond).ok()?,
        )
        .ok()?;
        let offset = UtcOffset::from_hms(
            i8::try_from(offset_hours).ok()?,
            i8::try_from(offset_minutes).ok()?,
            i8::try_from(offset_seconds).ok()?,
        )
        .ok()?;
        Some(OffsetDateTime::new_in_offset(date, time, offset))
    }
}

fn clock(parts: &[Parts]) {
    for at in parts.iter().take(8).filter_map(Parts::build) {
        let nanos = at.unix_timestamp_nanos();
        let text = shared::clock::format(at);
        assert_eq!(
            text.is_some(),
            storable(nanos),
            "{at}: formatted exactly when its UTC year is 0000-9999 ({text:?})"
        );
        if let Some(text) = &text {
            assert_eq!(text.len(), 24, "{at} formatted as {text}");
            assert_eq!(text, &text_of_ms(to_ms(nanos)), "{at}: UTC to the millisecond");
            assert_eq!(
                reference_nanos(text),
                Some(to_ms(nanos) * NS_PER_MS),
                "{at}: {text} parses back to the same instant"
            );
            let stored = Timestamp::parse(text)
                .unwrap_or_else(|e| panic!("{at}: {text} is refused as a Timestamp: {e:?}"));
            assert_eq!(stored.as_str(), text);
        }
        // The same instant written in its own offset (when RFC 3339 can
        // write it) is stored as clock::format writes it.
        if let Ok(written) = at.format(&Rfc3339) {
            let stored = Timestamp::parse(&written).ok();
            assert_eq!(
                stored.as_ref().map(Timestamp::as_str),
                text.as_deref(),
                "{at} written as {written}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 3. Transaction filters

#[derive(Debug, Clone, Arbitrary)]
enum Value {
    Date(DateText),
    Instant(Text3339),
    Raw(String),
}

impl Value {
    fn render(&self) -> String {
        match self {
            Value::Date(date) => date.render(),
            Value::Instant(stamp) => stamp.render(),
            Value::Raw(text) => text.clone(),
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
enum AccountId {
    /// Letters, digits, `-` and `_`, `len % 65` of them (0 to 64).
    Plain(u64, u8),
    Raw(String),
}

impl AccountId {
    fn render(&self) -> String {
        const CHARS: &[u8] = b"aZ09-_";
        match self {
            AccountId::Plain(seed, len) => {
                let mut seed = *seed;
                (0..usize::from(*len % 66))
                    .map(|_| {
                        let c = CHARS[(seed % 6) as usize];
                        seed = seed.rotate_right(3) ^ 0x9e37_79b9_7f4a_7c15;
                        char::from(c)
                    })
                    .collect()
            }
            AccountId::Raw(text) => text.clone(),
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
enum TxnClause {
    Gt(Value),
    Lt(Value),
    Eq(Value),
    Bt(Value, Value),
    Account(AccountId),
    /// Any operator and values on postDate: wrong arity, unknown operator.
    PostDate(Op, Vec<Value>),
    /// A path transactions cannot be filtered on.
    Other(Path, Value),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Op {
    Gt,
    Lt,
    Eq,
    Bt,
    Ge,
    In,
    Upper,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Gt => "gt",
            Op::Lt => "lt",
            Op::Eq => "eq",
            Op::Bt => "bt",
            Op::Ge => "ge",
            Op::In => "in",
            Op::Upper => "EQ",
        }
    }
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Path {
    Amount,
    UserId,
    AccountUpper,
    PostDateLower,
    AccountName,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Amount => "transaction.amount",
            Path::UserId => "user.id",
            Path::AccountUpper => "account.ID",
            Path::PostDateLower => "transaction.postdate",
            Path::AccountName => "account.name",
        }
    }
}

impl TxnClause {
    fn clause(&self) -> Clause {
        let clause = |path: &str, op: &str, values: Vec<String>| Clause {
            path: path.into(),
            op: op.into(),
            values,
        };
        const DATE: &str = "transaction.postDate";
        match self {
            TxnClause::Gt(v) => clause(DATE, "gt", vec![v.render()]),
            TxnClause::Lt(v) => clause(DATE, "lt", vec![v.render()]),
            TxnClause::Eq(v) => clause(DATE, "eq", vec![v.render()]),
            TxnClause::Bt(a, b) => clause(DATE, "bt", vec![a.render(), b.render()]),
            TxnClause::Account(id) => clause("account.id", "eq", vec![id.render()]),
            TxnClause::PostDate(op, values) => {
                let mut values: Vec<String> = values.iter().take(3).map(Value::render).collect();
                if values.is_empty() {
                    // The grammar has no empty value list.
                    values.push(String::new());
                }
                clause(DATE, op.name(), values)
            }
            TxnClause::Other(path, v) => clause(path.name(), "eq", vec![v.render()]),
        }
    }
}

/// Where spaces go in a well-formed filter (the grammar allows them around
/// values and commas).
#[derive(Debug, Clone, Copy, Arbitrary)]
struct Spacing(u8);

impl Spacing {
    fn at(self, place: u8) -> &'static str {
        if self.0 & (1 << place) != 0 {
            " "
        } else {
            ""
        }
    }
}

/// Damage to a rendered filter: each may or may not leave it well formed.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    DropQuote(u8),
    AddSpaces(u16, u8),
    /// A backslash before the character at a position.
    Escape(u16),
    /// `\'` becomes `'`, or `'` becomes `\'`, at the n-th quote.
    ToggleEscape(u8),
    Insert(u16, char),
    Delete(u16),
    Truncate(u16),
}

fn boundary(text: &str, at: u16) -> usize {
    let n = text.chars().count() + 1;
    text.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .nth(usize::from(at) % n)
        .unwrap_or(text.len())
}

impl Mutation {
    fn apply(self, text: &mut String) {
        let quotes: Vec<usize> = text.match_indices('\'').map(|(i, _)| i).collect();
        match self {
            Mutation::DropQuote(n) if !quotes.is_empty() => {
                text.remove(quotes[usize::from(n) % quotes.len()]);
            }
            Mutation::ToggleEscape(n) if !quotes.is_empty() => {
                let at = quotes[usize::from(n) % quotes.len()];
                if at > 0 && text.as_bytes()[at - 1] == b'\\' {
                    text.remove(at - 1);
                } else {
                    text.insert(at, '\\');
                }
            }
            Mutation::DropQuote(_) | Mutation::ToggleEscape(_) => {}
            Mutation::AddSpaces(at, n) => {
                let at = boundary(text, at);
                text.insert_str(at, &" ".repeat(usize::from(n % 4) + 1));
            }
            Mutation::Escape(at) => {
                let at = boundary(text, at);
                text.insert(at, '\\');
            }
            Mutation::Insert(at, c) => {
                let at = boundary(text, at);
                text.insert(at, c);
            }
            Mutation::Delete(at) => {
                let at = boundary(text, at);
                if at < text.len() {
                    text.remove(at);
                }
            }
            Mutation::Truncate(at) => {
                let at = boundary(text, at);
                text.truncate(at);
            }
        }
    }
}

/// A posting time to test the query's range against: near a bound of the
/// filter, or near an edge of the storable years.
#[derive(Debug, Clone, Copy, Arbitrary)]
struct Sample {
    near: u8,
    delta_ms: i16,
}

#[derive(Debug, Clone, Arbitrary)]
struct TxnFilter {
    clauses: Vec<TxnClause>,
    spacing: Vec<Spacing>,
    mutations: Vec<Mutation>,
    samples: Vec<Sample>,
    /// A transaction id, in every key the range is tested with.
    id: AccountId,
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

fn render(clauses: &[Clause], spacing: &[Spacing]) -> String {
    let mut text = String::new();
    for (i, clause) in clauses.iter().enumerate() {
        let s = spacing.get(i).copied().unwrap_or(Spacing(0));
        if i > 0 {
            text.push_str(s.at(0));
            text.push(',');
            text.push_str(s.at(1));
        }
        text.push_str(&format!("{}.{}(", clause.path, clause.op));
        for (j, value) in clause.values.iter().enumerate() {
            if j > 0 {
                text.push_str(s.at(2));
                text.push(',');
                text.push_str(s.at(3));
            } else {
                text.push_str(s.at(4));
            }
            text.push('\'');
            text.push_str(&escape(value));
            text.push('\'');
        }
        text.push_str(s.at(5));
        text.push(')');
    }
    text
}

/// What a filter value means: a whole day (UTC) or an instant, which the
/// service compares at the millisecond it stores (it truncates the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Day(Date),
    At(i128),
}

fn bound(value: &str) -> Option<Bound> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    // Exactly `YYYY-MM-DD`: the parser also takes a signed year
    // (`+2024-01-15`), which the service refuses.
    let unsigned = value.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if let Ok(date) = Date::parse(value, day) {
        return unsigned.then_some(Bound::Day(date));
    }
    reference_nanos(value)
        .filter(|nanos| storable(*nanos))
        .map(|nanos| Bound::At(to_ms(nanos)))
}

fn is_record_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether the service takes a clause.
fn valid(clause: &Clause) -> bool {
    let bounds: Option<Vec<Bound>> = clause.values.iter().map(|v| bound(v)).collect();
    match (clause.path.as_str(), clause.op.as_str(), clause.values.len()) {
        ("account.id", "eq", 1) => is_record_id(&clause.values[0]),
        ("transaction.postDate", "gt" | "lt" | "eq", 1) | ("transaction.postDate", "bt", 2) => {
            bounds.is_some()
        }
        _ => false,
    }
}

/// Whether a transaction posted at `ms` is selected by one postDate clause.
fn selects(clause: &Clause, ms: i128) -> bool {
    let day = day_of_ms(ms);
    let b = |i: usize| bound(&clause.values[i]).expect("an accepted value has a meaning");
    match (clause.op.as_str(), b(0)) {
        ("gt", Bound::Day(d)) => day > d,
        ("gt", Bound::At(t)) => ms > t,
        ("lt", Bound::Day(d)) => day < d,
        ("lt", Bound::At(t)) => ms < t,
        ("eq", Bound::Day(d)) => day == d,
        ("eq", Bound::At(t)) => ms == t,
        ("bt", low) => {
            let after_low = match low {
                Bound::Day(d) => day >= d,
                Bound::At(t) => ms >= t,
            };
            let before_high = match b(1) {
                Bound::Day(d) => day <= d,
                Bound::At(t) => ms <= t,
            };
            after_low && before_high
        }
        (op, _) => panic!("an accepted clause with operator {op}"),
    }
}

/// The key range `store::finance::transactions` reads for a query, as it
/// builds it: `None` when its bounds cross and it reads nothing.
fn key_range(query: &TransactionQuery) -> Option<(String, String)> {
    let prefix = match &query.account {
        Some(account) => keys::txn_account_prefix(account.as_str()),
        None => String::new(),
    };
    let low = format!("{prefix}{}", query.from.as_deref().unwrap_or(""));
    let high = match &query.to {
        Some(to) => format!("{prefix}{to}"),
        None => keys::after_all_starting_with(&prefix),
    };
    if !low.is_empty() && low > high {
        return None;
    }
    Some((low, high))
}

fn transactions(input: &TxnFilter) {
    let generated: Vec<Clause> = input.clauses.iter().take(4).map(TxnClause::clause).collect();
    let mut text = render(&generated, &input.spacing);
    let well_formed = input.mutations.is_empty();
    for mutation in input.mutations.iter().take(3) {
        mutation.apply(&mut text);
    }
    let result = TransactionQuery::parse_filter(&text);
    let parsed = shared::filter::parse(&text);

    if well_formed {
        if generated.is_empty() {
            assert!(result.is_err(), "an empty filter is refused");
            return;
        }
        assert_eq!(
            parsed.as_ref().ok(),
            Some(&generated),
            "{text:?}: the grammar gives back the clauses it was written from"
        );
        let accounts = generated.iter().filter(|c| c.path == "account.id").count();
        let expected = generated.iter().all(valid) && accounts <= 1;
        assert_eq!(
            result.is_ok(),
            expected,
            "{text:?}: accepted exactly when every clause is valid ({result:?})"
        );
    }

    let Ok(query) = result else { return };
    let clauses = parsed.unwrap_or_else(|e| panic!("{text:?}: accepted but malformed: {e}"));
    assert!(
        clauses.iter().all(valid),
        "{text:?}: accepted with a clause the service does not take: {clauses:?}"
    );
    let account = clauses
        .iter()
        .find(|c| c.path == "account.id")
        .map(|c| c.values[0].clone());
    assert_eq!(
        query.account.as_ref().map(|a| a.as_str().to_owned()),
        account,
        "{text:?}: the account filtered on"
    );
    let dates: Vec<&Clause> = clauses
        .iter()
        .filter(|c| c.path == "transaction.postDate")
        .collect();

    // Posting times to try: either side of every bound in the filter, the
    // first and last storable milliseconds, and the input's own.
    let mut anchors: Vec<i128> = vec![
        FIRST_SECOND * 1_000,
        END_SECOND * 1_000 - 1,
        0,
    ];
    for clause in &dates {
        for value in &clause.values {
            match bound(value) {
                Some(Bound::Day(d)) => {
                    let first = first_ms_of(d);
                    anchors.extend([first, first + MS_PER_DAY - 1]);
                }
                Some(Bound::At(t)) => anchors.push(t),
                None => {}
            }
        }
    }
    let mut times: Vec<i128> = Vec::new();
    for &anchor in &anchors {
        times.extend([anchor - 1, anchor, anchor + 1]);
    }
    for sample in input.samples.iter().take(8) {
        let anchor = anchors[usize::from(sample.near) % anchors.len()];
        times.push(anchor + i128::from(sample.delta_ms));
    }
    times.retain(|ms| storable(ms * NS_PER_MS));
    times.sort_unstable();
    times.dedup();

    let range = key_range(&query);
    let id = Some(input.id.render()).filter(|id| is_record_id(id)).unwrap_or_else(|| "t1".into());
    // Accounts to store the transactions in: the one filtered on, and
    // others whose keys sort near it.
    let mut accounts: Vec<String> = vec!["acc".into(), "0".into(), "zz".into()];
    if let Some(account) = &query.account {
        let a = account.as_str();
        accounts.extend([a.to_owned(), format!("{a}-"), format!("{a}0")]);
        if a.len() > 1 {
            accounts.push(a[..a.len() - 1].to_owned());
        }
    }
    for &ms in &times {
        let posted = text_of_ms(ms);
        let wanted_by_date = dates.iter().all(|c| selects(c, ms));
        for account in &accounts {
            let key = match &query.account {
                Some(_) => keys::txn_account_key(account, &posted, &id),
                None => keys::txn_date_key(&posted, &id, "conn1"),
            };
            let read = range
                .as_ref()
                .is_some_and(|(low, high)| low.as_str() <= key.as_str() && key.as_str() <= high.as_str());
            let wanted = wanted_by_date
                && query.account.as_ref().is_none_or(|a| a.as_str() == account);
            assert_eq!(
                read, wanted,
                "{text:?}: a transaction of account {account} posted at {posted} (key {key:?}) \
                 is read: {read}, selected by the filter: {wanted}; from {:?} to {:?}, range {range:?}",
                query.from, query.to
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 4. User search criteria

/// Pieces of names: case folding, compatibility forms, marks, spaces of
/// every kind, scripts, and the characters keys are built with.
const PIECES: &[&str] = &[
    "a", "Gavin", "Belson", "José", "JOSÉ", "e\u{301}", "\u{301}", "ß", "ẞ", "SS", "Σ", "ς", "σ",
    "ﬁ", "ﬀ", "İ", "ı", "ǅ", "ŉ", "ΐ", "\u{345}", "ﷺ", "ｊｏｓｅ", "李", "김", "Анна", "Ꭰ", " ",
    "  ", "\t", "\n", "\u{3000}", "\u{a0}", "\u{200b}", "\u{feff}", "\u{1f}", "\u{0}", "'", "-",
    "@", ".", "+", "#", "~", "6", "1", "4", "0", "9", "\u{10ffff}", "\u{1d406}", "Ⅻ", "㎒",
];

#[derive(Debug, Clone, Arbitrary)]
enum Words {
    Raw(String),
    Pieces(Vec<u8>),
    /// One piece many times: around the 100-character and 400-byte limits.
    Repeat(u8, u8),
    Email(Vec<u8>, Vec<u8>, bool),
    Mobile(bool, Vec<u8>, u8),
    Uuid(u128, bool),
    Padded(Box<Words>),
}

impl Words {
    fn render(&self) -> String {
        let piece = |i: u8| PIECES[usize::from(i) % PIECES.len()];
        match self {
            Words::Raw(text) => text.clone(),
            Words::Pieces(pieces) => pieces.iter().take(12).map(|&i| piece(i)).collect(),
            Words::Repeat(i, n) => piece(*i).repeat(usize::from(*n) % 8 + 96),
            Words::Email(local, domain, upper) => {
                let local: String = local.iter().take(6).map(|&i| piece(i)).collect();
                let domain: String = domain.iter().take(4).map(|&i| piece(i)).collect();
                let email = format!("{local}@{domain}.co");
                if *upper {
                    email.to_uppercase()
                } else {
                    email
                }
            }
            Words::Mobile(plus, digits, spacing) => {
                let mut text = String::from(if *plus { "+" } else { "" });
                for (i, d) in digits.iter().take(17).enumerate() {
                    if spacing & (1 << (i % 8)) != 0 {
                        text.push(if i % 2 == 0 { ' ' } else { '-' });
                    }
                    text.push(char::from(b'0' + d % 10));
                }
                text
            }
            Words::Uuid(bits, upper) => {
                let hex = format!("{bits:032x}");
                let id = format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                );
                if *upper {
                    id.to_uppercase()
                } else {
                    id
                }
            }
            Words::Padded(inner) => format!(" \u{3000}{}\t ", inner.render()),
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
enum Param {
    Q(Words),
    FirstName(Words),
    LastName(Words),
    Email(Words),
    Mobile(Words),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum UserField {
    Id,
    Email,
    Mobile,
    FirstName,
    LastName,
    Password,
}

#[derive(Debug, Clone, Arbitrary)]
struct UserClause {
    field: UserField,
    /// `eq`, or now and then another operator.
    other_op: bool,
    values: Vec<Words>,
}

impl UserClause {
    fn clause(&self) -> Clause {
        let field = match self.field {
            UserField::Id => "id",
            UserField::Email => "email",
            UserField::Mobile => "mobile",
            UserField::FirstName => "firstName",
            UserField::LastName => "lastName",
            UserField::Password => "password",
        };
        let mut values: Vec<String> = self.values.iter().take(2).map(Words::render).collect();
        if values.is_empty() {
            values.push(String::new());
        }
        Clause {
            path: format!("user.{field}"),
            op: if self.other_op { "gt" } else { "eq" }.into(),
            values,
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
enum UserFilter {
    Clauses(Vec<UserClause>, Vec<Spacing>),
    Raw(String),
}

#[derive(Debug, Clone, Arbitrary)]
struct UserSearch {
    params: Vec<Param>,
    filter: Option<UserFilter>,
    /// How the second order differs from the first.
    rotate: u8,
    reverse: bool,
    filter_first: bool,
}

enum Item {
    Param(Param),
    Filter(String),
}

fn add(criteria: &mut Criteria, item: &Item) -> bool {
    match item {
        Item::Param(Param::Q(w)) => criteria.add_box(&w.render()).is_ok(),
        Item::Param(Param::FirstName(w)) => criteria
            .add_first_name(&w.render(), false, "firstName")
            .is_ok(),
        Item::Param(Param::LastName(w)) => criteria
            .add_last_name(&w.render(), false, "lastName")
            .is_ok(),
        Item::Param(Param::Email(w)) => criteria.add_email(&w.render()).is_ok(),
        Item::Param(Param::Mobile(w)) => criteria.add_mobile(&w.render(), "mobile").is_ok(),
        Item::Filter(text) => criteria.add_filter(text).is_ok(),
    }
}

/// The variant of a plan (`Nothing`, `Lookup`, `Streams`), from its Debug text.
fn plan_kind(plan: &Plan) -> String {
    format!("{plan:?}")
        .trim_start_matches("Plan(")
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect()
}

fn users(search: &UserSearch) {
    let params: Vec<Param> = search.params.iter().take(5).cloned().collect();
    let (filter_a, filter_b) = match &search.filter {
        None => (None, None),
        Some(UserFilter::Raw(text)) => (Some(text.clone()), Some(text.clone())),
        Some(UserFilter::Clauses(clauses, spacing)) => {
            let mut clauses: Vec<Clause> = clauses.iter().take(4).map(UserClause::clause).collect();
            let a = render(&clauses, spacing);
            clauses.reverse();
            (Some(a), Some(render(&clauses, spacing)))
        }
    };

    // The first order is the handler's: parameters as given, then the filter.
    let mut first: Vec<Item> = params.iter().cloned().map(Item::Param).collect();
    first.extend(filter_a.map(Item::Filter));
    // The second: the parameters rotated and perhaps reversed, the filter's
    // clauses reversed, and the filter perhaps first.
    let mut second: Vec<Item> = params.into_iter().map(Item::Param).collect();
    if !second.is_empty() {
        let k = usize::from(search.rotate) % second.len();
        second.rotate_left(k);
    }
    if search.reverse {
        second.reverse();
    }
    if let Some(filter) = filter_b {
        if search.filter_first {
            second.insert(0, Item::Filter(filter));
        } else {
            second.push(Item::Filter(filter));
        }
    }

    let (mut a, mut b) = (Criteria::default(), Criteria::default());
    let ok_a = first.iter().map(|item| add(&mut a, item)).fold(true, |x, y| x && y);
    let ok_b = second.iter().map(|item| add(&mut b, item)).fold(true, |x, y| x && y);
    let (plan_a, plan_b) = (Plan::of(&a), Plan::of(&b));
    let (print_a, print_b) = (a.fingerprint(), b.fingerprint());
    assert_eq!(ok_a, ok_b, "the same criteria are accepted in either order");
    if !ok_a {
        return;
    }
    assert_eq!(print_a, print_b, "the fingerprint does not depend on the order");
    assert_eq!(a.matches_nothing, b.matches_nothing);
    assert_eq!(plan_kind(&plan_a), plan_kind(&plan_b), "{plan_a:?}\n{plan_b:?}");
    assert_eq!(plan_a.stream_count(), plan_b.stream_count(), "{plan_a:?}\n{plan_b:?}");

    // A cursor the search issued in one order continues it in the other.
    let key = shared::rotation::Keyring::new(b"fuzz-cursor-key!");
    let positions = vec![Position::Start; plan_a.stream_count()];
    let issued = Cursor::new(&print_a, positions.clone()).encode(&key);
    let decoded = Cursor::decode(&issued, &key, &print_b, plan_b.stream_count())
        .unwrap_or_else(|e| panic!("a cursor of the same search was refused: {e:?}"));
    assert_eq!(decoded.positions, positions);
}

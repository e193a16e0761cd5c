//! Generators: dates, amounts, filters.

use super::*;

fn year() -> BoxedStrategy<String> {
    prop_oneof![
        3 => pick(&["0000", "0001", "0002", "1899", "1900", "1969", "1970", "2000", "2023", "2024", "2026", "9998", "9999"]),
        2 => (0u32..=9_999).prop_map(|y| format!("{y:04}")),
        1 => pick(&["10000", "-0001", "+2024", "999", "24", "２０２４", "2O24", ""]),
    ]
    .boxed()
}

fn month_day() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (1u32..=12, 1u32..=28).prop_map(|(m, d)| format!("{m:02}-{d:02}")),
        2 => pick(&["02-29", "02-30", "02-31", "04-31", "06-31", "09-31", "11-31", "12-31", "01-31", "01-01"]),
        1 => pick(&["00-01", "13-01", "01-00", "01-32", "1-1", "01-1", "001-01", "99-99"]),
    ]
    .boxed()
}

fn offset() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just("Z".to_owned()),
        1 => Just("z".to_owned()),
        4 => (any::<bool>(), 0u32..=23, 0u32..=59)
            .prop_map(|(minus, h, m)| format!("{}{h:02}:{m:02}", if minus { '-' } else { '+' })),
        2 => pick(&["+23:59", "-23:59", "+00:00", "-00:00", "+00:01", "-00:01", "+14:00", "-12:00"]),
        1 => pick(&["+24:00", "-24:00", "+23:60", "+1:00", "+0100", "+01", "", "UTC", " Z", "+01:00:00"]),
    ]
    .boxed()
}

fn time_of_day() -> BoxedStrategy<String> {
    prop_oneof![
        5 => (0u32..=23, 0u32..=59, 0u32..=59).prop_map(|(h, m, s)| format!("{h:02}:{m:02}:{s:02}")),
        1 => pick(&["00:00:00", "23:59:59", "24:00:00", "23:59:60", "23:60:00", "9:30:00", "09:30", "093000"]),
    ]
    .boxed()
}

fn fraction() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just(String::new()),
        2 => "[0-9]{1,12}".prop_map(|digits| format!(".{digits}")),
        1 => pick(&[".", ",5", ".999999999", ".9999999999"]),
    ]
    .boxed()
}

/// Dates and instants as a client may write them: `YYYY-MM-DD`, RFC 3339
/// with every offset from -23:59 to +23:59, the years 0000 and 9999, leap
/// days, days that do not exist, and garbage.
pub(crate) fn date() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (year(), month_day()).prop_map(|(y, md)| format!("{y}-{md}")),
        5 => (
            year(),
            month_day(),
            prop_oneof![6 => Just("T"), 1 => Just("t"), 1 => Just(" "), 1 => Just("_")],
            time_of_day(),
            fraction(),
            offset(),
        )
            .prop_map(|(y, md, t, time, fraction, offset)| format!("{y}-{md}{t}{time}{fraction}{offset}")),
        1 => text(20),
        1 => pick(&[
            "now", "yesterday", "2024-1-5", "2024/01/05", "05/01/2024", "20240105", "2024-01-05T",
            "T09:30:00Z", "2024-W03-2", "2024-015", "2024-01-15T09:30:00", "2024-01-15T09:30:00+10",
            "1705311000", "0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-23:59",
            "0000-01-01T00:00:00-23:59", "9999-12-31T23:59:59.999+23:59",
        ]),
    ]
    .boxed()
}

/// RFC 3339 instants that can be stored: years 0001 to 9998 at any
/// offset, and the edges of 0000 and 9999 that stay inside them in UTC.
pub(crate) fn valid_timestamp() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (1u32..=9_998, 1u32..=12, 1u32..=28, 0u32..=23, 0u32..=59, 0u32..=59, "(\\.[0-9]{1,9})?", (any::<bool>(), 0u32..=23, 0u32..=59, any::<bool>()))
            .prop_map(|(y, mo, d, h, mi, s, fraction, (minus, oh, om, zulu))| {
                let offset = if zulu {
                    "Z".to_owned()
                } else {
                    format!("{}{oh:02}:{om:02}", if minus { '-' } else { '+' })
                };
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}{offset}")
            }),
        1 => pick(&[
            "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "0000-01-01T23:59:00+23:59",
            "9999-12-31T00:00:00-23:59", "2024-02-29T12:00:00+05:30", "2024-02-29T23:59:59.999999999-23:59",
            "1970-01-01T00:00:00Z", "2000-02-29T00:00:00-00:00",
        ]),
    ]
    .boxed()
}

/// RFC 3339 instants, most of which can be stored.
pub(crate) fn timestamp() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (1u32..=9_998, 1u32..=12, 1u32..=28, 0u32..=23, 0u32..=59, 0u32..=59, fraction(), offset())
            .prop_map(|(y, mo, d, h, mi, s, fraction, offset)| {
                let fraction = if fraction.len() > 10 { String::new() } else { fraction };
                let offset = if offset.len() == 6 || offset == "Z" { offset } else { "Z".to_owned() };
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}{offset}")
            }),
        2 => pick(&[
            "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "0000-01-01T23:59:00+23:59",
            "9999-12-31T00:00:00-23:59", "2024-02-29T12:00:00+05:30", "2024-02-29T23:59:59.999999999-23:59",
            "1970-01-01T00:00:00Z", "0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-23:59",
            "2023-02-29T00:00:00Z",
        ]),
        1 => date(),
    ]
    .boxed()
}

/// A decimal string of up to 15 integer digits and 4 decimals, signed or not.
fn decimal_amount() -> BoxedStrategy<Value> {
    (any::<bool>(), "[0-9]{1,15}", prop::option::of("[0-9]{1,4}"))
        .prop_map(|(minus, whole, fraction)| {
            let sign = if minus { "-" } else { "" };
            json!(match fraction {
                Some(fraction) => format!("{sign}{whole}.{fraction}"),
                None => format!("{sign}{whole}"),
            })
        })
        .boxed()
}

/// Amounts that can be stored: up to 15 integer digits and 4 decimals.
pub(crate) fn valid_amount() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => decimal_amount(),
        1 => pick(&["999999999999999", "-999999999999999.9999", "0", "-0", "0.0000", "000000000000000"])
            .prop_map(Value::String),
    ]
    .boxed()
}

/// Amounts: up to 15 integer digits and 4 decimals, one more of each,
/// signs, exponents, other digits, and JSON numbers instead of strings.
pub(crate) fn amount() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => decimal_amount(),
        1 => pick(&[
            "999999999999999", "-999999999999999.9999", "0", "-0", "0.0000", "000000000000000",
            "1000000000000000", "9999999999999999", "1.12345", "-1.12345", "+1", "1e3", "1E3",
            "1.5e-3", " 1", "1 ", "1,000", "1.", ".5", "-", "--1", "0x10", "NaN", "Infinity",
            "-Infinity", "١٢٣", "１２３", "1_000", "",
        ])
        .prop_map(Value::String),
        1 => prop::sample::select(vec![
            json!(12.5), json!(-4), json!(1e15), json!(123_456_789_012_345_678u64), json!(0.1),
            json!(1e-7), json!(null), json!(true), json!([]), json!({}),
        ]),
    ]
    .boxed()
}

/// One value quoted the way Basiq's filter syntax wants, or not.
fn quoted(value: &str, style: u8) -> String {
    match style {
        0..=5 => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")),
        6 => format!("'{value}'"),
        7 => format!("\"{value}\""),
        8 => value.to_owned(),
        _ => format!("'{value}"),
    }
}

pub(crate) fn clause(
    paths: BoxedStrategy<String>,
    ops: impl Fn(&str) -> BoxedStrategy<String> + 'static,
    values: impl Fn(&str) -> BoxedStrategy<String> + Clone + 'static,
) -> BoxedStrategy<String> {
    // How a value is quoted: mostly as the syntax wants, sometimes not.
    let style = prop_oneof![16 => Just(0u8), 1 => Just(6u8), 1 => Just(7u8), 1 => Just(8u8), 1 => Just(9u8)].boxed();
    paths
        .prop_flat_map(move |path| (Just(path.clone()), ops(&path)))
        .prop_flat_map(move |(path, op)| {
            // As many values as the operator takes, or any number.
            let natural = if op == "bt" { 2 } else { 1 };
            let count = prop_oneof![8 => Just(natural), 1 => 0usize..=3];
            let (values, style, of) = (values.clone(), style.clone(), path.clone());
            (
                Just(path),
                Just(op),
                count.prop_flat_map(move |n| {
                    prop::collection::vec((values(&of), style.clone()), n..=n)
                }),
                pick(&[",", ",", ", ", " ,"]),
            )
        })
        .prop_map(|(path, op, values, separator)| {
            let args: Vec<String> = values.iter().map(|(v, style)| quoted(v, *style)).collect();
            format!("{path}.{op}({})", args.join(&separator))
        })
        .boxed()
}

/// Clauses joined by commas, and sometimes mutated: a character inserted,
/// one removed, the text cut short.
pub(crate) fn filter(clause: BoxedStrategy<String>) -> BoxedStrategy<String> {
    let joined = (
        prop_oneof![
            12 => prop::collection::vec(clause.clone(), 1..=4),
            1 => prop::collection::vec(clause, 20..=150),
        ],
        prop_oneof![8 => Just(","), 2 => Just(", "), 1 => Just(" , "), 1 => Just(",,"), 1 => Just(";"), 1 => Just(" AND ")],
    )
        .prop_map(|(clauses, separator)| clauses.join(separator));
    (
        joined,
        prop_oneof![
            5 => Just(None),
            1 => (any::<Index>(), prop::sample::select("()'\\,. \"".chars().collect::<Vec<_>>()))
                .prop_map(|(at, c)| Some((at, Some(c), false))),
            1 => any::<Index>().prop_map(|at| Some((at, None, false))),
            1 => any::<Index>().prop_map(|at| Some((at, None, true))),
        ],
    )
        .prop_map(|(text, edit)| {
            let Some((at, insert, truncate)) = edit else {
                return text;
            };
            let mut chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len() + 1);
            match (insert, truncate) {
                (Some(c), _) => chars.insert(i, c),
                (None, true) => chars.truncate(i),
                (None, false) if i < chars.len() => {
                    chars.remove(i);
                }
                _ => {}
            }
            chars.into_iter().collect()
        })
        .boxed()
}

pub(crate) fn id_texts(ids: &Ids) -> BoxedStrategy<String> {
    let (user, other) = (ids.user.to_string(), ids.other.to_string());
    prop_oneof![
        2 => Just(user.clone()),
        1 => Just(user.to_uppercase()),
        1 => Just(other),
        1 => any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).hyphenated().to_string()),
        2 => odd_user_id(),
    ]
    .boxed()
}

pub(crate) fn user_filter(ids: &Ids) -> BoxedStrategy<String> {
    let ids = ids.clone();
    let paths = prop_oneof![
        8 => pick(&["user.id", "user.email", "user.mobile", "user.firstName", "user.lastName"]),
        1 => pick(&[
            "transaction.postDate", "account.id", "user.password", "user.firstname", "USER.EMAIL",
            "user", "user.", "user..id", ".id", "a.b.c", "user.first-name", "user.ﬁrstName",
            "user.id ", " user.id", "user.名",
        ]),
    ]
    .boxed();
    let ops = |_: &str| -> BoxedStrategy<String> {
        prop_oneof![
            8 => Just("eq".to_owned()),
            2 => pick(&["gt", "lt", "bt", "ne", "in", "EQ", "", "e q", "eq2", "é", "startsWith"]),
        ]
        .boxed()
    };
    let values = move |path: &str| -> BoxedStrategy<String> {
        match path {
            "user.id" => id_texts(&ids),
            "user.email" => email(),
            "user.mobile" => mobile(),
            "user.firstName" | "user.lastName" => name(),
            _ => text(12),
        }
    };
    filter(clause(paths, ops, values))
}

/// Many well-formed clauses, each of which a search takes: long filters
/// that reach the store, not the parser's refusal.
fn long_user_filter(ids: &Ids) -> BoxedStrategy<String> {
    let (user, other) = (ids.user.to_string(), ids.other.to_string());
    let clause = prop_oneof![
        3 => pick(&NAMES).prop_map(|n| format!("user.firstName.eq('{}')", n.replace('\'', "\\'"))),
        3 => pick(&NAMES).prop_map(|n| format!("user.lastName.eq('{}')", n.replace('\'', "\\'"))),
        2 => (0u32..1000).prop_map(|n| format!("user.email.eq('p{n}@example.com')")),
        2 => "[0-9]{8,15}".prop_map(|d| format!("user.mobile.eq('+{d}')")),
        1 => prop::sample::select(vec![user, other]).prop_map(|id| format!("user.id.eq('{id}')")),
    ];
    (prop::collection::vec(clause, 5..=250), pick(&[",", ", "]))
        .prop_map(|(clauses, separator)| clauses.join(&separator))
        .boxed()
}

/// Many well-formed transaction clauses.
fn long_transaction_filter() -> BoxedStrategy<String> {
    let clause = prop_oneof![
        1 => pick(&["acc-1-0", "acc-1-1", "acc-9"]).prop_map(|a| format!("account.id.eq('{a}')")),
        3 => (pick(&["gt", "lt", "eq"]), valid_timestamp()).prop_map(|(op, at)| format!("transaction.postDate.{op}('{at}')")),
        2 => (0u32..=9_999, 1u32..=12, 1u32..=28, valid_timestamp())
            .prop_map(|(y, m, d, at)| format!("transaction.postDate.bt('{y:04}-{m:02}-{d:02}','{at}')")),
    ];
    prop::collection::vec(clause, 5..=200)
        .prop_map(|clauses| clauses.join(","))
        .boxed()
}

pub(crate) fn transaction_filter() -> BoxedStrategy<String> {
    let paths = prop_oneof![
        8 => pick(&["transaction.postDate", "account.id"]),
        1 => pick(&[
            "transaction.amount", "transaction.postdate", "account.ID", "user.id", "transaction.date",
            "transaction", "account.", "a.b.c",
        ]),
    ]
    .boxed();
    let ops = |path: &str| -> BoxedStrategy<String> {
        let usual = if path == "transaction.postDate" {
            pick(&["bt", "gt", "lt", "eq"])
        } else {
            pick(&["eq"])
        };
        prop_oneof![8 => usual, 1 => pick(&["ne", "in", "BT", "", "between", "gte"])].boxed()
    };
    let values = |path: &str| -> BoxedStrategy<String> {
        match path {
            "account.id" => prop_oneof![
                3 => pick(&["acc-1-0", "acc-1-1", "acc-9", "acc-2-0"]),
                2 => record_text(),
            ]
            .boxed(),
            _ => prop_oneof![
                2 => (0u32..=9_999, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
                2 => valid_timestamp(),
                3 => date(),
            ]
            .boxed(),
        }
    };
    filter(clause(paths, ops, values))
}

/// Basiq's event filters, mostly well formed (so that the feed's store is
/// reached), with near misses.
pub(crate) fn event_filter(ids: &Ids) -> BoxedStrategy<String> {
    let ids = ids.clone();
    let paths = prop_oneof![
        8 => pick(&["user.id", "event.entity", "event.type"]),
        1 => pick(&["event.id", "event", "EVENT.TYPE", "user.email", "event.type "]),
    ]
    .boxed();
    let ops = |_: &str| -> BoxedStrategy<String> {
        prop_oneof![8 => Just("eq".to_owned()), 1 => pick(&["ne", "in", "EQ", ""])].boxed()
    };
    let values = move |path: &str| -> BoxedStrategy<String> {
        match path {
            "user.id" => id_texts(&ids),
            "event.entity" => prop_oneof![
                4 => pick(&["user", "connection"]),
                1 => pick(&["account", "User", ""]),
            ]
            .boxed(),
            "event.type" => prop_oneof![
                4 => pick(&[
                    "user.created", "user.updated", "user.deleted", "connection.created",
                    "connection.updated", "connection.deleted",
                ]),
                1 => pick(&["account.updated", "user.created ", "user", ""]),
            ]
            .boxed(),
            _ => text(12),
        }
    };
    filter(clause(paths, ops, values))
}

pub(crate) fn limit() -> BoxedStrategy<String> {
    prop_oneof![
        2 => (1usize..=500).prop_map(|n| n.to_string()),
        1 => pick(&[
            "1", "2", "5", "25", "100", "499", "500", "501", "0", "-1", "+5", " 5", "5 ", "1.0", "1e2",
            "18446744073709551616", "abc", "", "０", "٥",
        ]),
    ]
    .boxed()
}

pub(crate) fn next_value() -> BoxedStrategy<QValue> {
    prop_oneof![
        4 => any::<Index>().prop_map(QValue::Cursor),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| QValue::Tampered(a, b)),
        2 => pick(&["", ".", "e30.e30", "a.b", "..", "e30", "eyJmIjoieCIsInAiOltdfQ.AAAA"]).prop_map(QValue::Text),
        1 => prop::sample::select(vec![8_192usize, 8_193, 9_000]).prop_map(|n| QValue::Text("A".repeat(n))),
        1 => text(40).prop_map(QValue::Text),
    ]
    .boxed()
}

/// A parameter no endpoint takes, or a known one misspelt.
pub(crate) fn unknown_parameter() -> BoxedStrategy<(String, QValue)> {
    (
        prop_oneof![
            3 => pick(&[
                "Q", "first_name", "firstname", "page", "offset", "sort", "filter[]", "limit ", "",
                "user.id", "q ", "🙂", "filter.x", "LIMIT", "Next",
            ]),
            1 => text(10),
        ],
        text(20).prop_map(QValue::Text),
    )
        .boxed()
}

const QUERY_JUNK: [&str; 21] = [
    "",
    "&",
    "&&",
    "=",
    "==",
    "=x",
    "q",
    "q=",
    "limit",
    "%",
    "%zz",
    "%FF",
    "%C3%28",
    "%00",
    ";",
    "+",
    "%2B",
    "a=%",
    "filter=%27",
    "next=%2e",
    "%26=%3D",
];

pub(crate) fn query(pairs: BoxedStrategy<Vec<(String, QValue)>>) -> BoxedStrategy<Query> {
    let raw = prop_oneof![
        4 => Just(None),
        1 => (
            any::<bool>(),
            prop::option::of((any::<bool>(), prop::sample::select(QUERY_JUNK.to_vec()))),
        )
            .prop_map(|(form, junk)| Some(RawQuery { form, junk })),
    ];
    (pairs, raw)
        .prop_map(|(pairs, raw)| Query { pairs, raw })
        .boxed()
}

/// Known parameters, each there or not with its own odds (so that every
/// combination of them occurs), in any order, and sometimes unknown or
/// repeated ones.
pub(crate) fn parameters(
    named: Vec<(&'static str, f64, BoxedStrategy<QValue>)>,
) -> BoxedStrategy<Vec<(String, QValue)>> {
    let pairs: Vec<BoxedStrategy<(String, QValue)>> = named
        .iter()
        .map(|&(name, _, ref value)| {
            value
                .clone()
                .prop_map(move |v| (name.to_owned(), v))
                .boxed()
        })
        .collect();
    let maybe: Vec<BoxedStrategy<Option<(String, QValue)>>> = named
        .iter()
        .zip(&pairs)
        .map(|((_, odds, _), pair)| prop::option::weighted(*odds, pair.clone()).boxed())
        .collect();
    let repeats = prop::sample::select(pairs)
        .prop_flat_map(|pair| pair)
        .boxed();
    (
        maybe,
        prop_oneof![
            10 => Just(Vec::new()),
            1 => prop::collection::vec(unknown_parameter(), 1..=2),
            1 => prop::collection::vec(repeats, 1..=2),
        ],
    )
        .prop_map(|(given, extra)| given.into_iter().flatten().chain(extra).collect::<Vec<_>>())
        .prop_shuffle()
        .boxed()
}

pub(crate) fn texts(strategy: BoxedStrategy<String>) -> BoxedStrategy<QValue> {
    strategy.prop_map(QValue::Text).boxed()
}

pub(crate) fn search_query(ids: &Ids) -> BoxedStrategy<Query> {
    let q = prop_oneof![
        2 => id_texts(ids),
        1 => email(),
        1 => mobile(),
        3 => name(),
        1 => pick(&["zoe ångström", "Ångström Zoë", "ZO", "zora angelou", "a b c", "+614", "@"]),
    ]
    .boxed();
    query(parameters(vec![
        ("q", 0.3, texts(q)),
        ("firstName", 0.25, texts(name())),
        ("lastName", 0.25, texts(name())),
        ("email", 0.2, texts(email())),
        ("mobile", 0.2, texts(mobile())),
        (
            "filter",
            0.3,
            texts(prop_oneof![4 => user_filter(ids), 1 => long_user_filter(ids)].boxed()),
        ),
        ("limit", 0.3, texts(limit())),
        ("next", 0.15, next_value()),
    ]))
}

pub(crate) fn transactions_query() -> BoxedStrategy<Query> {
    query(parameters(vec![
        (
            "filter",
            0.5,
            texts(prop_oneof![4 => transaction_filter(), 1 => long_transaction_filter()].boxed()),
        ),
        ("limit", 0.4, texts(limit())),
        ("next", 0.25, next_value()),
    ]))
}

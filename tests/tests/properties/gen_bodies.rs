//! Generators: bodies and headers.

use super::*;

/// Values of the wrong type, empty, blank, huge or odd.
fn junk() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => prop::sample::select(vec![
            json!(null), json!(true), json!(false), json!(0), json!(-1), json!(1.5), json!(-0.0),
            json!(1e300), json!(u64::MAX), json!(i64::MIN), json!(""), json!("   "), json!([]),
            json!({}), json!(["a@b.co"]), json!({"nested": {"deeper": [1, {"x": null}]}}),
        ]),
        3 => text(20).prop_map(Value::String),
        1 => long_text().prop_map(Value::String),
        1 => date().prop_map(Value::String),
    ]
    .boxed()
}

/// A member name no body takes.
fn unknown_field() -> BoxedStrategy<String> {
    prop_oneof![
        3 => pick(&["shoeSize", "id", "Email", "first_name", "", "/", "~", "a/b~c", "__proto__", "constructor", "email "]),
        1 => text(12),
    ]
    .boxed()
}

/// A webhook subscription: URLs allowed and refused (loopback, which the
/// tests allow; private and special-use addresses; names that do not
/// resolve; malformed ones), event types known and not, and a description
/// of any text, with the members missing, wrong or unknown at times.
pub(crate) fn webhook_body() -> BoxedStrategy<Value> {
    let url = pick(&[
        "http://127.0.0.1:9/hooks",
        "https://127.0.0.1:9/hooks?a=b",
        "http://[::1]:9/",
        "http://localhost:9/hooks",
        "http://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:169.254.169.254]/",
        "https://hooks.example.invalid/x",
        "ftp://127.0.0.1/",
        "http://user:pass@127.0.0.1/",
        "http://127.0.0.1/#frag",
        "http://127.0.0.1/ space",
        "not a url",
        "",
    ]);
    let events = prop::collection::vec(
        pick(&[
            "user.created",
            "user.updated",
            "user.deleted",
            "connection.created",
            "connection.updated",
            "connection.deleted",
            "account.created",
            "USER.CREATED",
            "",
        ])
        .prop_map(Value::String),
        0..4,
    )
    .prop_map(Value::Array);
    (
        maybe(strings(url)),
        maybe(events.boxed()),
        maybe(strings(name())),
        unknown_members(),
    )
        .prop_map(|(url, events, description, unknown)| {
            object(
                vec![
                    ("url", url),
                    ("subscribedEvents", events),
                    ("description", description),
                ],
                unknown,
            )
        })
        .boxed()
}

fn maybe(valid: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        5 => Just(None),
        5 => valid.prop_map(Some),
        2 => junk().prop_map(Some),
    ]
    .boxed()
}

fn strings(strategy: BoxedStrategy<String>) -> BoxedStrategy<Value> {
    strategy.prop_map(Value::String).boxed()
}

fn object(members: Vec<(&str, Option<Value>)>, unknown: Vec<(String, Value)>) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in members {
        if let Some(value) = value {
            map.insert(name.to_owned(), value);
        }
    }
    for (name, value) in unknown {
        map.insert(name, value);
    }
    Value::Object(map)
}

fn unknown_members() -> BoxedStrategy<Vec<(String, Value)>> {
    prop_oneof![
        5 => Just(Vec::new()),
        1 => prop::collection::vec((unknown_field(), junk()), 1..=2),
    ]
    .boxed()
}

fn address() -> BoxedStrategy<Value> {
    let line = strings(prop_oneof![
        2 => pick(&["Level 4, 12 Hooli St", "Unit 4/12 Smith St", "1 Infinite Loop", "東京都港区"]),
        1 => text(30),
    ].boxed());
    (
        (maybe(line.clone()), maybe(line.clone()), maybe(line)),
        maybe(strings(pick(&[
            "NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT", "nsw", "XX", "", " NSW ",
        ]))),
        maybe(strings(pick(&[
            "2000",
            "0800",
            "200",
            "20000",
            "２０００",
            "abcd",
            " 2000",
            "2000 ",
        ]))),
        maybe(strings(pick(&[
            "AUS", "AU", "aus", "NZL", "ÅUS", "USA", "", " AUS",
        ]))),
        unknown_members(),
    )
        .prop_map(
            |((line1, line2, suburb), state, postcode, country, unknown)| {
                object(
                    vec![
                        ("addressLine1", line1),
                        ("addressLine2", line2),
                        ("suburb", suburb),
                        ("state", state),
                        ("postcode", postcode),
                        ("countryCode", country),
                    ],
                    unknown,
                )
            },
        )
        .boxed()
}

fn verification_date() -> BoxedStrategy<String> {
    prop_oneof![
        3 => pick(&[
            "12/01/2024", "29/02/2024", "29/02/2023", "29/02/1900", "29/02/2000", "31/04/2024",
            "00/01/2024", "01/13/2024", "01/01/0000", "31/12/9999", "1/1/2024", "2024-01-12",
            "12/01/24", "12/01/10000", " 12/01/2024 ",
        ]),
        1 => date(),
        1 => text(12),
    ]
    .boxed()
}

/// A create or update body: every field present or not, valid or of every
/// kind of wrong, a nested business address, unknown members.
pub(crate) fn user_body() -> BoxedStrategy<Value> {
    (
        (maybe(strings(email())), maybe(strings(mobile()))),
        (
            maybe(strings(name())),
            maybe(strings(name())),
            maybe(strings(name())),
            maybe(strings(name())),
        ),
        (
            maybe(strings(pick(&[
                "51 824 753 556",
                "53004085616",
                "004 085 616",
                "000 000 019",
                "51 824 753 557",
                "12345678901",
                "123",
                "abc",
                "٥١٨٢٤٧٥٣٥٥٦",
                "51-824-753-556",
                " 51 824 753 556 ",
            ]))),
            maybe(strings(pick(&["ABN", "ACN", "abn", "TFN", "", " ABN"]))),
            maybe(address()),
            maybe(any::<bool>().prop_map(Value::Bool).boxed()),
            maybe(strings(verification_date())),
        ),
        unknown_members(),
    )
        .prop_map(
            |(
                (email, mobile),
                (first, middle, last, business),
                (id_no, id_type, address, status, date),
                unknown,
            )| {
                object(
                    vec![
                        ("email", email),
                        ("mobile", mobile),
                        ("firstName", first),
                        ("middleName", middle),
                        ("lastName", last),
                        ("businessName", business),
                        ("businessIdNo", id_no),
                        ("businessIdNoType", id_type),
                        ("businessAddress", address),
                        ("verificationStatus", status),
                        ("verificationDate", date),
                    ],
                    unknown,
                )
            },
        )
        .boxed()
}

/// A body that should be accepted.
pub(crate) fn valid_user_body() -> BoxedStrategy<Value> {
    (
        0u32..1_000_000,
        prop::option::of(pick(&[
            "+61411000111",
            "+61 422 333 444",
            "+1 202 555 0143",
        ])),
        prop::option::of(pick(&NAMES)),
        prop::option::of(pick(&NAMES)),
        prop::option::of(pick(&["51 824 753 556", "004 085 616"])),
        any::<bool>(),
    )
        .prop_map(|(n, mobile, first, last, business, with_address)| {
            let mut body = json!({"email": format!("valid.{n}@example.com")});
            if let Some(mobile) = mobile {
                body["mobile"] = json!(mobile);
            }
            if let Some(first) = first {
                body["firstName"] = json!(first);
            }
            if let Some(last) = last {
                body["lastName"] = json!(last);
            }
            if let Some(number) = business {
                body["businessName"] = json!("Hooli Pty Ltd");
                body["businessIdNo"] = json!(number);
                body["businessIdNoType"] = json!(if number.len() > 11 { "ABN" } else { "ACN" });
            }
            if with_address {
                body["businessAddress"] = json!({
                    "addressLine1": "Level 4, 12 Hooli St", "suburb": "Sydney",
                    "state": "NSW", "postcode": "2000", "countryCode": "AUS"
                });
            }
            body
        })
        .boxed()
}

/// An update that should be accepted: one to three fields set or cleared.
pub(crate) fn valid_patch() -> BoxedStrategy<Value> {
    let field = prop_oneof![
        3 => (pick(&["firstName", "middleName", "lastName"]), pick(&NAMES).prop_map(Value::String)),
        1 => (pick(&["middleName", "businessName"]), prop_oneof![Just(Value::Null), Just(json!("")), Just(json!("  "))]),
        1 => (Just("mobile".to_owned()), pick(&["+61411222333", "+61 411 222 333", "+1 202 555 0143"]).prop_map(Value::String)),
        1 => (Just("email".to_owned()), (0u32..1000).prop_map(|n| json!(format!("zoe.{n}@example.com")))),
        1 => (Just("verificationStatus".to_owned()), any::<bool>().prop_map(Value::Bool)),
        1 => (Just("verificationDate".to_owned()), pick(&["12/01/2024", "29/02/2024", "31/12/9999"]).prop_map(Value::String)),
        1 => (Just("businessAddress".to_owned()), Just(json!({
            "addressLine1": "Level 4, 12 Hooli St", "suburb": "Sydney", "state": "NSW",
            "postcode": "2000", "countryCode": "AUS"
        }))),
    ];
    prop::collection::vec(field, 1..=3)
        .prop_map(|fields| Value::Object(fields.into_iter().collect()))
        .boxed()
}

fn account(id: String) -> BoxedStrategy<Value> {
    (
        pick(&["Everyday", "Savings", "Offset", "Crédit", "普通預金"]),
        prop_oneof![
            4 => "[0-9]{6,12}",
            2 => pick(&["062000 12345678", "062-000 1234 5678", "123", "GB82WEST12345698765432"]),
        ],
        (valid_amount(), valid_amount()),
        pick(&["AUD", "USD", "NZD", "EUR"]),
        (
            pick(&[
                "transaction",
                "savings",
                "credit-card",
                "mortgage",
                "loan",
                "investment",
                "term-deposit",
                "insurance",
                "foreign",
                "unknown",
            ]),
            prop::option::of(pick(&["Everyday Account", "Goal Saver"])),
        ),
        pick(&["available", "unavailable"]),
        prop::option::of(valid_timestamp()),
    )
        .prop_map(
            move |(name, number, (balance, funds), currency, (kind, product), status, updated)| {
                let mut class = json!({"type": kind});
                if let Some(product) = product {
                    class["product"] = json!(product);
                }
                let mut account = json!({
                    "id": id, "name": name, "accountNo": number, "balance": balance,
                    "availableFunds": funds, "currency": currency, "class": class, "status": status,
                });
                if let Some(updated) = updated {
                    account["lastUpdated"] = json!(updated);
                }
                account
            },
        )
        .boxed()
}

fn transaction(accounts: Vec<String>) -> BoxedStrategy<Value> {
    (
        prop::sample::select(accounts),
        pick(&["posted", "pending"]),
        prop_oneof![
            4 => pick(&["Coffee", "Woolworths Metro 1234", "Transfer to savings", "Café Ümlaut", "東京 ラーメン", "שכר דירה", "مطعم", "💸 refund", "ATM   withdrawal", "  padded  "]),
            1 => (1usize..=255).prop_map(|n| "x".repeat(n)),
        ],
        valid_amount(),
        pick(&["credit", "debit"]),
        pick(&["bank-fee", "payment", "cash-withdrawal", "transfer", "loan-interest", "refund", "direct-credit", "interest", "loan-repayment"]),
        valid_timestamp(),
        prop::option::of(valid_timestamp()),
    )
        .prop_map(|(account, status, description, amount, direction, class, post, at)| {
            let mut transaction = json!({
                "account": account, "status": status, "description": description, "amount": amount,
                "direction": direction, "class": class, "postDate": post,
            });
            if let Some(at) = at {
                transaction["transactionDate"] = json!(at);
            }
            transaction
        })
        .boxed()
}

/// An ingest body of one connection with 1 to 3 accounts and up to 6
/// transactions, with ids that may be those of the seeded connection.
pub(crate) fn ingest_body() -> BoxedStrategy<Value> {
    (
        prop_oneof![
            2 => Just(None),
            2 => Just(Some("conn-1".to_owned())),
            2 => Just(Some("p-conn".to_owned())),
            1 => "[A-Za-z0-9_-]{1,64}".prop_map(Some),
        ],
        (
            prop_oneof![4 => pick(&["AU00000", "AU12345"]), 1 => "[A-Za-z0-9_-]{1,64}"],
            pick(&["Hooli Bank", "Banque Générale", "みずほ銀行"]),
        ),
        pick(&["active", "pending", "invalid"]),
        (
            prop::option::of(valid_timestamp()),
            prop::option::of(valid_timestamp()),
        ),
        prop::collection::btree_set(
            prop_oneof![
                2 => pick(&["acc-1-0", "acc-1-1", "p-acc-1", "p-acc-2"]),
                1 => "[A-Za-z0-9_-]{1,64}",
            ],
            1..=3,
        ),
        ("[a-z]{1,6}", 0usize..=6),
        // Now and then as many accounts as an ingest may hold, or one more.
        prop_oneof![12 => Just(0usize), 1 => 87usize..=90],
    )
        .prop_flat_map(
            |(id, institution, status, dates, accounts, (base, n), wide)| {
                let mut accounts: Vec<String> = accounts.into_iter().collect();
                accounts.extend((0..wide).map(|i| format!("{base}-acc-{i}")));
                (
                    Just((id, institution, status, dates, base)),
                    accounts.iter().cloned().map(account).collect::<Vec<_>>(),
                    prop::collection::vec(transaction(accounts), n..=n),
                )
            },
        )
        .prop_map(
            |((id, (bank, bank_name), status, (created, used), base), accounts, transactions)| {
                let transactions: Vec<Value> = transactions
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut t)| {
                        t["id"] = json!(format!("{base}-{i}"));
                        t
                    })
                    .collect();
                let mut body = json!({
                    "institution": {"id": bank, "name": bank_name}, "status": status,
                    "accounts": accounts, "transactions": transactions,
                });
                if let Some(id) = id {
                    body["id"] = json!(id);
                }
                if let Some(created) = created {
                    body["createdDate"] = json!(created);
                }
                if let Some(used) = used {
                    body["lastUsed"] = json!(used);
                }
                body
            },
        )
        .boxed()
}

/// Every pointer in a JSON value, the root (`""`) first.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(member, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(Value),
    Remove,
    Add(String, Value),
}

fn edit(body: &mut Value, at: &Index, edit: Edit) {
    let mut all = Vec::new();
    pointers(body, String::new(), &mut all);
    let at = at.get(&all).clone();
    match edit {
        Edit::Replace(value) => {
            if let Some(slot) = body.pointer_mut(&at) {
                *slot = value;
            }
        }
        Edit::Remove => {
            let Some((parent, last)) = at.rsplit_once('/') else {
                return;
            };
            match body.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < items.len()) {
                        items.remove(i);
                    }
                }
                _ => {}
            }
        }
        Edit::Add(name, value) => match body.pointer_mut(&at) {
            Some(Value::Object(map)) => {
                map.insert(name, value);
            }
            Some(Value::Array(items)) => items.push(value),
            _ => {}
        },
    }
}

/// `body` with one to three members replaced by junk, removed, or added.
fn mutated(body: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    let one = (
        any::<Index>(),
        prop_oneof![
            3 => junk().prop_map(Edit::Replace),
            1 => amount().prop_map(Edit::Replace),
            1 => timestamp().prop_map(|d| Edit::Replace(json!(d))),
            1 => date().prop_map(|d| Edit::Replace(json!(d))),
            1 => (254usize..=256).prop_map(|n| Edit::Replace(json!("x".repeat(n)))),
            2 => Just(Edit::Remove),
            1 => (unknown_field(), junk()).prop_map(|(name, value)| Edit::Add(name, value)),
        ],
    );
    (body, prop::collection::vec(one, 1..=3))
        .prop_map(|(mut body, edits)| {
            for (at, e) in edits {
                edit(&mut body, &at, e);
            }
            body
        })
        .boxed()
}

const RAW_INSERTS: [&str; 24] = [
    "\\ud800",
    "\\udfff",
    "\\ud83d\\ude00",
    "\\udc00\\ud800",
    "\\u0000",
    "\u{0}",
    "\n",
    "\t",
    "\\",
    "\"",
    ",",
    "}",
    "]",
    "{",
    "[",
    ":",
    "NaN",
    "1e999",
    "-",
    "/*x*/",
    "\u{feff}",
    "\u{2028}",
    "\\x41",
    "\\'",
];

fn special_bodies() -> BoxedStrategy<Payload> {
    prop_oneof![
        3 => pick(&[
            "", " ", "\n", "{", "}", "[]", "[{}]", "null", "true", "0", "\"x\"", "{}",
            "{\"a\":1,\"a\":2}", "{\"email\":1e999}", "{\"email\":\"a@b.co\"}x",
            "{\"email\":\"a@b.co\"}{\"email\":\"b@b.co\"}", "{'email':'a@b.co'}",
            "{\"email\":\"a@b.co\",}", "{\"email\":\"a@b.co\",\"businessAddress\":{\"state\":\"NSW\",\"state\":\"VIC\"}}",
        ])
        .prop_map(Payload::Text),
        1 => prop::sample::select(vec![64usize, 127, 128, 129, 5_000]).prop_map(|depth| {
            Payload::Text(format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
        }),
        1 => prop::sample::select(vec![10usize, 200]).prop_map(|depth| {
            Payload::Text(format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth)))
        }),
        1 => prop::sample::select(vec![
            b"\xff\xfe{}".to_vec(),
            b"{\"email\":\"\xff@b.co\"}".to_vec(),
            b"{\"email\":\"\xed\xa0\x80@b.co\"}".to_vec(),
            b"\xef\xbb\xbf{\"email\":\"a@b.co\"}".to_vec(),
            b"{\"email\":\"a\0@b.co\"}".to_vec(),
        ])
        .prop_map(Payload::Bytes),
    ]
    .boxed()
}

/// The JSON text of `body`, broken: cut short, a piece of bad JSON or bad
/// UTF-8 slipped in, its first member repeated, padded past the size limit.
fn broken(body: BoxedStrategy<Value>) -> BoxedStrategy<Payload> {
    (
        body,
        any::<Index>(),
        0u8..7,
        prop::sample::select(RAW_INSERTS.to_vec()),
        0u8..6,
    )
        .prop_map(|(value, at, how, insert, bytes)| {
            let text = value.to_string();
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            match how {
                0 => Payload::Text(text[..i].to_owned()),
                1 | 2 => Payload::Text(format!("{}{insert}{}", &text[..i], &text[i..])),
                3 => {
                    let bad: &[u8] = match bytes {
                        0 => b"\xff",
                        1 => b"\xc3",
                        2 => b"\xed\xa0\x80",
                        3 => b"\xf4\x90\x80\x80",
                        4 => b"\xc0\xaf",
                        _ => b"\0",
                    };
                    let mut raw = text.into_bytes();
                    raw.splice(i..i, bad.iter().copied());
                    Payload::Bytes(raw)
                }
                4 => match value.as_object().and_then(|map| map.iter().next()) {
                    Some((name, member)) if text.len() > 2 => {
                        Payload::Text(format!("{{{}:{member},{}", json!(name), &text[1..]))
                    }
                    _ => Payload::Text(text),
                },
                5 => Payload::Text(format!("{text}{}", " ".repeat(70_000))),
                _ => {
                    let mut raw = b"\xef\xbb\xbf".to_vec();
                    raw.extend(text.into_bytes());
                    Payload::Bytes(raw)
                }
            }
        })
        .boxed()
}

/// Bodies: valid, mutated, broken as JSON text, special, or none.
pub(crate) fn payload(valid: BoxedStrategy<Value>) -> BoxedStrategy<Payload> {
    prop_oneof![
        6 => valid.clone().prop_map(Payload::Json),
        4 => mutated(valid.clone()).prop_map(Payload::Json),
        2 => broken(valid),
        1 => special_bodies(),
        1 => junk().prop_map(Payload::Json),
        1 => Just(Payload::None),
    ]
    .boxed()
}

pub(crate) fn content_type() -> BoxedStrategy<ContentType> {
    prop_oneof![
        12 => Just(ContentType::Default),
        1 => Just(ContentType::Absent),
        2 => pick(&[
            "application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json",
            "application/vnd.api+json", "text/plain", "application/x-www-form-urlencoded",
            "application/xml", "text/html", "multipart/form-data; boundary=x",
            "application/json; charset=utf-16", "application/jsonx", "json", "*/*",
            "application/json, text/plain", "", " application/json", "ａpplication/json",
        ])
        .prop_map(ContentType::Is),
    ]
    .boxed()
}

pub(crate) fn idempotency_key(pool: &'static [&'static str]) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        6 => Just(None),
        2 => pick(pool).prop_map(Some),
        1 => any::<u128>().prop_map(|n| Some(uuid::Uuid::from_u128(n).to_string())),
        1 => prop_oneof![
            pick(&["", " ", "with space", "ключ", "\t", "k\u{7f}"]),
            (255usize..=256).prop_map(|n| "k".repeat(n)),
            "[!-~]{1,40}",
        ]
        .prop_map(Some),
    ]
    .boxed()
}

pub(crate) fn if_match() -> BoxedStrategy<Option<IfMatch>> {
    prop_oneof![
        5 => Just(None),
        2 => Just(Some(IfMatch::Current)),
        1 => Just(Some(IfMatch::Weak)),
        1 => Just(Some(IfMatch::Next)),
        2 => pick(&[
            "*", "", "1", "\"\"", "\"abc\"", "W/", "W/\"\"", "\"-1\"", "\"0\"", "\"18446744073709551615\"",
            "\"18446744073709551616\"", "\"1\", \"2\"", " \"1\" ", "\"1", "W/\"1\"x", "*, \"1\"", "w/\"1\"",
        ])
        .prop_map(|text| Some(IfMatch::Raw(text))),
    ]
    .boxed()
}

/// Every kind of caller, most of them with a valid SERVER_ACCESS token.
pub(crate) fn auth() -> BoxedStrategy<Auth> {
    prop_oneof![
        8 => Just(Auth::Server(Spelling::Bearer)),
        2 => prop::sample::select(vec![Spelling::Lower, Spelling::Upper, Spelling::TwoSpaces, Spelling::TrailingSpace]).prop_map(Auth::Server),
        4 => Just(Auth::ClientOwn),
        2 => Just(Auth::ClientOther),
        1 => prop::sample::select(vec![Scope::ServerAccess, Scope::ClientAccess]).prop_map(Auth::Expired),
        1 => prop::sample::select(vec![
            Forgery::Tampered, Forgery::OtherSecret, Forgery::Unsigned, Forgery::Future, Forgery::ClientWithoutUser,
        ])
        .prop_map(Auth::Forged),
        1 => prop_oneof![
            pick(&["Bearer", "Bearer ", "Basic abc", "bearer x.y.z", "Bearer e30.e30.e30", "Token abc", ""]),
            "[ -~]{0,60}",
        ]
        .prop_map(Auth::Raw),
        1 => Just(Auth::Basic(BasicKey::Valid)),
        3 => prop::sample::select(Role::ALL.to_vec()).prop_map(Auth::Operator),
        1 => Just(Auth::Missing),
    ]
    .boxed()
}

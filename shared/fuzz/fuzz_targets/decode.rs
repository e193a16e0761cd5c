//! Request decoding and validation, fed arbitrary bytes: every body decoder,
//! the search box and the other search parameters, both filter grammars,
//! search plans, cursors, ids, names, timestamps and amounts. Any panic is a
//! crash; every input must end in a value or an error.
//!
//! `filters` is the structured companion: it builds well-formed (and nearly
//! well-formed) dates, instants and filters, which arbitrary bytes rarely are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::http::cursor::Cursor;
use shared::http::strict_json::Strict;
use shared::rotation::Keyring;
use shared::search::Criteria;
use shared::store::{Plan, Position};

const KEY: &[u8] = b"0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    if let Ok(Strict(value)) = serde_json::from_slice::<Strict>(data) {
        let _ = shared::user::decode_create(value.clone());
        let _ = shared::user::decode_patch(value.clone());
        let _ = shared::finance::decode_ingest(value);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // Every search parameter, as `GET /users` adds them.
    let mut criteria = Criteria::default();
    let _ = criteria.add_box(text);
    let _ = criteria.add_first_name(text, false, "firstName");
    let _ = criteria.add_last_name(text, false, "lastName");
    let _ = criteria.add_email(text);
    let _ = criteria.add_mobile(text, "mobile");
    let _ = criteria.add_filter(text);
    let plan = Plan::of(&criteria);
    let fingerprint = criteria.fingerprint();
    let key = Keyring::new(KEY);
    let _ = Cursor::decode(text, &key, &fingerprint, plan.stream_count());

    // The same text as the one search parameter, exact names as a filter gives them.
    let mut exact = Criteria::default();
    let _ = exact.add_first_name(text, true, "filter");
    let _ = exact.add_last_name(text, true, "filter");
    let _ = Plan::of(&exact);

    // A cursor this search issued, positioned after the text, is accepted
    // back by the same search (up to the 8 KiB a cursor may have; real keys
    // are far shorter): signing and decoding take any key text.
    let positions = vec![
        Position::After([text.to_owned(), String::new(), text.into(), "~".into()]);
        plan.stream_count()
    ];
    let issued = Cursor::new(&fingerprint, positions.clone()).encode(&key);
    let decoded = Cursor::decode(&issued, &key, &fingerprint, plan.stream_count());
    if issued.len() <= 8 * 1024 {
        let decoded = decoded.unwrap_or_else(|e| panic!("an issued cursor was refused: {e:?}"));
        assert_eq!(decoded.positions, positions);
    } else {
        assert!(decoded.is_err());
    }

    let _ = shared::filter::parse(text);
    let _ = shared::finance::TransactionQuery::parse_filter(text);
    let _ = shared::finance::Timestamp::parse(text);
    let _ = shared::finance::Amount::parse(text);
    let _ = shared::finance::RecordId::parse(text);
    let _ = shared::user::UserId::parse(text);
    let _ = shared::user::Name::parse(text);
    let _ = shared::user::Email::parse(text);
    let _ = shared::user::Mobile::parse(text);
    let _ = shared::fold::fold(text);
});

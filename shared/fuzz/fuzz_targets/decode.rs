//! Request decoding and validation, fed arbitrary bytes: every body decoder,
//! the search box, both filter grammars, cursors, ids and names. Any panic
//! is a crash; every input must end in a value or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::http::strict_json::Strict;

fuzz_target!(|data: &[u8]| {
    if let Ok(Strict(value)) = serde_json::from_slice::<Strict>(data) {
        let _ = shared::user::decode_create(value.clone());
        let _ = shared::user::decode_patch(value.clone());
        let _ = shared::finance::decode_ingest(value);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let mut criteria = shared::search::Criteria::default();
        criteria.add_box(text);
        let _ = criteria.add_filter(text);
        let _ = criteria.add_mobile(text, "mobile");
        let _ = shared::search::Plan::of(&criteria);
        let _ = shared::finance::TransactionQuery::parse_filter(text);
        let _ = shared::search::Cursor::decode(text, b"0123456789abcdef", "search", 2);
        let _ = shared::user::UserId::parse(text);
        let _ = shared::user::Name::parse(text);
        let _ = shared::user::Email::parse(text);
        let _ = shared::fold::fold(text);
    }
});

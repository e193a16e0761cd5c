//! The CPU paths of a request, without I/O: validation, the request and
//! response JSON, and search cursors. Short measurement times keep
//! `cargo bench -p shared` well under three minutes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lambda_http::{Body, Request};
use serde_json::json;
use shared::http::cursor::Cursor;
use shared::http::request::{self, Context};
use shared::http::views::UserView;
use shared::rotation::Keyring;
use shared::store::Position;
use shared::user::{decode_create, UserId};

const KEY: &[u8] = b"bench-cursor-key-0123456789abcdef";

fn body() -> serde_json::Value {
    json!({
        "email": "Gavin.Belson@Hooli.com",
        "mobile": "+61 410 888 666",
        "firstName": "Gavin",
        "middleName": "M",
        "lastName": "Belson",
        "businessName": "Hooli",
        "businessIdNo": "51824753556",
        "businessIdNoType": "ABN",
        "businessAddress": {"addressLine1": "1 Hooli Way", "suburb": "Sydney", "state": "NSW", "postcode": "2000", "countryCode": "AUS"}
    })
}

fn request(text: &str) -> Request {
    let mut req = Request::new(Body::Text(text.to_owned()));
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    req.headers_mut()
        .insert("host", "api.example.test".parse().unwrap());
    req
}

fn benches(c: &mut Criterion) {
    let text = body().to_string();
    c.bench_function("validate: decode_create", |b| {
        b.iter(|| decode_create(black_box(body())).unwrap())
    });
    c.bench_function("request: strict JSON body + decode_create", |b| {
        let req = request(&text);
        b.iter(|| decode_create(request::json_body(black_box(&req)).unwrap()).unwrap())
    });
    let user = decode_create(body())
        .unwrap()
        .into_user(UserId::new(), "2026-11-27T00:00:00Z".into());
    let ctx = Context::of(&request(&text), None);
    c.bench_function("response: UserView to JSON", |b| {
        b.iter(|| serde_json::to_string(&UserView::new(black_box(&user), &ctx)).unwrap())
    });
    let positions = vec![
        Position::After([
            "USER#0b1c2d3e-0000-4000-8000-000000000001".into(),
            "PROFILE".into(),
            "CREATED#2".into(),
            "2026-11-27T00:00:00Z#0b1c2d3e".into(),
        ]);
        4
    ];
    let cursor = Cursor::new("list", positions);
    let key = Keyring::new(KEY);
    let encoded = cursor.encode(&key);
    c.bench_function("cursor: encode (4 streams)", |b| {
        b.iter(|| black_box(&cursor).encode(&key))
    });
    c.bench_function("cursor: decode and verify (4 streams)", |b| {
        b.iter(|| Cursor::decode(black_box(&encoded), &key, "list", 4).unwrap())
    });
}

criterion_group! {
    name = domain;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(domain);

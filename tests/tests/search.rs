//! GET /users: search and listing on the GSIs, against DynamoDB Local.

use std::collections::HashSet;

use serde_json::{json, Value};
use shared::user::{decode_create, User, UserId};
use tests::events::Reply;
use tests::{eventually, TestEnv};

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn finds(env: &TestEnv, params: &[(&str, &str)], expected: &[&String]) -> bool {
    let reply = env.api().search_users(params).await;
    assert_eq!(reply.status, 200, "{params:?}: {:#}", reply.body);
    let mut got = ids(&reply);
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    got.sort();
    want.sort();
    got == want
}

async fn assert_finds(env: &TestEnv, params: &[(&str, &str)], expected: &[&String]) {
    eventually(&format!("{params:?} finds {expected:?}"), || {
        finds(env, params, expected)
    })
    .await;
}

#[tokio::test]
async fn name_prefixes_ignore_case_and_accents() {
    let env = TestEnv::new().await;
    let gavin = env
        .api()
        .new_user(&json!({"email": "g@hooli.com", "firstName": "Gavin", "lastName": "Belson"}))
        .await;
    let gavriel = env
        .api()
        .new_user(&json!({"email": "x@hooli.com", "firstName": "Gavriel", "lastName": "Xu"}))
        .await;
    let richard = env
        .api()
        .new_user(&json!({"email": "r@hooli.com", "firstName": "Richard", "lastName": "Hendricks"}))
        .await;
    let jose = env
        .api()
        .new_user(&json!({"email": "j@hooli.com", "firstName": "José", "lastName": "Núñez"}))
        .await;

    assert_finds(&env, &[("q", "gav")], &[&gavin, &gavriel]).await;
    assert_finds(&env, &[("q", "GAV")], &[&gavin, &gavriel]).await;
    assert_finds(&env, &[("q", "Gavi")], &[&gavin]).await;
    assert_finds(&env, &[("firstName", "ga")], &[&gavin, &gavriel]).await;
    assert_finds(&env, &[("lastName", "HEN")], &[&richard]).await;
    assert_finds(&env, &[("q", "hen")], &[&richard]).await;
    assert_finds(&env, &[("q", "jose")], &[&jose]).await;
    assert_finds(&env, &[("q", "JOSÉ")], &[&jose]).await;
    assert_finds(&env, &[("q", "nunez")], &[&jose]).await;
    assert_finds(&env, &[("lastName", "Núñ")], &[&jose]).await;
    assert_finds(&env, &[("q", "zz")], &[]).await;

    let reply = env.api().search_users(&[("q", "gav")]).await;
    assert_eq!(reply.body["type"], "list");
    assert_eq!(reply.body["count"], 2);
    assert!(reply.body["links"]["next"].is_null(), "no next page");
    let first = &reply.body["data"][0];
    for field in [
        "type",
        "id",
        "email",
        "mobile",
        "firstName",
        "middleName",
        "lastName",
        "createdTime",
        "links",
    ] {
        assert!(first.get(field).is_some(), "summary has {field}");
    }
    assert_eq!(first["type"], "user");
}

#[tokio::test]
async fn one_word_matches_either_name_once() {
    let env = TestEnv::new().await;
    let both = env
        .api()
        .new_user(&json!({"email": "a@b.co", "firstName": "Gav", "lastName": "Gavinson"}))
        .await;
    let first = env
        .api()
        .new_user(&json!({"email": "b@b.co", "firstName": "Gavin", "lastName": "Belson"}))
        .await;
    let last = env
        .api()
        .new_user(&json!({"email": "c@b.co", "firstName": "Peter", "lastName": "Gavrilov"}))
        .await;
    assert_finds(&env, &[("q", "gav")], &[&both, &first, &last]).await;
    let reply = env.api().search_users(&[("q", "gav")]).await;
    assert_eq!(
        ids(&reply).len(),
        3,
        "the user matching both names appears once"
    );
}

#[tokio::test]
async fn two_words_match_first_and_last_in_either_order() {
    let env = TestEnv::new().await;
    let gavin = env
        .api()
        .new_user(&json!({"email": "g@hooli.com", "firstName": "Gavin", "lastName": "Belson"}))
        .await;
    let _other = env
        .api()
        .new_user(&json!({"email": "h@hooli.com", "firstName": "Gavin", "lastName": "Hendricks"}))
        .await;
    let _beth = env
        .api()
        .new_user(&json!({"email": "b@hooli.com", "firstName": "Beth", "lastName": "Gavel"}))
        .await;

    assert_finds(&env, &[("q", "Gavin Belson")], &[&gavin]).await;
    assert_finds(&env, &[("q", "Belson Gav")], &[&gavin]).await;
    assert_finds(&env, &[("q", "gav bel")], &[&gavin]).await;
    assert_finds(&env, &[("q", "gavin q belson")], &[&gavin]).await;
}

#[tokio::test]
async fn email_and_mobile_are_exact_and_normalised() {
    let env = TestEnv::new().await;
    let gavin = env
        .api()
        .new_user(
            &json!({"email": "Gavin@Hooli.com", "mobile": "+61410888666", "firstName": "Gavin"}),
        )
        .await;
    let _near = env
        .api()
        .new_user(&json!({"email": "gavin@hooli.co", "mobile": "+61410888667"}))
        .await;

    assert_finds(&env, &[("q", "GAVIN@hooli.COM")], &[&gavin]).await;
    assert_finds(&env, &[("email", "gavin@HOOLI.com")], &[&gavin]).await;
    assert_finds(&env, &[("q", "gavin@hooli")], &[]).await;
    assert_finds(&env, &[("q", "+61 410 888 666")], &[&gavin]).await;
    assert_finds(&env, &[("q", "+61-410-888-666")], &[&gavin]).await;
    assert_finds(&env, &[("mobile", "+61 410 888 666")], &[&gavin]).await;
    assert_finds(&env, &[("q", "+61 410")], &[]).await;
    // Criteria combine with AND.
    assert_finds(
        &env,
        &[("email", "gavin@hooli.com"), ("firstName", "gav")],
        &[&gavin],
    )
    .await;
    assert_finds(
        &env,
        &[("email", "gavin@hooli.com"), ("firstName", "ric")],
        &[],
    )
    .await;
}

#[tokio::test]
async fn an_id_is_found_at_once() {
    let env = TestEnv::new().await;
    let gavin = env
        .api()
        .new_user(&json!({"email": "g@hooli.com", "firstName": "Gavin"}))
        .await;
    // Strongly consistent: no waiting.
    assert!(finds(&env, &[("q", &gavin)], &[&gavin]).await);
    assert!(
        finds(
            &env,
            &[("filter", &format!("user.id.eq('{gavin}')"))],
            &[&gavin]
        )
        .await
    );
    assert!(finds(&env, &[("q", &gavin), ("firstName", "ric")], &[]).await);
    let unknown = UserId::new().to_string();
    assert!(finds(&env, &[("q", &unknown)], &[]).await);
}

#[tokio::test]
async fn basiq_filter_syntax() {
    let env = TestEnv::new().await;
    let gavin = env.api().new_user(&json!({"email": "g@hooli.com", "mobile": "+61410888666", "firstName": "Gavin", "lastName": "Belson"})).await;
    let _gavina = env
        .api()
        .new_user(&json!({"email": "x@hooli.com", "firstName": "Gavina", "lastName": "Belson"}))
        .await;

    assert_finds(
        &env,
        &[(
            "filter",
            "user.firstName.eq('Gavin'),user.lastName.eq('Belson')",
        )],
        &[&gavin],
    )
    .await;
    assert_finds(&env, &[("filter", "user.firstName.eq('GAVIN')")], &[&gavin]).await;
    assert_finds(
        &env,
        &[("filter", "user.email.eq('G@HOOLI.COM')")],
        &[&gavin],
    )
    .await;
    assert_finds(
        &env,
        &[("filter", "user.mobile.eq('+61 410 888 666')")],
        &[&gavin],
    )
    .await;

    env.requests.clear();
    for bad in [
        "user.firstName.eq(Gavin)",
        "user.firstName.eq('Gavin'",
        "user.firstName.like('Gav')",
        "user.password.eq('x')",
        "user.id.eq('not-an-id')",
        "user.mobile.eq('123')",
        "institution.id.eq('AU00000')",
        "",
    ] {
        let reply = env.api().search_users(&[("filter", bad)]).await;
        assert_eq!(reply.status, 400, "{bad}: {:#}", reply.body);
        assert_eq!(reply.error().0, "parameter-not-valid");
        assert_eq!(
            reply.body["data"][0]["source"]["parameter"], "filter",
            "{bad}"
        );
    }
    assert!(
        env.requests.operations().is_empty(),
        "a refused search reads nothing"
    );
}

#[tokio::test]
async fn bad_parameters_get_400() {
    let env = TestEnv::new().await;
    for (name, value) in [
        ("limit", "0"),
        ("limit", "501"),
        ("limit", "ten"),
        ("limit", "-1"),
        ("next", "garbage"),
        ("sort", "name"),
        ("mobile", "12"),
    ] {
        let reply = env.api().search_users(&[(name, value)]).await;
        assert_eq!(reply.status, 400, "{name}={value}");
        assert_eq!(reply.error().0, "parameter-not-valid");
        assert_eq!(reply.body["data"][0]["source"]["parameter"], name);
    }
    assert_eq!(
        env.api().search_users(&[("limit", "500")]).await.status,
        200
    );
    assert_eq!(env.api().search_users(&[("limit", "1")]).await.status, 200);
}

/// Users through the store, in bulk: for the large fixtures.
async fn import(env: &TestEnv, bodies: impl Iterator<Item = Value>) -> Vec<User> {
    let users: Vec<User> = bodies
        .enumerate()
        .map(|(n, body)| {
            let created = format!("2026-01-01T00:00:{:02}.{:03}Z", (n / 1000) % 60, n % 1000);
            decode_create(body)
                .unwrap()
                .into_user(UserId::new(), created)
        })
        .collect();
    for chunk in users.chunks(5_000) {
        env.app.store.import_users(chunk, 16).await.unwrap();
    }
    users
}

/// Follows `next` to the end, checking each page's size.
async fn all_pages(env: &TestEnv, params: &[(&str, &str)], limit: usize) -> Vec<Value> {
    let limit_text = limit.to_string();
    let mut query: Vec<(&str, &str)> = params.to_vec();
    query.push(("limit", &limit_text));
    let mut reply = env.api().search_users(&query).await;
    let mut users = Vec::new();
    loop {
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        let page = reply.body["data"].as_array().unwrap().clone();
        assert!(page.len() <= limit);
        users.extend(page);
        let Some(next) = reply.body["links"]["next"].as_str() else {
            return users;
        };
        let cursor = cursor_of(next);
        let mut query = query.clone();
        query.push(("next", &cursor));
        reply = env.api().search_users(&query).await;
        assert!(
            reply.body["count"].as_u64().unwrap() > 0,
            "a next link never leads to an empty page"
        );
    }
}

/// The `next` cursor out of a `links.next` URL.
fn cursor_of(next_url: &str) -> String {
    let query = next_url.split_once('?').expect("a query string").1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "next")
        .expect("next carries a cursor")
        .1
        .into_owned()
}

#[tokio::test]
async fn paging_returns_every_match_once_in_order() {
    let env = TestEnv::new().await;
    let users = import(
        &env,
        (0..120).map(|n| json!({"email": format!("u{n}@b.co"), "firstName": format!("Zed{n:03}"), "lastName": "Paged"}))
            .chain((0..30).map(|n| json!({"email": format!("o{n}@b.co"), "firstName": "Other"}))),
    )
    .await;
    let expected: Vec<String> = users[..120].iter().map(|u| u.id.to_string()).collect();

    eventually("all 120 are indexed", || async {
        all_pages(&env, &[("q", "zed")], 500).await.len() == 120
    })
    .await;
    let paged = all_pages(&env, &[("q", "zed")], 50).await;
    let got: Vec<String> = paged
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got.len(), 120);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 120, "distinct");
    assert_eq!(got, expected, "in first-name order: Zed000, Zed001, …");

    // The same through the last-name index, where every key ties on the name.
    let by_last = all_pages(&env, &[("lastName", "paged")], 50).await;
    assert_eq!(
        by_last
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect::<HashSet<_>>()
            .len(),
        120
    );

    // Listing with no criteria: everyone, newest first, across the shards.
    let listed = all_pages(&env, &[], 50).await;
    assert_eq!(listed.len(), 150);
    let times: Vec<&str> = listed
        .iter()
        .map(|u| u["createdTime"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(
        listed
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect::<HashSet<_>>()
            .len(),
        150
    );
}

#[tokio::test]
async fn cursors_cannot_be_tampered_with_or_reused_elsewhere() {
    let env = TestEnv::new().await;
    import(
        &env,
        (0..5).map(|n| json!({"email": format!("u{n}@b.co"), "firstName": "Zed"})),
    )
    .await;
    let mut first = env
        .api()
        .search_users(&[("q", "zed"), ("limit", "2")])
        .await;
    eventually("a second page", || {
        let env = &env;
        async move {
            env.api()
                .search_users(&[("q", "zed"), ("limit", "2")])
                .await
                .body["links"]["next"]
                .is_string()
        }
    })
    .await;
    if first.body["links"]["next"].is_null() {
        first = env
            .api()
            .search_users(&[("q", "zed"), ("limit", "2")])
            .await;
    }
    let next = first.body["links"]["next"].as_str().unwrap();
    let cursor = cursor_of(next);

    let ok = env
        .api()
        .search_users(&[("q", "zed"), ("limit", "2"), ("next", &cursor)])
        .await;
    assert_eq!(ok.status, 200);

    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let truncated = &cursor[..cursor.len() / 2];
    for bad in [
        tampered.as_str(),
        truncated,
        "e30.AAAA",
        &"A".repeat(10_000),
    ] {
        let reply = env
            .api()
            .search_users(&[("q", "zed"), ("limit", "2"), ("next", bad)])
            .await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.body["data"][0]["source"]["parameter"], "next");
    }
    // A cursor from one search is foreign to another.
    let foreign = env
        .api()
        .search_users(&[("q", "other"), ("limit", "2"), ("next", &cursor)])
        .await;
    assert_eq!(foreign.status, 400);
    assert_eq!(foreign.body["data"][0]["source"]["parameter"], "next");
}

#[tokio::test]
async fn renamed_and_deleted_users_follow_their_changes() {
    let env = TestEnv::new().await;
    let id = env
        .api()
        .new_user(&json!({"email": "g@hooli.com", "firstName": "Gavin", "lastName": "Belson"}))
        .await;
    assert_finds(&env, &[("q", "gavin")], &[&id]).await;

    let renamed = env
        .api()
        .update_user(
            "PATCH",
            &id,
            &json!({"firstName": "Hubert", "email": "h@hooli.com"}),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_finds(&env, &[("q", "hubert")], &[&id]).await;
    assert_finds(&env, &[("q", "gavin")], &[]).await;
    assert_finds(&env, &[("q", "h@hooli.com")], &[&id]).await;
    assert_finds(&env, &[("q", "g@hooli.com")], &[]).await;
    assert_finds(&env, &[("q", "belson")], &[&id]).await;

    // A user being deleted (tombstoned, purge not finished) is already gone.
    let user_id = UserId::parse(&id).unwrap();
    env.app.store.tombstone_user(&user_id, None).await.unwrap();
    assert_finds(&env, &[("q", "hubert")], &[]).await;
    assert_finds(&env, &[("q", "belson")], &[]).await;
    assert_finds(&env, &[], &[]).await;
    assert!(finds(&env, &[("q", &id)], &[]).await);
}

#[tokio::test]
async fn each_search_is_one_query_per_index_stream_and_never_a_scan() {
    let env = TestEnv::new().await;
    let id = env.api().new_user(&json!({"email": "g@hooli.com", "mobile": "+61410888666", "firstName": "Gavin", "lastName": "Belson"})).await;
    assert_finds(&env, &[("q", "gavin")], &[&id]).await;

    type Params<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Params, &[&str]); 6] = [
        (&[("q", "gav")], &["Query", "Query"]),
        (&[("q", "g@hooli.com")], &["Query"]),
        (&[("q", "+61410888666")], &["Query"]),
        (&[("firstName", "gav"), ("lastName", "bel")], &["Query"]),
        (&[], &["Query", "Query", "Query", "Query"]),
        (&[("q", "+61 4")], &[]),
    ];
    for (params, expected) in cases {
        env.requests.clear();
        assert_eq!(env.api().search_users(params).await.status, 200);
        assert_eq!(env.requests.operations(), expected, "{params:?}");
    }
    env.requests.clear();
    env.api().search_users(&[("q", &id)]).await;
    assert_eq!(env.requests.operations(), ["GetItem"]);
}

/// The same search costs the same read capacity at 100 users and at 20,000.
#[tokio::test]
async fn search_cost_is_flat_as_the_table_grows() {
    let env = TestEnv::new().await;
    let matching = (0..10).map(|n| json!({"email": format!("zed{n}@b.co"), "firstName": "Zedekiah", "lastName": format!("Flat{n}")}));
    let filler = |from: usize, to: usize| {
        (from..to).map(|n| {
            let first = [
                "Gavin", "Richard", "Monica", "Jared", "Dinesh", "Bertram", "Laurie",
            ][n % 7];
            json!({
                "email": format!("user{n}@example.com"),
                "mobile": format!("+6140{n:07}"),
                "firstName": first,
                "lastName": format!("Person{n}")
            })
        })
    };
    import(&env, matching.chain(filler(0, 90))).await;

    let searches: [&[(&str, &str)]; 3] = [
        &[("q", "zed")],
        &[("q", "zed3@b.co")],
        &[("lastName", "flat")],
    ];
    let mut small = Vec::new();
    for params in searches {
        eventually("matches indexed", || async {
            env.api().search_users(params).await.body["count"]
                .as_u64()
                .unwrap_or(0)
                > 0
        })
        .await;
        env.app.store.meter().reset();
        let reply = env.api().search_users(params).await;
        small.push((
            reply.body["count"].clone(),
            env.app.store.meter().read_units(),
        ));
    }

    import(&env, filler(90, 20_000)).await;
    assert_eq!(env.item_count().await, 20_010);
    let mut large = Vec::new();
    for params in searches {
        env.app.store.meter().reset();
        let reply = env.api().search_users(params).await;
        large.push((
            reply.body["count"].clone(),
            env.app.store.meter().read_units(),
        ));
    }
    println!("read units at 100 users: {small:?}; at 20,010 users: {large:?}");
    assert!(
        small.iter().all(|(_, units)| *units > 0.0),
        "capacity is reported"
    );
    assert_eq!(small, large, "same matches, same read capacity");
}

//! The properties of the reads of one user, of GET
//! /users/{userId}/transactions, of paging, and of every route with any of
//! everything.

use super::*;

// ---------------------------------------------------------------------------
// Reads of one user: the user, its connections, accounts and transactions
// ---------------------------------------------------------------------------

/// Basiq's filters of a user's connections and accounts: `eq` and `ne` on
/// ids, status and institution, and everything else.
fn record_filter() -> BoxedStrategy<String> {
    let paths = prop_oneof![
        8 => pick(&["connection.id", "connection.status", "institution.id", "account.id"]),
        1 => pick(&["connection.ID", "account", "institution.name", "transaction.postDate", "user.id", "a.b.c"]),
    ]
    .boxed();
    let ops = |_: &str| -> BoxedStrategy<String> {
        prop_oneof![8 => pick(&["eq", "ne"]), 1 => pick(&["gt", "bt", "in", "EQ", ""])].boxed()
    };
    let values = |path: &str| -> BoxedStrategy<String> {
        let usual = match path {
            "connection.status" => pick(&["active", "pending", "invalid", "Active", "deleted"]),
            "institution.id" => pick(&["AU00001", "AU00000", "AU12345"]),
            "connection.id" => pick(&["conn-1", "conn-2", "p-conn"]),
            _ => pick(&["acc-1-0", "acc-1-1", "acc-9"]),
        };
        prop_oneof![4 => usual, 1 => record_text()].boxed()
    };
    filter(clause(paths, ops, values))
}

fn read_spec() -> BoxedStrategy<Spec> {
    prop::sample::select(vec![
        Route::GetUser,
        Route::ListConnections,
        Route::GetConnection,
        Route::ListAccounts,
        Route::GetAccount,
        Route::GetTransaction,
    ])
    .prop_flat_map(|route| {
        // Listings take a filter; the other reads have no query to read.
        let query = match route {
            Route::ListConnections | Route::ListAccounts => {
                query(parameters(vec![("filter", 0.6, texts(record_filter()))]))
            }
            _ => prop_oneof![6 => Just(Vec::new()), 1 => prop::collection::vec(unknown_parameter(), 1..=2)]
                .prop_map(|pairs| Query { pairs, raw: None })
                .boxed(),
        };
        (
            Just(route),
            user_ref(),
            record_ref(),
            auth(),
            query,
            prop_oneof![8 => Just(Payload::None), 1 => payload(user_body())],
        )
    })
    .prop_map(|(route, user, record, auth, query, body)| {
        let mut spec = Spec::new(route, "GET");
        spec.user = user;
        spec.record = record;
        spec.auth = auth;
        spec.query = query;
        spec.body = body;
        spec
    })
    .boxed()
}

/// Whether a listed connection or account keeps a filter clause, as Basiq
/// means `eq` and `ne`.
fn keeps(route: Route, item: &Value, clause: &shared::filter::Clause) -> bool {
    let value = match (route, clause.path.as_str()) {
        (Route::ListConnections, "connection.id") | (Route::ListAccounts, "account.id") => {
            &item["id"]
        }
        (Route::ListConnections, "connection.status") => &item["status"],
        (Route::ListConnections, "institution.id") => &item["institution"]["id"],
        (Route::ListAccounts, "connection.id") => &item["connection"],
        (Route::ListAccounts, "institution.id") => &item["institution"],
        _ => &Value::Null,
    };
    let equal = clause.values.first().is_some_and(|v| value == v.as_str());
    equal == (clause.op == "eq")
}

/// A filtered listing is the unfiltered one with the filter applied.
async fn filtered(
    world: &World,
    route: Route,
    user: &str,
    filter: &str,
    answer: &Answer,
) -> Result<(), TestCaseError> {
    let clauses = shared::filter::parse(filter).map_err(TestCaseError::fail)?;
    let api = world.env.api();
    let all = match route {
        Route::ListConnections => api.list_connections(user).await,
        _ => api.list_accounts(user).await,
    };
    prop_assert_eq!(all.status, 200);
    let ids = |items: Vec<&Value>| -> Vec<String> {
        items
            .into_iter()
            .filter_map(|item| item["id"].as_str().map(str::to_owned))
            .collect()
    };
    let expected = ids(all.body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| clauses.iter().all(|c| keeps(route, item, c)))
        .collect());
    let listed = ids(answer.body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .collect());
    prop_assert_eq!(listed, expected, "{}", filter);
    Ok(())
}

fn record_parameter(route: Route) -> Option<&'static str> {
    match route {
        Route::GetConnection | Route::DeleteConnection => Some("connectionId"),
        Route::GetAccount => Some("accountId"),
        Route::GetTransaction => Some("transactionId"),
        _ => None,
    }
}

async fn read_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    let (sent, answer) = world.send(&spec).await?;
    if sent.caller != Caller::Server {
        return Ok(());
    }
    let status = answer.status;
    let user = UserId::parse(&sent.path_user);
    let record = record_parameter(spec.route);
    match &user {
        Err(_) => {
            prop_assert_eq!(status, 400);
            prop_assert_eq!(answer.parameter(), "userId");
            return Ok(());
        }
        Ok(_) if matches!(spec.user, UserRef::Absent(_)) => {
            prop_assert!(
                matches!(status, 400 | 404),
                "a read of no user answered {status}"
            );
        }
        Ok(_) => {}
    }
    if let Some(parameter) = record {
        if RecordId::parse(&sent.record).is_err() {
            prop_assert_eq!(status, 400);
            prop_assert_eq!(answer.parameter(), parameter);
            return Ok(());
        }
    }
    let seeded = matches!(spec.user, UserRef::Seeded | UserRef::SeededUpper);
    let listing = matches!(spec.route, Route::ListConnections | Route::ListAccounts);
    if listing && status == 200 {
        if let Some((_, filter)) = sent.pairs.iter().find(|(k, _)| k == "filter") {
            filtered(world, spec.route, &sent.path_user, filter, &answer).await?;
        }
    }
    let plain = !listing || (sent.pairs.is_empty() && spec.query.raw.is_none());
    if seeded && plain && (record.is_none() || spec.record == RecordRef::Existing) {
        prop_assert_eq!(status, 200, "{}", answer.body);
        let expected = match record {
            Some(_) => Some(sent.record.clone()),
            None if spec.route == Route::GetUser => Some(world.ids.user.to_string()),
            None => None,
        };
        if let Some(id) = expected {
            prop_assert_eq!(answer.body["id"].as_str(), Some(id.as_str()));
        }
    }
    if seeded && spec.record == RecordRef::WrongKind && record.is_some() {
        prop_assert_eq!(status, 404);
    }
    Ok(())
}

#[test]
fn reads_of_one_user_answer_by_id_and_token_and_never_write() {
    property(
        "GET /users/{userId}/…",
        192,
        |_| read_spec(),
        |world, spec| Box::pin(read_case(world, spec)),
    );
}

// ---------------------------------------------------------------------------
// GET /users/{userId}/transactions
// ---------------------------------------------------------------------------

fn transactions_spec() -> BoxedStrategy<Spec> {
    (
        prop_oneof![
            8 => Just(UserRef::Seeded),
            1 => Just(UserRef::SeededUpper),
            1 => Just(UserRef::Other),
            1 => absent_user(),
            1 => odd_user_id().prop_map(UserRef::Text),
        ],
        transactions_query(),
        auth(),
    )
        .prop_map(|(user, query, auth)| {
            let mut spec = Spec::new(Route::ListTransactions, "GET");
            spec.user = user;
            spec.query = query;
            spec.auth = auth;
            spec
        })
        .boxed()
}

async fn transactions_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    let (sent, answer) = world.send(&spec).await?;
    if answer.status == 200 {
        check_page(&answer, page_limit(&sent.pairs, 500))?;
        // Newest first.
        let dates: Vec<&str> = answer.body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["postDate"].as_str())
            .collect();
        prop_assert!(
            dates.windows(2).all(|w| w[0] >= w[1]),
            "transactions out of order: {dates:?}"
        );
    }
    if sent.caller == Caller::Server
        && matches!(spec.user, UserRef::Seeded)
        && sent.pairs.is_empty()
        && spec.query.raw.is_none()
    {
        prop_assert_eq!(answer.status, 200);
        prop_assert_eq!(answer.body["count"].as_u64(), Some(30));
    }
    Ok(())
}

#[test]
fn transaction_listings_take_every_filter_limit_and_cursor() {
    property(
        "GET /users/{userId}/transactions",
        256,
        |_| transactions_spec(),
        |world, spec| Box::pin(transactions_case(world, spec)),
    );
}

// ---------------------------------------------------------------------------
// Paging: page after page is the one big page
// ---------------------------------------------------------------------------

/// A listing and its criteria: transactions of the seeded user, or users.
#[derive(Debug, Clone)]
struct Listing {
    route: Route,
    params: Vec<(String, String)>,
    limit: usize,
}

fn listing() -> BoxedStrategy<Listing> {
    let day = (20u32..=31, 0u32..=23).prop_map(|(d, h)| {
        if d == 31 {
            format!("2026-11-0{}", 1 + h % 3)
        } else {
            format!("2026-10-{d}T{h:02}:30:00+10:00")
        }
    });
    let transaction_clause = prop_oneof![
        1 => pick(&["acc-1-0", "acc-1-1"]).prop_map(|a| format!("account.id.eq('{a}')")),
        2 => (pick(&["gt", "lt", "eq"]), day.clone()).prop_map(|(op, at)| format!("transaction.postDate.{op}('{at}')")),
        1 => (day.clone(), day).prop_map(|(a, b)| format!("transaction.postDate.bt('{a}','{b}')")),
    ];
    let transactions = prop::collection::vec(transaction_clause, 0..=2).prop_map(|mut clauses| {
        // account.id may be named once.
        if clauses.iter().filter(|c| c.starts_with("account")).count() > 1 {
            clauses.pop();
        }
        let mut params = Vec::new();
        if !clauses.is_empty() {
            params.push(("filter".to_owned(), clauses.join(",")));
        }
        (Route::ListTransactions, params)
    });
    let criterion = prop_oneof![
        (
            Just("q".to_owned()),
            pick(&["p", "pa", "pat", "page", "pat page", "Pagé", "PA PA"])
        ),
        (
            Just("firstName".to_owned()),
            pick(&["P", "Pa", "Pat", "Pau", "pá"])
        ),
        (
            Just("lastName".to_owned()),
            pick(&["P", "Pa", "Pag", "Page", "PAGE"])
        ),
        (
            Just("filter".to_owned()),
            pick(&[
                "user.lastName.eq('Page')",
                "user.firstName.eq('Pat')",
                "user.lastName.eq('pagé')"
            ])
        ),
    ];
    let users = prop::collection::vec(criterion, 0..=2).prop_map(|criteria| {
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in criteria {
            if !params.iter().any(|(n, _)| *n == name) {
                params.push((name, value));
            }
        }
        (Route::SearchUsers, params)
    });
    (prop_oneof![transactions, users], 1usize..=7)
        .prop_map(|((route, params), limit)| Listing {
            route,
            params,
            limit,
        })
        .boxed()
}

/// Every page of `listing` at `limit`, following `next`: the ids in order.
async fn pages(
    world: &World,
    listing: &Listing,
    limit: usize,
) -> Result<Vec<String>, TestCaseError> {
    let method = "GET";
    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..200 {
        let mut spec = Spec::new(listing.route, method);
        spec.query.pairs = listing
            .params
            .iter()
            .map(|(k, v)| (k.clone(), QValue::Text(v.clone())))
            .chain([("limit".to_owned(), QValue::Text(limit.to_string()))])
            .chain(next.take().map(|n| ("next".to_owned(), QValue::Text(n))))
            .collect();
        let (_, answer) = world.send(&spec).await?;
        prop_assert_eq!(answer.status, 200, "{:?}: {}", listing, answer.body);
        check_page(&answer, limit)?;
        ids.extend(
            answer.body["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item["id"].as_str().map(str::to_owned)),
        );
        let link = answer.body["links"]["next"].as_str().unwrap_or("");
        next = link.split_once('?').and_then(|(_, query)| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "next")
                .map(|(_, v)| v.into_owned())
        });
        if next.is_none() {
            return Ok(ids);
        }
    }
    Err(TestCaseError::fail(format!(
        "{listing:?}: no end after 200 pages"
    )))
}

async fn paging_case(world: &World, listing: Listing) -> Result<(), TestCaseError> {
    let whole = pages(world, &listing, 500).await?;
    let paged = pages(world, &listing, listing.limit).await?;
    prop_assert_eq!(
        &paged,
        &whole,
        "{:?}: page by page, and in one page",
        listing
    );
    let distinct: BTreeSet<&String> = whole.iter().collect();
    prop_assert_eq!(
        distinct.len(),
        whole.len(),
        "an item listed twice: {:?}",
        listing
    );
    Ok(())
}

#[test]
fn paging_through_a_listing_gives_each_item_once_in_order() {
    property(
        "paging",
        48,
        |_| listing(),
        |world, listing| Box::pin(paging_case(world, listing)),
    );
}

// ---------------------------------------------------------------------------
// Every route, with any of everything
// ---------------------------------------------------------------------------

fn any_query(ids: &Ids) -> BoxedStrategy<Query> {
    let names = pick(&[
        "q",
        "firstName",
        "lastName",
        "email",
        "mobile",
        "filter",
        "limit",
        "next",
        "scope",
        "userId",
    ]);
    let value = prop_oneof![
        3 => text(30).prop_map(QValue::Text),
        1 => texts(user_filter(ids)),
        1 => texts(transaction_filter()),
        1 => texts(event_filter(ids)),
        1 => texts(limit()),
        1 => next_value(),
    ];
    query(
        prop::collection::vec(
            prop_oneof![4 => (names, value), 1 => unknown_parameter()],
            0..=5,
        )
        .boxed(),
    )
}

fn any_spec(ids: &Ids) -> BoxedStrategy<Spec> {
    let token = token_spec(ids);
    let ids = ids.clone();
    prop::sample::select(Route::ALL.to_vec())
        .prop_flat_map(move |route| {
            if route == Route::IssueToken {
                return token.clone();
            }
            let methods: Vec<&'static str> = route.endpoints().map(|e| e.method).collect();
            // Deletions keep off the seeded user and its connection.
            let user = match route {
                Route::DeleteUser | Route::DeleteConnection => prop_oneof![
                    Just(UserRef::Fresh),
                    Just(UserRef::FreshWithData),
                    absent_user(),
                    odd_user_id().prop_map(UserRef::Text),
                ]
                .boxed(),
                _ => prop_oneof![4 => user_ref(), 1 => Just(UserRef::Fresh)].boxed(),
            };
            let body = prop_oneof![
                2 => payload(user_body()),
                2 => payload(ingest_body()),
                2 => payload(webhook_body()),
                1 => Just(Payload::None),
                1 => token_body(&ids).prop_map(|(body, _)| body),
            ];
            (
                prop::sample::select(methods),
                user,
                record_ref(),
                any_query(&ids),
                body,
                (content_type(), idempotency_key(&["a1", "a2"]), if_match()),
                auth(),
            )
                .prop_map(
                    move |(
                        method,
                        user,
                        record,
                        query,
                        body,
                        (content_type, key, if_match),
                        auth,
                    )| {
                        let mut spec = Spec::new(route, method);
                        spec.user = user;
                        spec.record = record;
                        spec.query = query;
                        spec.body = body;
                        spec.content_type = content_type;
                        spec.idempotency_key = key;
                        spec.if_match = if_match;
                        spec.auth = auth;
                        spec
                    },
                )
                .boxed()
        })
        .boxed()
}

async fn any_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    world.send(&spec).await.map(|_| ())
}

#[test]
fn every_route_answers_anything_with_a_status_it_may_give() {
    let tally = property("every route", 224, any_spec, |world, spec| {
        Box::pin(any_case(world, spec))
    });
    let seen: BTreeSet<&str> = tally.keys().copied().collect();
    for route in Route::ALL {
        assert!(seen.contains(route.function()), "{route:?} was never sent");
    }
}

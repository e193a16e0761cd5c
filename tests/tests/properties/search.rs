//! The properties of GET /users: queries of every shape, and every
//! combination of criteria against a known user.

use super::*;

// ---------------------------------------------------------------------------
// GET /users
// ---------------------------------------------------------------------------

fn search_spec(ids: &Ids) -> BoxedStrategy<Spec> {
    (search_query(ids), auth())
        .prop_map(|(query, auth)| {
            let mut spec = Spec::new(Route::SearchUsers, "GET");
            spec.query = query;
            spec.auth = auth;
            spec
        })
        .boxed()
}

/// The `limit` a page must keep to, if the request named a valid one.
pub(crate) fn page_limit(pairs: &[(String, String)], default: usize) -> usize {
    pairs
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(default)
}

pub(crate) fn check_page(answer: &Answer, limit: usize) -> Result<(), TestCaseError> {
    let data = answer.body["data"].as_array().map(Vec::len);
    prop_assert!(
        data.is_some_and(|n| n <= limit),
        "a page of {data:?} items for a limit of {limit}"
    );
    prop_assert_eq!(answer.body["count"].as_u64(), data.map(|n| n as u64));
    prop_assert!(
        answer.body["links"]["self"].is_string(),
        "a page without its link"
    );
    Ok(())
}

async fn search_case(world: &World, spec: Spec) -> Result<(), TestCaseError> {
    let (sent, answer) = world.send(&spec).await?;
    if answer.status == 200 {
        check_page(&answer, page_limit(&sent.pairs, 25))?;
        for user in answer.body["data"].as_array().into_iter().flatten() {
            prop_assert_eq!(&user["type"], "user");
        }
    }
    Ok(())
}

#[test]
fn search_queries_of_every_shape_are_answered_or_refused_never_500() {
    property("GET /users", 256, search_spec, |world, spec| {
        Box::pin(search_case(world, spec))
    });
}

// ---------------------------------------------------------------------------
// GET /users: every combination of criteria, against a known user
// ---------------------------------------------------------------------------

/// For each criterion, a value that matches the seeded user (Zoë Quill
/// Ångström, zoe.angstrom@example.com, +61411222333) or one that does not.
fn criterion(ids: &Ids, name: &str) -> BoxedStrategy<(String, bool)> {
    let (user, other) = (ids.user.to_string(), ids.other.to_string());
    let pair = |values: Vec<String>, matches: bool| {
        prop::sample::select(values)
            .prop_map(move |v| (v, matches))
            .boxed()
    };
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match name {
        "q" => prop_oneof![
            3 => pair(
                [user.clone(), user.to_uppercase()]
                    .into_iter()
                    .chain(own(&[
                        "ZOE.ANGSTROM@example.com", "+61 411 222 333", "zo", "Ångström", "ÅNG",
                        "zoe ångström", "Ångström Zoë", "ZOË Quill Ångström",
                    ]))
                    .collect(),
                true,
            ),
            2 => pair(
                [other.clone(), "9a0e8c39-3c1f-4b7d-8d9e-2f1b6c1d2e3f".to_owned()]
                    .into_iter()
                    .chain(own(&[
                        "zora.angelou@example.org", "+61499888777", "zed", "angelou", "zora angelou",
                        "+614", "nobody@example.com", "zoe zed",
                    ]))
                    .collect(),
                false,
            ),
        ]
        .boxed(),
        "firstName" => prop_oneof![
            3 => pair(own(&["Z", "zo", "ZOË", "Zoe", "zoë", " zoe "]), true),
            2 => pair(own(&["Zor", "Zoey", "Ång", "x"]), false),
        ]
        .boxed(),
        "lastName" => prop_oneof![
            3 => pair(own(&["Å", "ang", "ÅNGSTRÖM", "angstrom", "Angst"]), true),
            2 => pair(own(&["Angel", "Zoë", "angstromm"]), false),
        ]
        .boxed(),
        "email" => prop_oneof![
            3 => pair(own(&["zoe.angstrom@example.com", "ZOE.ANGSTROM@EXAMPLE.COM", " zoe.angstrom@example.com "]), true),
            2 => pair(own(&["zora.angelou@example.org", "zoe.angstrom@example.co", "zoe@example.com"]), false),
        ]
        .boxed(),
        "mobile" => prop_oneof![
            3 => pair(own(&["+61411222333", "+61 411 222 333", "+61-411-222-333"]), true),
            2 => pair(own(&["+61499888777", "+61411222334"]), false),
        ]
        .boxed(),
        _ => {
            let matching = vec![
                format!("user.id.eq('{user}')"),
                "user.email.eq('ZOE.ANGSTROM@example.com')".to_owned(),
                "user.mobile.eq('+61 411 222 333')".to_owned(),
                "user.firstName.eq('zoë')".to_owned(),
                "user.lastName.eq('ANGSTRÖM')".to_owned(),
            ];
            let failing = vec![
                "user.firstName.eq('Zo')".to_owned(),
                "user.lastName.eq('Angelou')".to_owned(),
                format!("user.id.eq('{other}')"),
                "user.email.eq('zora.angelou@example.org')".to_owned(),
                "user.mobile.eq('+61499888777')".to_owned(),
            ];
            (
                prop::sample::subsequence(matching, 1..=3).prop_shuffle(),
                prop::option::weighted(0.4, prop::sample::select(failing)),
                any::<Index>(),
            )
                .prop_map(|(mut clauses, failing, at)| {
                    let matches = failing.is_none();
                    if let Some(clause) = failing {
                        let i = at.index(clauses.len() + 1);
                        clauses.insert(i, clause);
                    }
                    (clauses.join(","), matches)
                })
                .boxed()
        }
    }
}

const CRITERIA: [&str; 6] = ["q", "firstName", "lastName", "email", "mobile", "filter"];

async fn combinations_case(
    world: &World,
    choices: Vec<Vec<(String, bool)>>,
) -> Result<(), TestCaseError> {
    let user = world.ids.user.to_string();
    for (mask, values) in choices.iter().enumerate() {
        let chosen: Vec<(&str, &(String, bool))> = CRITERIA
            .iter()
            .zip(values)
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, (name, value))| (*name, value))
            .collect();
        let expected = chosen.iter().all(|(_, (_, matches))| *matches);
        let mut spec = Spec::new(Route::SearchUsers, "GET");
        spec.query.pairs = chosen
            .iter()
            .map(|(name, (value, _))| (name.to_string(), QValue::Text(value.clone())))
            .chain([("limit".to_owned(), QValue::Text("500".into()))])
            .collect();
        let (sent, answer) = world.send(&spec).await?;
        prop_assert_eq!(answer.status, 200, "{:?}: {}", sent.pairs, answer.body);
        let found: Vec<&str> = answer.body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["id"].as_str())
            .collect();
        prop_assert_eq!(
            found.contains(&user.as_str()),
            expected,
            "{:?} found {:?}",
            sent.pairs,
            found
        );
        prop_assert!(
            answer.body["links"]["next"].is_null(),
            "two users in one page of 500 left a next page: {:?}",
            sent.pairs
        );
    }
    Ok(())
}

#[test]
fn every_combination_of_search_criteria_finds_the_user_it_describes() {
    property(
        "GET /users, every combination",
        3,
        |ids| {
            let one = (
                criterion(ids, "q"),
                criterion(ids, "firstName"),
                criterion(ids, "lastName"),
                criterion(ids, "email"),
                criterion(ids, "mobile"),
                criterion(ids, "filter"),
            )
                .prop_map(|(a, b, c, d, e, f)| vec![a, b, c, d, e, f]);
            prop::collection::vec(one, 1 << CRITERIA.len())
        },
        |world, choices| Box::pin(combinations_case(world, choices)),
    );
}

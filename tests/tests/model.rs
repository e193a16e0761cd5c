//! A model-based, stateful test: random, seeded, shrinking sequences of steps,
//! each a few operations from concurrent clients, against the real handlers
//! on DynamoDB Local, through the fault-injection layer (throttling,
//! `UnprocessedItems`, transaction conflicts, lost acknowledgements, and
//! crashes that drop a handler mid-way, as a Lambda timeout does). A simple
//! in-memory model says what each answer may be; after the run quiesces
//! (every deletion driven to its end), the table and the API are checked
//! against it. The invariants:
//!
//! 1. No answer is a 5xx but a 503; no 404 for a user or connection the model
//!    knows is there.
//! 2. No item belongs to a user or a connection that is gone; every account
//!    and transaction belongs to a connection that is there, and every
//!    transaction to an account of its own connection.
//! 3. A deleted user is never readable, is not findable once the indexes
//!    settle, and never comes back; nothing of it (its idempotency records
//!    included) stays in the table.
//! 4. Every acknowledged write is visible unless a later acknowledged delete
//!    removed it; a replayed answer is never for data that is not there.
//! 5. Versions rise: no answer shows an older version than one seen before,
//!    and one `If-Match` version has at most one winner.
//!
//! `make test` runs `MODEL_CASES` sequences (default 24); `make soak` runs 100
//! times more from a random seed, which it prints. `SEED=<n>` replays a run:
//! the same sequences and the same fault plan (concurrent requests may still
//! interleave differently).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner,
};
use serde_json::{json, Value};
use shared::routes::Route;
use shared::App;
use tests::api::{event, TestApi};
use tests::events::{handover_event, Reply};
use tests::faults::{Faults, Plan};
use tests::TestEnv;

const SLOTS: usize = 3;
const CONNECTIONS: u8 = 3;
const ACCOUNTS: u8 = 4;
const LEASE: Duration = Duration::from_millis(1_200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    First,
    Middle,
    Last,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::First => "firstName",
            Field::Middle => "middleName",
            Field::Last => "lastName",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfMatch {
    None,
    Current,
    Stale,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Create {
        slot: usize,
    },
    Update {
        slot: usize,
        field: Field,
        value: u8,
        if_match: IfMatch,
    },
    Delete {
        slot: usize,
        hand_over: bool,
    },
    Ingest {
        slot: usize,
        conn: u8,
        accounts: Vec<u8>,
        transactions: u8,
        keyed: bool,
    },
    DeleteConnection {
        slot: usize,
        conn: u8,
    },
    Read {
        slot: usize,
    },
    Purge {
        slot: usize,
    },
}

impl Op {
    fn slot(&self) -> usize {
        match self {
            Op::Create { slot }
            | Op::Update { slot, .. }
            | Op::Delete { slot, .. }
            | Op::Ingest { slot, .. }
            | Op::DeleteConnection { slot, .. }
            | Op::Read { slot }
            | Op::Purge { slot } => *slot,
        }
    }
}

#[derive(Debug, Clone)]
struct Step {
    ops: Vec<Op>,
    /// Crash the (only) operation after this many of its requests.
    crash_after: Option<usize>,
}

#[derive(Debug, Clone)]
struct Case {
    steps: Vec<Step>,
    faults: Plan,
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        3 => slot.clone().prop_map(|slot| Op::Create { slot }),
        3 => (slot.clone(), prop_oneof![Just(Field::First), Just(Field::Middle), Just(Field::Last)], 0..4u8,
              prop_oneof![Just(IfMatch::None), Just(IfMatch::Current), Just(IfMatch::Stale)])
            .prop_map(|(slot, field, value, if_match)| Op::Update { slot, field, value, if_match }),
        2 => (slot.clone(), any::<bool>()).prop_map(|(slot, hand_over)| Op::Delete { slot, hand_over }),
        4 => (slot.clone(), 0..CONNECTIONS, proptest::collection::btree_set(0..ACCOUNTS, 1..=2), 0..40u8, any::<bool>())
            .prop_map(|(slot, conn, accounts, transactions, keyed)| Op::Ingest {
                slot, conn, accounts: accounts.into_iter().collect(), transactions, keyed,
            }),
        2 => (slot.clone(), 0..CONNECTIONS).prop_map(|(slot, conn)| Op::DeleteConnection { slot, conn }),
        3 => slot.clone().prop_map(|slot| Op::Read { slot }),
        1 => slot.prop_map(|slot| Op::Purge { slot }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => proptest::collection::vec(op(), 1..=3).prop_map(|ops| Step { ops, crash_after: None }),
        1 => (op(), 1..6usize).prop_map(|(op, n)| Step { ops: vec![op], crash_after: Some(n) }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let plan = prop_oneof![
        Just(Plan::default()),
        Just(Plan {
            throttle: 0.03,
            unprocessed: 0.05,
            conflict: 0.03,
            lost_ack: 0.03,
            slow: None
        }),
        Just(Plan {
            throttle: 0.08,
            unprocessed: 0.15,
            conflict: 0.08,
            lost_ack: 0.08,
            slow: None
        }),
    ];
    (proptest::collection::vec(step(), 1..=14), plan)
        .prop_map(|(steps, faults)| Case { steps, faults })
}

/// What the model knows of a value: this, or not for sure.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Known<T> {
    Is(T),
    Unsure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Absent,
    Live,
    /// A 202: deleted for every reader, its items going.
    Deleting,
    Gone,
    /// A write that may or may not have happened (a 503, a crash, a race).
    Unsure,
}

#[derive(Debug, Clone)]
struct Conn {
    state: State,
    accounts: BTreeSet<u8>,
    /// Transactions acknowledged (201) since the connection was last gone.
    transactions: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct Slot {
    id: Option<String>,
    /// Every id this slot's user ever had, for the checks of deleted users.
    gone_ids: Vec<String>,
    /// Whether a DELETE was sent for the current user, whatever it answered.
    delete_sent: bool,
    /// Earlier users of this slot whose deletion had begun (see `apply`) but
    /// may have been cut short: `quiesce` finishes them.
    unfinished: Vec<String>,
    state: State,
    generation: u32,
    fields: BTreeMap<&'static str, Known<String>>,
    conns: BTreeMap<u8, Conn>,
    /// The highest version any answer showed.
    version: u64,
    winners: BTreeMap<u64, usize>,
}

impl Slot {
    fn new() -> Self {
        Self {
            id: None,
            gone_ids: Vec::new(),
            delete_sent: false,
            unfinished: Vec::new(),
            state: State::Absent,
            generation: 0,
            fields: BTreeMap::new(),
            conns: BTreeMap::new(),
            version: 0,
            winners: BTreeMap::new(),
        }
    }

    fn user_id(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

struct Model {
    slots: Vec<Slot>,
    case_tag: String,
}

fn email(tag: &str, slot: usize) -> String {
    format!("slot{slot}.{tag}@model.test")
}

fn version_of(reply: &Reply) -> Option<u64> {
    reply
        .headers
        .get("etag")?
        .to_str()
        .ok()?
        .trim_matches('"')
        .parse()
        .ok()
}

fn ingest_body(conn: u8, accounts: &[u8], transactions: u8) -> Value {
    let accounts_json: Vec<Value> = accounts
        .iter()
        .map(|a| {
            json!({"id": format!("a{a}"), "name": "Everyday", "accountNo": "062000 12345678",
            "balance": "10.00", "availableFunds": "10.00", "currency": "AUD",
            "class": {"type": "transaction"}, "status": "available"})
        })
        .collect();
    let transactions_json: Vec<Value> = (0..transactions)
        .map(|n| json!({"id": format!("t{n}"), "account": format!("a{}", accounts[n as usize % accounts.len()]),
            "status": "posted", "description": "Coffee", "amount": "-4.50", "direction": "debit",
            "class": "payment", "postDate": format!("2024-01-{:02}T09:30:00Z", 1 + n % 28)}))
        .collect();
    json!({"id": format!("c{conn}"), "institution": {"id": "AU00000", "name": "Hooli Bank"},
        "status": "active", "accounts": accounts_json, "transactions": transactions_json})
}

/// One operation, sent as a client would.
async fn send(
    api: TestApi<'_>,
    zero_budget: TestApi<'_>,
    app: &App,
    model: &Model,
    op: &Op,
) -> Result<Reply, String> {
    let slot = &model.slots[op.slot()];
    let user = slot.user_id();
    Ok(match op {
        Op::Create { slot: s } => {
            let body = json!({"email": email(&model.case_tag, *s), "firstName": "Created"});
            let key = format!("create-{s}-{}", slot.generation);
            api.call(
                Route::CreateUser,
                event(Route::CreateUser, "POST", &[])
                    .json(&body)
                    .header("idempotency-key", &key),
            )
            .await
        }
        Op::Update {
            field,
            value,
            if_match,
            ..
        } => {
            let body = json!({ field.name(): format!("V{value}") });
            let mut e = tests::api::user_event(Route::UpdateUser, "PATCH", &user).json(&body);
            match if_match {
                IfMatch::None => {}
                IfMatch::Current => {
                    e = e.header("if-match", &format!("\"{}\"", slot.version.max(1)))
                }
                IfMatch::Stale => {
                    e = e.header(
                        "if-match",
                        &format!("\"{}\"", slot.version.saturating_sub(1)),
                    )
                }
            }
            api.call(Route::UpdateUser, e).await
        }
        Op::Delete { hand_over, .. } => {
            let api = if *hand_over { zero_budget } else { api };
            api.delete_user(&user).await
        }
        Op::Ingest {
            conn,
            accounts,
            transactions,
            keyed,
            ..
        } => {
            let mut e = tests::api::user_event(Route::IngestConnection, "POST", &user)
                .json(&ingest_body(*conn, accounts, *transactions));
            if *keyed {
                e = e.header(
                    "idempotency-key",
                    &format!("ingest-{conn}-{accounts:?}-{transactions}"),
                );
            }
            api.call(Route::IngestConnection, e).await
        }
        Op::DeleteConnection { conn, .. } => {
            api.delete_connection(&user, &format!("c{conn}")).await
        }
        Op::Read { .. } => api.get_user(&user).await,
        Op::Purge { .. } => {
            let mut context = lambda_runtime::Context::default();
            context.deadline = (tests::time_now() as u64 + 120) * 1000;
            let purged = shared::stream::purge_users(
                app,
                lambda_runtime::LambdaEvent::new(handover_event(&user), context),
            )
            .await;
            Reply {
                status: if purged.is_ok() { 200 } else { 503 },
                headers: Default::default(),
                body: Value::Null,
            }
        }
    })
}

/// Folds one answer into the model, failing on any answer the model rules out.
/// `target` is the user the operation was sent for.
fn apply(
    model: &mut Model,
    op: &Op,
    reply: Option<&Reply>,
    target: Option<&str>,
    contended: bool,
) -> Result<(), String> {
    let slot = &mut model.slots[op.slot()];
    let status = reply.map(|r| r.status);
    // An operation for a made-up user, or for one the slot no longer holds,
    // says nothing of the slot's user (but must not be a server error).
    if !matches!(op, Op::Create { .. }) && (target.is_none() || target != slot.id.as_deref()) {
        return match status {
            Some(s) if s >= 500 && s != 503 => Err(format!("{op:?} answered {s}")),
            _ => Ok(()),
        };
    }
    if let Some(s) = status {
        if s >= 500 && s != 503 {
            return Err(format!(
                "{op:?} answered {s}: {:#}",
                reply.map(|r| &r.body).unwrap_or(&Value::Null)
            ));
        }
        if let Some(v) = reply.and_then(version_of) {
            if matches!(op, Op::Read { .. }) && v < slot.version && !contended {
                return Err(format!(
                    "{op:?}: version {v} after {} was seen",
                    slot.version
                ));
            }
            slot.version = slot.version.max(v);
        }
    }
    let certain_live = slot.state == State::Live;
    let unsure = |slot: &mut Slot| {
        if slot.state != State::Gone || slot.id.is_some() {
            slot.state = State::Unsure;
        }
    };
    if matches!(op, Op::Delete { .. }) {
        slot.delete_sent = true;
    }
    match (op, status) {
        (Op::Create { .. }, Some(201)) => {
            let id = reply.map(|r| r.id()).unwrap_or_default();
            if slot.id.as_deref() != Some(id.as_str()) {
                if let Some(old) = slot.id.take() {
                    match slot.state {
                        State::Gone => {}
                        // The key made a new user, so its record was gone:
                        // the old user's deletion had begun (its tombstone
                        // is written before its records go), though a crash
                        // may have cut it short. Its stream record would
                        // finish it; at rest, the model does.
                        _ if slot.delete_sent => slot.unfinished.push(old),
                        _ => return Err(format!("{op:?}: a new user {id} while {old} may live")),
                    }
                }
                slot.delete_sent = false;
                slot.id = Some(id);
                slot.fields = BTreeMap::from([("firstName", Known::Is("Created".into()))]);
                slot.conns.clear();
                slot.version = 1;
                slot.winners.clear();
            }
            slot.state = if contended {
                State::Unsure
            } else {
                State::Live
            };
        }
        (Op::Create { .. }, Some(404)) => {
            // The key's user was created and has since been deleted (by a
            // DELETE of the same step, when contended).
            if slot.state == State::Live && !contended {
                return Err(format!("{op:?}: 404 for a live user's key"));
            }
            slot.generation += 1;
        }
        (Op::Create { .. }, Some(409)) => {} // the same key in flight
        (Op::Create { .. }, _) => {
            if slot.id.is_none() {
                slot.state = State::Unsure;
            }
        }
        (
            Op::Update {
                field,
                value,
                if_match,
                ..
            },
            Some(200),
        ) => {
            let now = reply.and_then(version_of).unwrap_or(0);
            if *if_match != IfMatch::None {
                let tag = now.saturating_sub(1);
                let winners = slot.winners.entry(tag).or_default();
                *winners += 1;
                if *winners > 1 {
                    return Err(format!("two If-Match winners for version {tag}"));
                }
            }
            let known = if contended {
                Known::Unsure
            } else {
                Known::Is(format!("V{value}"))
            };
            slot.fields.insert(field.name(), known);
        }
        (Op::Update { .. }, Some(404)) if certain_live && !contended => {
            return Err(format!("{op:?}: 404 for a live user"));
        }
        (Op::Update { .. }, Some(404 | 412)) => {}
        (Op::Update { field, .. }, _) => {
            slot.fields.insert(field.name(), Known::Unsure);
        }
        (Op::Delete { .. }, Some(204)) => gone(slot),
        (Op::Delete { .. }, Some(202)) => slot.state = State::Deleting,
        (Op::Delete { .. }, Some(404)) if certain_live && !contended => {
            return Err(format!("{op:?}: 404 for a live user"));
        }
        (Op::Delete { .. }, Some(404)) => {
            if slot.id.is_some() && slot.state != State::Deleting {
                gone(slot);
            }
        }
        (Op::Delete { .. }, _) => unsure(slot),
        (
            Op::Ingest {
                conn,
                accounts,
                transactions,
                ..
            },
            Some(201),
        ) => {
            let c = slot.conns.entry(*conn).or_insert(Conn {
                state: State::Live,
                accounts: BTreeSet::new(),
                transactions: BTreeSet::new(),
            });
            c.state = if contended {
                State::Unsure
            } else {
                State::Live
            };
            c.accounts.extend(accounts.iter().copied());
            c.transactions
                .extend((0..*transactions).map(|n| format!("t{n}")));
        }
        (Op::Ingest { .. }, Some(404)) if certain_live && !contended => {
            return Err(format!("{op:?}: 404 for a live user"));
        }
        (Op::Ingest { conn, accounts, .. }, Some(409)) => {
            // An account another connection may hold, or this one busy.
            let clash = slot.conns.iter().any(|(other, c)| {
                other != conn
                    && c.state != State::Gone
                    && accounts.iter().any(|a| c.accounts.contains(a))
            });
            let busy = slot
                .conns
                .get(conn)
                .is_some_and(|c| c.state == State::Unsure);
            if !clash && !busy && !contended && certain_live {
                return Err(format!("{op:?}: 409 with no clash and nothing in flight"));
            }
        }
        (Op::Ingest { .. }, Some(404)) => {}
        (Op::Ingest { conn, accounts, .. }, _) => {
            let c = slot.conns.entry(*conn).or_insert(Conn {
                state: State::Unsure,
                accounts: BTreeSet::new(),
                transactions: BTreeSet::new(),
            });
            c.state = State::Unsure;
            c.accounts.extend(accounts.iter().copied());
        }
        (Op::DeleteConnection { conn, .. }, Some(204)) => {
            if let Some(c) = slot.conns.get_mut(conn) {
                c.state = State::Gone;
                c.accounts.clear();
                c.transactions.clear();
            }
        }
        (Op::DeleteConnection { conn, .. }, Some(404)) => {
            let known_live = slot.conns.get(conn).is_some_and(|c| c.state == State::Live);
            if certain_live && known_live && !contended {
                return Err(format!("{op:?}: 404 for a live connection"));
            }
        }
        (Op::DeleteConnection { conn, .. }, _) => {
            if let Some(c) = slot.conns.get_mut(conn) {
                c.state = State::Unsure;
            }
        }
        (Op::Read { .. }, Some(200)) => {
            if matches!(slot.state, State::Gone | State::Deleting) {
                return Err(format!("{op:?}: a deleted user is readable"));
            }
            if certain_live && !contended {
                let body = &reply.map(|r| r.body.clone()).unwrap_or_default();
                for (field, known) in &slot.fields {
                    if let Known::Is(value) = known {
                        if body[field] != json!(value) {
                            return Err(format!(
                                "{op:?}: {field} is {} where {value} was acknowledged",
                                body[field]
                            ));
                        }
                    }
                }
                let listed: BTreeSet<String> = body["connections"]["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["id"].as_str().map(str::to_owned))
                    .collect();
                for (conn, c) in &slot.conns {
                    let name = format!("c{conn}");
                    match c.state {
                        State::Live if !listed.contains(&name) => {
                            return Err(format!("{op:?}: acknowledged {name} is missing"))
                        }
                        State::Gone if listed.contains(&name) => {
                            return Err(format!("{op:?}: deleted {name} is listed"))
                        }
                        _ => {}
                    }
                }
            }
        }
        (Op::Read { .. }, Some(404)) if certain_live && !contended => {
            return Err(format!("{op:?}: 404 for a live user"));
        }
        (Op::Read { .. }, _) => {}
        (Op::Purge { .. }, Some(200)) => {
            if slot.state == State::Deleting {
                gone(slot);
            }
        }
        (Op::Purge { .. }, _) => {}
    }
    Ok(())
}

fn gone(slot: &mut Slot) {
    if let Some(id) = slot.id.take() {
        slot.gone_ids.push(id);
    }
    slot.state = State::Gone;
    slot.generation += 1;
    slot.fields.clear();
    slot.conns.clear();
}

async fn run_case(
    case: Case,
    seed: u64,
    tally: &std::sync::Mutex<BTreeMap<&'static str, usize>>,
) -> Result<(), String> {
    let faults = Faults::new(seed);
    let env = TestEnv::with_faults(&faults, |c| {
        c.ingest_lease = LEASE;
        c.delete_parallelism = 4;
    })
    .await;
    let zero_budget_app = {
        let mut config = env.app.config.clone();
        config.delete_budget = Duration::ZERO;
        App::new(env.app.store.client().clone(), config)
    };
    let api = env.api();
    let zero_budget = TestApi::new(&zero_budget_app);
    let mut model = Model {
        slots: (0..SLOTS).map(|_| Slot::new()).collect(),
        case_tag: uuid::Uuid::new_v4().simple().to_string(),
    };
    faults.plan(case.faults.clone());

    for step in &case.steps {
        let mut per_slot: HashMap<usize, usize> = HashMap::new();
        for op in &step.ops {
            *per_slot.entry(op.slot()).or_default() += 1;
        }
        let targets: Vec<Option<String>> = step
            .ops
            .iter()
            .map(|op| model.slots[op.slot()].id.clone())
            .collect();
        let replies: Vec<Option<Reply>> = if let Some(n) = step.crash_after {
            faults.crash_after(n);
            let reply = faults
                .run(send(api, zero_budget, &env.app, &model, &step.ops[0]))
                .await;
            faults.clear();
            faults.plan(case.faults.clone());
            vec![reply.transpose()?]
        } else {
            let sends = step
                .ops
                .iter()
                .map(|op| send(api, zero_budget, &env.app, &model, op));
            futures::future::join_all(sends)
                .await
                .into_iter()
                .map(|r| r.map(Some))
                .collect::<Result<_, _>>()?
        };
        for ((op, reply), target) in step.ops.iter().zip(&replies).zip(&targets) {
            let contended = per_slot[&op.slot()] > 1;
            apply(&mut model, op, reply.as_ref(), target.as_deref(), contended)?;
        }
    }
    {
        let mut tally = tally.lock().map_err(|e| e.to_string())?;
        for (kind, n) in faults.injected() {
            *tally.entry(kind).or_default() += n;
        }
    }
    quiesce(&env, &faults, api, &mut model).await?;
    check(&env, api, &model).await
}

/// Deletes user `id` through the API until it is gone, driving purge-user
/// when DELETE hands over, as the table's stream would.
async fn finish_deletion(env: &TestEnv, api: TestApi<'_>, id: &str) -> Result<(), String> {
    for _ in 0..20 {
        let reply = api.delete_user(id).await;
        match reply.status {
            204 | 404 => break,
            202 => {
                let mut context = lambda_runtime::Context::default();
                context.deadline = (tests::time_now() as u64 + 120) * 1000;
                shared::stream::purge_users(
                    &env.app,
                    lambda_runtime::LambdaEvent::new(handover_event(id), context),
                )
                .await
                .map_err(|e| format!("purge-user failed at rest: {e}"))?;
            }
            s => return Err(format!("DELETE at rest answered {s}: {:#}", reply.body)),
        }
    }
    Ok(())
}

/// Drives every deletion the run left under way to its end, as the clients
/// (and purge-user) would, with no more faults.
async fn quiesce(
    env: &TestEnv,
    faults: &Faults,
    api: TestApi<'_>,
    model: &mut Model,
) -> Result<(), String> {
    faults.clear();
    tokio::time::sleep(LEASE + Duration::from_millis(200)).await;
    for slot in model.slots.iter_mut() {
        for old in std::mem::take(&mut slot.unfinished) {
            finish_deletion(env, api, &old).await?;
            slot.gone_ids.push(old);
        }
        let Some(id) = slot.id.clone() else { continue };
        if matches!(slot.state, State::Deleting | State::Unsure) {
            finish_deletion(env, api, &id).await?;
            gone(slot);
            continue;
        }
        for (conn, c) in slot.conns.iter_mut() {
            if c.state != State::Unsure {
                continue;
            }
            for _ in 0..20 {
                let reply = api.delete_connection(&id, &format!("c{conn}")).await;
                match reply.status {
                    204 | 404 => break,
                    409 | 503 => tokio::time::sleep(Duration::from_millis(300)).await,
                    s => {
                        return Err(format!(
                            "DELETE c{conn} at rest answered {s}: {:#}",
                            reply.body
                        ))
                    }
                }
            }
            c.state = State::Gone;
            c.accounts.clear();
            c.transactions.clear();
        }
    }
    Ok(())
}

fn text(item: &HashMap<String, AttributeValue>, attr: &str) -> String {
    item.get(attr)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// The invariants at rest: the whole table, and the API.
async fn check(env: &TestEnv, api: TestApi<'_>, model: &Model) -> Result<(), String> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = env
            .client()
            .scan()
            .table_name(&env.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let mut partitions: BTreeMap<String, Vec<HashMap<String, AttributeValue>>> = BTreeMap::new();
    for item in items {
        partitions.entry(text(&item, "pk")).or_default().push(item);
    }
    let mut live_users = BTreeSet::new();
    for (pk, items) in &partitions {
        let by_sk: BTreeMap<String, &HashMap<String, AttributeValue>> =
            items.iter().map(|i| (text(i, "sk"), i)).collect();
        if let Some(user) = pk.strip_prefix("USER#") {
            let profile = by_sk.get("PROFILE").ok_or_else(|| {
                format!(
                    "orphans of a user without a profile: {pk}: {:?}",
                    by_sk.keys().collect::<Vec<_>>()
                )
            })?;
            if profile.contains_key("deletedAt") {
                return Err(format!("a deletion left at rest: {pk}"));
            }
            live_users.insert(user.to_owned());
            for (sk, item) in &by_sk {
                if sk == "PURGE" {
                    return Err(format!("a hand-over in a live user's partition: {pk}"));
                }
                if sk.starts_with("CONN#") && item.contains_key("deletedAt") {
                    return Err(format!("a connection deletion left at rest: {pk} {sk}"));
                }
                if sk.starts_with("ACCT#") {
                    let conn = text(item, "connection");
                    if !by_sk.contains_key(&format!("CONN#{conn}")) {
                        return Err(format!("an orphan account {sk} of {conn} in {pk}"));
                    }
                }
                if sk.starts_with("TXN#") {
                    let (conn, account) = (text(item, "connection"), text(item, "account"));
                    if !by_sk.contains_key(&format!("CONN#{conn}")) {
                        return Err(format!("an orphan transaction {sk} of {conn} in {pk}"));
                    }
                    let owner = by_sk
                        .get(&format!("ACCT#{account}"))
                        .map(|a| text(a, "connection"));
                    if owner.as_deref() != Some(conn.as_str()) {
                        return Err(format!("transaction {sk} of {conn} under account {account} of {owner:?} in {pk}"));
                    }
                }
            }
        }
    }
    for (pk, items) in &partitions {
        if pk.starts_with("IDEMPOTENCY#") {
            for item in items {
                let user = text(item, "userId");
                if !live_users.contains(&user) {
                    return Err(format!("an idempotency record of user {user}, who is gone"));
                }
            }
        }
    }
    for (n, slot) in model.slots.iter().enumerate() {
        for id in &slot.gone_ids {
            if partitions.contains_key(&format!("USER#{id}")) {
                return Err(format!("deleted user {id} has items left"));
            }
            let reply = api.get_user(id).await;
            if reply.status != 404 {
                return Err(format!("deleted user {id} answers {}", reply.status));
            }
        }
        if !slot.gone_ids.is_empty() {
            let mut found = Vec::new();
            for _ in 0..20 {
                let reply = api
                    .search_users(&[("email", &email(&model.case_tag, n))])
                    .await;
                found = reply.body["data"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|u| u["id"].as_str().map(str::to_owned))
                    .filter(|id| slot.gone_ids.contains(id))
                    .collect();
                if found.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !found.is_empty() {
                return Err(format!("deleted users are still found: {found:?}"));
            }
        }
        let (Some(id), State::Live) = (&slot.id, slot.state) else {
            continue;
        };
        let reply = api.get_user(id).await;
        if reply.status != 200 {
            return Err(format!("live user {id} answers {}", reply.status));
        }
        for (field, known) in &slot.fields {
            if let Known::Is(value) = known {
                if reply.body[field] != json!(value) {
                    return Err(format!(
                        "user {id}: {field} is {} where {value} was acknowledged",
                        reply.body[field]
                    ));
                }
            }
        }
        for (conn, c) in &slot.conns {
            if c.state != State::Live {
                continue;
            }
            for t in &c.transactions {
                let got = api.get_transaction(id, t).await;
                let by_conn = api.list_transactions(id, &[("limit", "500")]).await;
                let present = by_conn.body["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| x["id"] == json!(t) && x["connection"] == json!(format!("c{conn}")));
                if got.status != 200 || !present {
                    return Err(format!(
                        "user {id}: acknowledged transaction {t} of c{conn} is missing ({})",
                        got.status
                    ));
                }
            }
        }
    }
    Ok(())
}

fn seed() -> u64 {
    std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0001)
}

#[test]
fn the_service_keeps_its_invariants_under_faults_and_races() {
    let cases: u32 = std::env::var("MODEL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let seed = seed();
    println!("model: {cases} sequences, SEED={seed}");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let counter = std::sync::atomic::AtomicU64::new(0);
    let totals = std::sync::Mutex::new((0usize, 0usize));
    let tally = std::sync::Mutex::new(BTreeMap::new());
    let result = runner.run(&case(), |case| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        {
            let mut t = totals.lock().unwrap();
            t.0 += 1;
            t.1 += case.steps.iter().map(|s| s.ops.len()).sum::<usize>();
        }
        runtime
            .block_on(run_case(case, seed ^ n, &tally))
            .map_err(TestCaseError::fail)
    });
    let (sequences, operations) = *totals.lock().unwrap();
    println!("model: {sequences} sequences run (shrinking included), {operations} operations");
    println!("model: faults injected: {:?}", tally.lock().unwrap());
    if let Err(err) = result {
        panic!("SEED={seed}: {err}");
    }
}

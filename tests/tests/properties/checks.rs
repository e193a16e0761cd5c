//! What every answer must hold.

use super::*;

/// Basiq's codes for each status this API answers.
fn codes_for(status: u16) -> &'static [&'static str] {
    match status {
        400 => &[
            "parameter-not-valid",
            "parameter-not-supplied",
            "invalid-content",
        ],
        401 => &["unauthorized-access", "invalid-authorization-token"],
        403 => &["forbidden-access", "access-denied"],
        404 => &["resource-not-found"],
        409 => &["resource-conflict", "idempotency-key-reused"],
        412 => &["precondition-failed"],
        413 | 415 => &["invalid-content"],
        _ => &[],
    }
}

/// The schema of Basiq's API 3.0 (tests/contract/core.yml) an answer must
/// match: its error bodies for every route (they come from one place), and
/// the token and user bodies where the contract defines them.
pub(crate) fn contract(route: Route, status: u16) -> Option<&'static str> {
    match (route, status) {
        (Route::IssueToken, 200) => Some("TokenPostResponse"),
        (Route::CreateUser, 201) | (Route::UpdateUser, 200) => Some("UserPostResponse"),
        (Route::GetUser, 200) => Some("UserGetResponse"),
        (_, 400) => Some("BadRequestError"),
        (_, 401) => Some("UnauthorizedError"),
        (_, 403) => Some("ForbiddenAccessError"),
        (_, 404) => Some("NotFoundError"),
        _ => None,
    }
}

/// Routes that read one user and what it owns: CLIENT_ACCESS may, for its user.
fn reads_one_user(route: Route) -> bool {
    matches!(
        route,
        Route::GetUser
            | Route::ListConnections
            | Route::GetConnection
            | Route::ListAccounts
            | Route::GetAccount
            | Route::ListTransactions
            | Route::GetTransaction
    )
}

fn basiq_error(answer: &Answer) -> Result<(), String> {
    let body = &answer.body;
    if body["type"] != "list" {
        return Err("a 4xx body is not a Basiq list".into());
    }
    if body["correlationId"].as_str().is_none_or(str::is_empty) {
        return Err("a 4xx without a correlationId".into());
    }
    let entries = body["data"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if entries.is_empty() || entries.len() > 20 {
        return Err(format!("{} error entries", entries.len()));
    }
    for entry in entries {
        let code = entry["code"].as_str().unwrap_or("");
        if entry["type"] != "error" || !codes_for(answer.status).contains(&code) {
            return Err(format!("code {code:?} does not fit {}", answer.status));
        }
        for field in ["title", "detail"] {
            if entry[field].as_str().is_none_or(str::is_empty) {
                return Err(format!("an error entry without a {field}"));
            }
        }
        if let Some(source) = entry.get("source") {
            let pointer = source.get("pointer").map(Value::is_string);
            let parameter = source.get("parameter").map(Value::is_string);
            if !matches!(
                (pointer, parameter),
                (Some(true), None) | (None, Some(true))
            ) {
                return Err(format!(
                    "a source that is neither a pointer nor a parameter: {source}"
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn check_answer(
    spec: &Spec,
    sent: &Sent,
    answer: &Answer,
    ops: &[String],
) -> Result<(), String> {
    let status = answer.status;
    if status >= 500 {
        return Err(format!("a server error ({status})"));
    }
    if !matches!(status, 200 | 201 | 202 | 204) && codes_for(status).is_empty() {
        return Err(format!("an unexpected status {status}"));
    }
    if answer.is_client_error() {
        basiq_error(answer)?;
    } else if status != 204 && !answer.body.is_object() {
        return Err("a success without a JSON object".into());
    }
    let writes: Vec<&String> = ops
        .iter()
        .filter(|op| WRITES.contains(&op.as_str()))
        .collect();
    if spec.method == "GET" && !writes.is_empty() {
        return Err(format!("a read wrote: {writes:?}"));
    }
    // POST /token writes only its key's last use (a 200), or the audit
    // entry of a refused key (a 401).
    let token_writes: &[&str] = match status {
        200 => &["UpdateItem"],
        401 => &["PutItem"],
        _ => &[],
    };
    if spec.route == Route::IssueToken && writes.iter().any(|w| !token_writes.contains(&w.as_str()))
    {
        return Err(format!(
            "POST /token answered {status} and wrote: {writes:?}"
        ));
    }
    if spec.route == Route::IssueToken {
        return Ok(());
    }
    // Refusals that need no data are made before any is read; a refused
    // sign-in only records itself in the audit trail.
    let audited_refusal = spec.route == Route::SignIn && ops.iter().all(|op| op == "PutItem");
    if matches!(status, 401 | 403 | 413 | 415) && !ops.is_empty() && !audited_refusal {
        return Err(format!("a {status} made DynamoDB requests"));
    }
    let operators_only = matches!(
        spec.route,
        Route::SignIn
            | Route::CreateApiKey
            | Route::ListApiKeys
            | Route::RevokeApiKey
            | Route::ListAudit
    );
    match sent.caller {
        Caller::Nobody if status != 401 => {
            Err("an unauthenticated request not refused with 401".into())
        }
        Caller::Expired if status != 403 || answer.code() != "access-denied" => {
            Err("an expired token not refused with 403 access-denied".into())
        }
        Caller::Client(id) if reads_one_user(spec.route) => match UserId::parse(&sent.path_user) {
            Err(_) if status != 400 || answer.parameter() != "userId" => {
                Err("a malformed user id not refused with 400 at userId".into())
            }
            Ok(user) if user != id && status != 403 => {
                Err("a CLIENT_ACCESS token read another user".into())
            }
            Ok(user) if user == id && !matches!(status, 200 | 400 | 404) => {
                Err("a CLIENT_ACCESS token was refused its own user".into())
            }
            _ => Ok(()),
        },
        Caller::Client(_) if status != 403 || answer.code() != "forbidden-access" => {
            Err("a CLIENT_ACCESS token not refused with 403 where it needs SERVER_ACCESS".into())
        }
        Caller::Server if operators_only && status != 403 => {
            Err("a SERVER_ACCESS token not refused on an operators' route".into())
        }
        Caller::Server if !operators_only && matches!(status, 401 | 403) => {
            Err("a valid SERVER_ACCESS token refused".into())
        }
        Caller::Operator(role) => {
            let allowed = match spec.route {
                Route::CreateUser
                | Route::UpdateUser
                | Route::DeleteUser
                | Route::IngestConnection
                | Route::DeleteConnection => role >= Role::Editor,
                Route::CreateWebhook
                | Route::ListWebhooks
                | Route::GetWebhook
                | Route::DeleteWebhook
                | Route::RotateWebhookSecret
                | Route::TestWebhook
                | Route::ListWebhookDeliveries
                | Route::CreateApiKey
                | Route::ListApiKeys
                | Route::RevokeApiKey
                | Route::ListAudit => role == Role::Admin,
                _ => true,
            };
            match (allowed, status) {
                (true, 401 | 403) => Err(format!("a {role} operator refused")),
                (false, s) if s != 403 => Err(format!("a {role} operator not refused with 403")),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

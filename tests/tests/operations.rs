//! What template.yaml promises the people who run the service: every
//! function logs to a group with a retention and has its alarms, every
//! dead-letter queue raises an alarm, every alarm reaches the topic and names
//! an entry of the README's runbook, the table cannot be deleted by mistake,
//! the access log carries no query string, and every function that holds a
//! secret can be given its previous version during a rotation.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml::{Mapping, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap()).unwrap()
}

fn resources(template: &Value) -> Mapping {
    template["Resources"].as_mapping().unwrap().clone()
}

/// The resources of one type, by logical id.
fn of_type(template: &Value, kind: &str) -> Vec<(String, Value)> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str().unwrap().to_owned(), r))
        .collect()
}

/// The argument of an intrinsic function (`!Ref X`, `!GetAtt X.Y`, `!Sub …`).
fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(t) if t.tag == tag => Some(&t.value),
        _ => None,
    }
}

fn ref_to(value: &Value) -> Option<&str> {
    tagged(value, "Ref").and_then(Value::as_str)
}

fn get_att(value: &Value) -> Option<&str> {
    tagged(value, "GetAtt").and_then(Value::as_str)
}

fn alarms(template: &Value) -> Vec<(String, Value)> {
    of_type(template, "AWS::CloudWatch::Alarm")
}

/// The alarms on a metric (a plain one, not metric math) with this dimension.
fn alarms_on(template: &Value, metric: &str, dimension: &str, target: &str) -> Vec<String> {
    alarms(template)
        .into_iter()
        .filter(|(_, a)| a["Properties"]["MetricName"] == metric)
        .filter(|(_, a)| {
            a["Properties"]["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .any(|d| {
                    d["Name"] == dimension
                        && (ref_to(&d["Value"]) == Some(target)
                            || get_att(&d["Value"]) == Some(&format!("{target}.QueueName")))
                })
        })
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn every_function_logs_to_a_group_with_a_retention_and_has_its_alarms() {
    let template = template();
    let functions = of_type(&template, "AWS::Serverless::Function");
    assert!(functions.len() >= 17, "{}", functions.len());
    let groups = resources(&template);
    for (id, function) in &functions {
        let group = ref_to(&function["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{id} logs to no declared log group"));
        let group = &groups[group];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup", "{id}");
        assert_eq!(
            ref_to(&group["Properties"]["RetentionInDays"]),
            Some("LogRetentionDays"),
            "{id}'s log group keeps its logs forever"
        );
        for metric in ["Errors", "Throttles"] {
            assert_eq!(
                alarms_on(&template, metric, "FunctionName", id).len(),
                1,
                "{id} has no {metric} alarm"
            );
        }
    }
    let days = &template["Parameters"]["LogRetentionDays"];
    assert_eq!(days["Default"], 30);
    // Every log group, the access log's too, has a retention.
    for (id, group) in of_type(&template, "AWS::Logs::LogGroup") {
        assert!(
            !group["Properties"]["RetentionInDays"].is_null(),
            "{id} keeps its logs forever"
        );
    }
}

/// Every queue some failure ends up in: an on-failure destination of an
/// event source, or the dead-letter target of another queue.
fn dead_letter_queues(template: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (_, function) in of_type(template, "AWS::Serverless::Function") {
        let events = function["Properties"]["Events"].as_mapping().cloned();
        for (_, event) in events.unwrap_or_default() {
            let destination = &event["Properties"]["DestinationConfig"]["OnFailure"];
            if let Some(arn) = get_att(&destination["Destination"]) {
                found.insert(arn.trim_end_matches(".Arn").to_owned());
            }
        }
    }
    for (_, queue) in of_type(template, "AWS::SQS::Queue") {
        let target = &queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"];
        if let Some(arn) = get_att(target) {
            found.insert(arn.trim_end_matches(".Arn").to_owned());
        }
    }
    found
}

#[test]
fn every_dead_letter_queue_raises_an_alarm_on_its_first_message() {
    let template = template();
    let queues = dead_letter_queues(&template);
    assert!(queues.contains("PurgeDeadLetterQueue"), "{queues:?}");
    for queue in queues {
        let alarms = alarms_on(
            &template,
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            &queue,
        );
        assert_eq!(alarms.len(), 1, "{queue} has no depth alarm");
        let alarm = &resources(&template)[alarms[0].as_str()]["Properties"];
        assert_eq!(alarm["Threshold"], 1, "{queue}");
        assert_eq!(
            alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
            "{queue}"
        );
    }
}

#[test]
fn the_stream_lag_the_api_error_rate_and_table_throttles_are_alarmed() {
    let template = template();
    let purge = alarms_on(
        &template,
        "IteratorAge",
        "FunctionName",
        "PurgeUserFunction",
    );
    assert_eq!(purge, ["PurgeIteratorAgeAlarm"]);
    let math: Vec<String> = alarms(&template)
        .into_iter()
        .flat_map(|(_, a)| a["Properties"]["Metrics"].as_sequence().cloned())
        .flatten()
        .filter_map(|m| {
            m["MetricStat"]["Metric"]["MetricName"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    for metric in ["5xx", "Count", "ThrottledRequests"] {
        assert!(math.iter().any(|m| m == metric), "no alarm on {metric}");
    }
    let alarm = |id: &str| resources(&template)[id]["Properties"]["Metrics"].clone();
    // The API's metrics are the HTTP API's, on its one stage.
    for query in alarm("Api5xxRateAlarm").as_sequence().unwrap() {
        if let Some(dimensions) = query["MetricStat"]["Metric"]["Dimensions"].as_sequence() {
            assert_eq!(query["MetricStat"]["Metric"]["Namespace"], "AWS/ApiGateway");
            assert_eq!(ref_to(&dimensions[0]["Value"]), Some("UsersApi"));
            assert_eq!(dimensions[1]["Name"], "Stage");
            assert_eq!(dimensions[1]["Value"], "$default");
        }
    }
    // Every DynamoDB operation the store calls is watched for throttling.
    let watched: BTreeSet<String> = alarm("TableThrottlesAlarm")
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|q| q["MetricStat"]["Metric"]["Dimensions"].as_sequence())
        .map(|d| {
            assert_eq!(ref_to(&d[0]["Value"]), Some("UsersTable"));
            d[1]["Value"].as_str().unwrap().to_owned()
        })
        .collect();
    let store = std::fs::read_dir(root().join("shared/src/store"))
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                std::fs::read_dir(path)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect()
            } else {
                vec![path]
            }
        })
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect::<String>();
    for (call, operation) in [
        (".get_item()", "GetItem"),
        (".put_item()", "PutItem"),
        (".update_item()", "UpdateItem"),
        (".delete_item()", "DeleteItem"),
        (".query()", "Query"),
        (".batch_write_item()", "BatchWriteItem"),
        (".transact_write_items()", "TransactWriteItems"),
    ] {
        if store.contains(call) {
            assert!(watched.contains(operation), "{operation} is not watched");
        }
    }
    for call in [".batch_get_item()", ".transact_get_items()", ".scan()"] {
        assert!(!store.contains(call), "{call} is called but not watched");
    }
}

/// The README's runbook entries: the `#### Name` headings under `## Runbook`.
fn runbook_entries() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let runbook = readme
        .split("\n## Runbook\n")
        .nth(1)
        .expect("the README has a Runbook section");
    let runbook = runbook.split("\n## ").next().unwrap();
    runbook
        .lines()
        .filter_map(|l| l.strip_prefix("#### "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_alarm_reaches_the_topic_and_names_its_runbook_entry() {
    let template = template();
    let entries = runbook_entries();
    let mut named = BTreeSet::new();
    for (id, alarm) in alarms(&template) {
        let p = &alarm["Properties"];
        for actions in ["AlarmActions", "OKActions"] {
            let targets: Vec<&str> = p[actions]
                .as_sequence()
                .unwrap_or_else(|| panic!("{id} has no {actions}"))
                .iter()
                .filter_map(ref_to)
                .collect();
            assert_eq!(targets, ["AlarmTopic"], "{id} {actions}");
        }
        let description = p["AlarmDescription"].as_str().unwrap();
        let entry = description
            .split("README: Runbook, ")
            .nth(1)
            .and_then(|rest| rest.strip_suffix('.'))
            .unwrap_or_else(|| panic!("{id} names no runbook entry: {description}"));
        assert!(entries.contains(entry), "{id}: no runbook entry {entry}");
        named.insert(entry.to_owned());
    }
    assert_eq!(named, entries, "a runbook entry that no alarm names");
    let subscription = &resources(&template)["AlarmEmailSubscription"];
    assert_eq!(subscription["Condition"], "HasAlarmEmail");
    assert_eq!(
        ref_to(&subscription["Properties"]["Endpoint"]),
        Some("AlarmEmail")
    );
}

#[test]
fn the_table_cannot_be_deleted_by_mistake() {
    let template = template();
    let table = &resources(&template)["UsersTable"];
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true);
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    assert_eq!(
        table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(table["Properties"]["SSESpecification"]["SSEEnabled"], true);
}

#[test]
fn the_access_log_is_json_with_what_operators_need_and_no_query_string() {
    let template = template();
    let settings = &resources(&template)["UsersApi"]["Properties"]["AccessLogSettings"];
    let group = get_att(&settings["DestinationArn"]).unwrap();
    assert_eq!(group, "ApiAccessLogs.Arn");
    let format = settings["Format"].as_str().unwrap();
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(format).expect("the access log format is JSON");
    let variable = |field: &str| fields[field].as_str().unwrap().to_owned();
    // The request id is the correlationId of our bodies and logs.
    assert_eq!(variable("requestId"), "$context.requestId");
    for (field, value) in [
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("responseLatency", "$context.responseLatency"),
        ("sourceIp", "$context.identity.sourceIp"),
        ("userAgent", "$context.identity.userAgent"),
    ] {
        assert_eq!(variable(field), value);
    }
    // Search terms are names, emails and mobiles: no path, query string,
    // header or body reaches the log.
    let lowered = format.to_ascii_lowercase();
    for banned in [
        "querystring",
        "$context.path",
        "$request.",
        "rawpath",
        "$context.authorizer",
        "$input",
    ] {
        assert!(!lowered.contains(banned), "the access log carries {banned}");
    }
}

/// `NAME: …` entries of a function's environment.
fn environment(function: &Value) -> BTreeSet<String> {
    function["Properties"]["Environment"]["Variables"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_function_that_holds_a_secret_can_hold_its_previous_version() {
    let template = template();
    let mut holders = 0;
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        let env = environment(&function);
        for secret in ["TOKEN_SECRET", "CURSOR_KEY", "WEBHOOK_KEY"] {
            if env.contains(secret) {
                holders += 1;
                for also in ["_PREVIOUS", "_PREVIOUS_UNTIL"] {
                    assert!(
                        env.contains(&format!("{secret}{also}")),
                        "{id} {secret}{also}"
                    );
                }
            }
        }
        let variables = &function["Properties"]["Environment"]["Variables"];
        for (secret, resource, condition, ends) in [
            (
                "TOKEN_SECRET",
                "TokenSecret",
                "RotatingTokenSecret",
                "TokenSecretRotationEnds",
            ),
            (
                "CURSOR_KEY",
                "CursorKeySecret",
                "RotatingCursorKey",
                "CursorKeyRotationEnds",
            ),
            (
                "WEBHOOK_KEY",
                "WebhookKeySecret",
                "RotatingWebhookKey",
                "WebhookKeyRotationEnds",
            ),
        ] {
            if !env.contains(secret) {
                continue;
            }
            let current = tagged(&variables[secret], "Sub").and_then(Value::as_str);
            assert_eq!(
                current,
                Some(
                    format!("{{{{resolve:secretsmanager:${{{resource}}}:SecretString}}}}").as_str()
                ),
                "{id} {secret}"
            );
            let choice = tagged(&variables[format!("{secret}_PREVIOUS").as_str()], "If")
                .unwrap_or_else(|| panic!("{id}: {secret}_PREVIOUS is not conditional"));
            assert_eq!(choice[0], condition, "{id}");
            let previous = tagged(&choice[1], "Sub").and_then(Value::as_str);
            assert_eq!(
                previous,
                Some(
                    format!(
                        "{{{{resolve:secretsmanager:${{{resource}}}:SecretString::AWSPREVIOUS}}}}"
                    )
                    .as_str()
                ),
                "{id} {secret}_PREVIOUS"
            );
            assert_eq!(ref_to(&choice[2]), Some("AWS::NoValue"), "{id}");
            assert_eq!(
                ref_to(&variables[format!("{secret}_PREVIOUS_UNTIL").as_str()]),
                Some(ends),
                "{id} {secret}_PREVIOUS_UNTIL"
            );
        }
    }
    assert!(holders >= 15, "{holders}");
}

#[test]
fn tokens_of_a_new_secret_are_issued_only_once_every_function_accepts_them() {
    let template = template();
    let issuer = &resources(&template)["IssueTokenFunction"];
    let after: BTreeSet<&str> = issuer["DependsOn"]
        .as_sequence()
        .expect("issue-token waits for the functions that check tokens")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        if id != "IssueTokenFunction" && environment(&function).contains("TOKEN_SECRET") {
            assert!(
                after.contains(id.as_str()),
                "issue-token may be updated before {id}"
            );
        }
    }
}

#[test]
fn functions_log_metrics_to_one_namespace_per_stack_that_the_dashboard_reads() {
    let template = template();
    let namespace = tagged(
        &template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"],
        "Sub",
    )
    .and_then(Value::as_str)
    .unwrap()
    .to_owned();
    assert_eq!(namespace, "UsersApi/${AWS::StackName}");
    let dashboard = &resources(&template)["OperationsDashboard"]["Properties"]["DashboardBody"];
    let sub = tagged(dashboard, "Sub").unwrap();
    assert_eq!(
        tagged(&sub[1]["Namespace"], "Sub").and_then(Value::as_str),
        Some(namespace.as_str())
    );
    // The body is JSON once CloudFormation has put its values in.
    let body = sub[0].as_str().unwrap();
    let mut filled = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        filled.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap();
        filled.push_str("value");
        rest = &rest[start + end + 1..];
    }
    filled.push_str(rest);
    let parsed: serde_json::Value = serde_json::from_str(&filled).expect("the dashboard is JSON");
    assert!(parsed["widgets"].as_array().unwrap().len() >= 6);
    for metric in shared::telemetry::Metric::ALL {
        // A metric is named as a string, or in a SEARCH expression's string.
        let name = metric.name();
        assert!(
            body.contains(&format!("\"{name}\"")) || body.contains(&format!("=\\\"{name}\\\"")),
            "the dashboard does not show {}",
            metric.name()
        );
    }
}

/// A `make dev` table kept in `.dynamodb/` from before an index was added
/// to the template gains it on the next start: the audit trail's indexes,
/// say, which `GET /audit` reads.
#[tokio::test]
async fn a_kept_table_gains_the_indexes_the_template_added_since() {
    let env = tests::TestEnv::new().await;
    let client = env.client();
    let index = shared::keys::AUDIT_BY_USER.name;
    client
        .update_table()
        .table_name(&env.table)
        .global_secondary_index_updates(
            aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                .delete(
                    aws_sdk_dynamodb::types::DeleteGlobalSecondaryIndexAction::builder()
                        .index_name(index)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let names = |described: aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput| {
        described
            .table()
            .unwrap()
            .global_secondary_indexes()
            .iter()
            .filter_map(|i| i.index_name().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    let describe = || client.describe_table().table_name(&env.table).send();
    // Deleting an index takes a moment, even locally.
    let mut gone = false;
    for _ in 0..100 {
        if !names(describe().await.unwrap()).contains(&index.to_owned()) {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the index was deleted");

    infra::table::create(client, &env.table).await.unwrap();
    assert!(names(describe().await.unwrap()).contains(&index.to_owned()));
    // And it works: an entry appended is found through it.
    let user = shared::user::UserId::new();
    let ctx = shared::http::request::Context {
        correlation_id: "req-1".into(),
        base_url: String::new(),
        source_ip: None,
        user_agent: None,
    };
    let stamp = shared::auth::Stamp::of(shared::auth::Actor::claimed("tests"), None, &ctx);
    let entry = shared::audit::Entry::new(shared::audit::Action::UserUpdated, stamp).user(user);
    env.app.store.append_audit(&entry, 1).await.unwrap();
    let filter = shared::audit::AuditFilter::parse(&format!("userId.eq('{user}')")).unwrap();
    let page = env
        .app
        .store
        .list_audit(&filter, shared::store::Position::Start, 10)
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1);
}

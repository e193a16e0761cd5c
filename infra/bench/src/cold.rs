//! Cold starts: a minimal Lambda Runtime API stub spawns each release binary
//! as Lambda would, hands it one event, and times the process from spawn to
//! its first `GET /runtime/invocation/next` (init) and to its answer, then
//! reads its peak RSS.

use std::convert::Infallible;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One cold start, as seen by the runtime API.
pub struct Start {
    pub init: Duration,
    pub first_response: Duration,
    pub peak_rss_kb: u64,
    /// Resident after the answer: anonymous memory (heap, stacks) and pages
    /// of files (mostly the binary itself).
    pub anon_kb: u64,
    pub file_kb: u64,
    /// The function's answer (for an HTTP API event, its `statusCode`).
    pub answer: Vec<u8>,
}

#[derive(Default)]
struct Seen {
    served: bool,
    first_next: Option<Instant>,
    answered: Option<(Instant, Vec<u8>, bool)>,
}

struct Stub {
    event: Vec<u8>,
    seen: Mutex<Seen>,
    answered: Notify,
}

fn reply(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

async fn handle(
    stub: Arc<Stub>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET && path.ends_with("/runtime/invocation/next") {
        let first = {
            let mut seen = stub.seen.lock().unwrap_or_else(|e| e.into_inner());
            let first = !seen.served;
            if first {
                seen.served = true;
                seen.first_next = Some(Instant::now());
            }
            first
        };
        if !first {
            // One invocation per process: the next poll waits until it is killed.
            std::future::pending::<()>().await;
        }
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 60_000)
            .unwrap_or(0);
        let mut response = reply(200, stub.event.clone());
        let headers = response.headers_mut();
        headers.insert(
            "lambda-runtime-aws-request-id",
            "bench-0001".parse().expect("header"),
        );
        headers.insert(
            "lambda-runtime-deadline-ms",
            deadline.to_string().parse().expect("header"),
        );
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:000000000000:function:bench"
                .parse()
                .expect("header"),
        );
        headers.insert(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000"
                .parse()
                .expect("header"),
        );
        headers.insert("content-type", "application/json".parse().expect("header"));
        return Ok(response);
    }
    if req.method() == Method::POST {
        let failed = path.ends_with("/error");
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        stub.seen.lock().unwrap_or_else(|e| e.into_inner()).answered =
            Some((Instant::now(), body, failed));
        stub.answered.notify_one();
        return Ok(reply(202, br#"{"status":"OK"}"#.to_vec()));
    }
    Ok(reply(404, Vec::new()))
}

/// A `Name:  123 kB` field of a /proc file.
fn proc_kb(text: &str, field: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

/// Spawns `binary` with `env` against a fresh stub serving `event`.
pub async fn start(binary: &Path, env: &[(String, String)], event: &[u8]) -> Result<Start, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let stub = Arc::new(Stub {
        event: event.to_vec(),
        seen: Mutex::new(Seen::default()),
        answered: Notify::new(),
    });
    let server = {
        let stub = stub.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let stub = stub.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(stub.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
    };

    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let pid = child.id().unwrap_or(0);
    let waited = tokio::time::timeout(Duration::from_secs(30), stub.answered.notified()).await;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let _ = child.kill().await;
    server.abort();
    waited.map_err(|_| format!("{}: no answer within 30 s", binary.display()))?;

    let seen = stub.seen.lock().unwrap_or_else(|e| e.into_inner());
    let first_next = seen
        .first_next
        .ok_or("the function never polled for an event")?;
    let (answered_at, answer, failed) = seen.answered.clone().ok_or("no answer")?;
    if failed {
        return Err(format!(
            "{} reported an error: {}",
            binary.display(),
            String::from_utf8_lossy(&answer)
        ));
    }
    Ok(Start {
        init: first_next - spawned,
        first_response: answered_at - spawned,
        peak_rss_kb: proc_kb(&status, "VmHWM:"),
        anon_kb: proc_kb(&rollup, "Anonymous:"),
        file_kb: proc_kb(&rollup, "Rss:").saturating_sub(proc_kb(&rollup, "Anonymous:")),
        answer,
    })
}

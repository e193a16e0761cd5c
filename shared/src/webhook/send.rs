//! Sending one webhook request: no redirects, short timeouts, special-use addresses refused at connection time.
//!
//! The URL was judged when it was subscribed, but its name may resolve
//! elsewhere by the time of a delivery (DNS rebinding), so the client's own
//! resolver judges the addresses it is about to connect to, every time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::CONTENT_TYPE;

use super::target::{self, allowed, TargetPolicy, UrlProblem, WebhookUrl};

/// A receiver that does not accept a connection in this time is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The whole request, answer included: a delivery function waits for
/// ten receivers at once, and a slow one must not hold the batch.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an answer is read. Short bodies end within it, which lets
/// the connection be reused; a longer one is dropped there, which closes
/// the connection rather than reading whatever a receiver sends.
const READ_LIMIT: usize = 64 * 1024;

/// How much of an answer a delivery record keeps.
const RESPONSE_CHARS: usize = 512;

/// What one attempt came to, as a delivery record shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempted {
    /// The receiver's status, when it answered at all.
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// The start of the answer's body, lossy UTF-8, at most 512 characters.
    pub response: String,
    /// Why there was no answer.
    pub failure: Option<Failure>,
}

/// Why an attempt got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The target is, or now resolves to, an address webhooks may not reach.
    Refused,
    Timeout,
    /// Anything else: no such name, connection refused, TLS failure.
    Unreachable,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::Timeout => "timeout",
            Failure::Unreachable => "unreachable",
        }
    }
}

/// The HTTP client could not be set up (its TLS configuration, in practice).
#[derive(Debug, thiserror::Error)]
#[error("the webhook HTTP client could not be built: {0}")]
pub struct SendSetupError(#[from] reqwest::Error);

/// Sends webhook requests. One per function instance: the client keeps a
/// few connections open between deliveries.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: TargetPolicy,
}

impl Sender {
    pub fn new(policy: TargetPolicy) -> Result<Self, SendSetupError> {
        Self::build(policy, CONNECT_TIMEOUT, TOTAL_TIMEOUT)
    }

    fn build(
        policy: TargetPolicy,
        connect: Duration,
        total: Duration,
    ) -> Result<Self, SendSetupError> {
        let client = reqwest::Client::builder()
            // A redirect could lead anywhere, and its target was never judged.
            .redirect(reqwest::redirect::Policy::none())
            // Each attempt is one delivery record; the queue does the retrying.
            .retry(reqwest::retry::never())
            // A proxy would do the resolving, out of the resolver's sight.
            .no_proxy()
            .https_only(!policy.local)
            .dns_resolver(Arc::new(PublicResolver { policy }))
            .connect_timeout(connect)
            .timeout(total)
            .pool_max_idle_per_host(2)
            .user_agent("users-api-webhooks/1")
            .build()?;
        Ok(Self { client, policy })
    }

    /// POSTs `body` as JSON with `headers`. Never fails: what happened is
    /// the answer, for the caller to record and schedule by.
    pub async fn post(
        &self,
        url: &WebhookUrl,
        headers: &[(&'static str, String)],
        body: String,
    ) -> Attempted {
        // A literal address reaches no resolver, so it is judged here.
        if url.literal_ip().is_some_and(|ip| !allowed(ip, self.policy)) {
            return Attempted::failed(Failure::Refused, Duration::ZERO);
        }
        let mut request = self
            .client
            .post(url.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let started = Instant::now();
        match request.send().await {
            Ok(answer) => {
                let status = answer.status().as_u16();
                let response = read_start(answer).await;
                Attempted {
                    status: Some(status),
                    latency_ms: millis(started.elapsed()),
                    response,
                    failure: None,
                }
            }
            Err(error) => Attempted::failed(failure(&error), started.elapsed()),
        }
    }
}

impl Attempted {
    fn failed(failure: Failure, latency: Duration) -> Self {
        Self {
            status: None,
            latency_ms: millis(latency),
            response: String::new(),
            failure: Some(failure),
        }
    }
}

fn millis(latency: Duration) -> u64 {
    u64::try_from(latency.as_millis()).unwrap_or(u64::MAX)
}

/// The start of the body, chunk by chunk up to [`READ_LIMIT`]. The
/// receiver has answered by now, so a body that breaks off or times out
/// keeps what arrived rather than turning the answer into a failure.
async fn read_start(mut answer: reqwest::Response) -> String {
    let mut read = Vec::new();
    while read.len() < READ_LIMIT {
        match answer.chunk().await {
            Ok(Some(chunk)) => {
                let room = READ_LIMIT - read.len();
                read.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&read)
        .chars()
        .take(RESPONSE_CHARS)
        .collect()
}

/// Refused when our resolver refused the name's addresses; otherwise what
/// reqwest says.
fn failure(error: &reqwest::Error) -> Failure {
    let refused = std::iter::successors(std::error::Error::source(error), |cause| cause.source())
        .any(|cause| {
            matches!(
                cause.downcast_ref::<UrlProblem>(),
                Some(UrlProblem::ResolvesToSpecial(_))
            )
        });
    if refused {
        Failure::Refused
    } else if error.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Unreachable
    }
}

/// Resolves as the system does, then refuses the whole name if any of its
/// addresses is not allowed, so the connection can only go to an address
/// that was judged.
#[derive(Debug)]
struct PublicResolver {
    policy: TargetPolicy,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = target::resolve_allowed(&host, policy).await?;
            // Port 0: reqwest puts the URL's port in.
            let addrs: Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|address| SocketAddr::new(address, 0)),
            );
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Mutex;

    const AWS: TargetPolicy = TargetPolicy { local: false };
    const LOCAL: TargetPolicy = TargetPolicy { local: true };

    /// A listener nobody serves: a connection made to it would wait in its
    /// backlog, so an empty backlog shows that none was made.
    fn unserved() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    fn nothing_arrived(listener: &TcpListener) -> bool {
        matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock)
    }

    struct Server {
        port: u16,
        requests: Arc<Mutex<Vec<String>>>,
    }

    /// A receiver on 127.0.0.1 that writes `answer` to every request, then
    /// closes the connection, or holds it open and silent when `hold`.
    fn serve(answer: Vec<u8>, hold: bool) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let request = read_request(&mut stream);
                seen.lock().unwrap().push(request);
                // The client may hang up first (it reads only so much).
                let _ = stream.write_all(&answer);
                if hold {
                    held.push(stream);
                }
            }
        });
        Server { port, requests }
    }

    fn read_request(stream: &mut TcpStream) -> String {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut seen = Vec::new();
        let mut buffer = [0; 4096];
        while !complete(&seen) {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
        String::from_utf8_lossy(&seen).to_lowercase()
    }

    fn complete(seen: &[u8]) -> bool {
        let text = String::from_utf8_lossy(seen).to_lowercase();
        let Some(end) = text.find("\r\n\r\n") else {
            return false;
        };
        let length = text[..end]
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse::<usize>().unwrap());
        seen.len() >= end + 4 + length
    }

    fn answer(head: &str, body: &[u8]) -> Vec<u8> {
        let mut bytes = format!("{head}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    fn local(port: u16) -> WebhookUrl {
        WebhookUrl::parse(&format!("http://127.0.0.1:{port}/hook"), LOCAL).unwrap()
    }

    #[tokio::test]
    async fn an_answer_gives_its_status_and_the_start_of_its_body() {
        let server = serve(
            answer("HTTP/1.1 200 OK", "é".repeat(1000).as_bytes()),
            false,
        );
        let sender = Sender::new(LOCAL).unwrap();
        let headers = [("webhook-id", "msg_1".to_owned())];
        let attempted = sender
            .post(&local(server.port), &headers, r#"{"a":1}"#.into())
            .await;
        assert_eq!(attempted.status, Some(200));
        assert_eq!(attempted.failure, None);
        assert_eq!(attempted.response, "é".repeat(RESPONSE_CHARS));
        let requests = server.requests.lock().unwrap();
        let request = &requests[0];
        assert!(request.starts_with("post /hook http/1.1\r\n"), "{request}");
        for line in [
            "content-type: application/json",
            "user-agent: users-api-webhooks/1",
            "webhook-id: msg_1",
        ] {
            assert!(request.contains(line), "{line} in {request}");
        }
        assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
    }

    #[tokio::test]
    async fn a_body_that_is_not_utf8_is_kept_lossily() {
        let server = serve(answer("HTTP/1.1 500 Oops", b"bad \xff byte"), false);
        let attempted = Sender::new(LOCAL)
            .unwrap()
            .post(&local(server.port), &[], "{}".into())
            .await;
        assert_eq!(attempted.status, Some(500));
        assert_eq!(attempted.response, "bad \u{fffd} byte");
    }

    #[tokio::test]
    async fn a_redirect_is_an_answer_and_is_not_followed() {
        let (elsewhere, elsewhere_port) = unserved();
        let head = format!("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{elsewhere_port}/");
        let server = serve(answer(&head, b""), false);
        let attempted = Sender::new(LOCAL)
            .unwrap()
            .post(&local(server.port), &[], "{}".into())
            .await;
        assert_eq!(attempted.status, Some(302));
        assert_eq!(attempted.failure, None);
        assert!(nothing_arrived(&elsewhere));
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_times_out() {
        let server = serve(Vec::new(), true);
        let sender = Sender::build(LOCAL, CONNECT_TIMEOUT, Duration::from_millis(300)).unwrap();
        let attempted = sender.post(&local(server.port), &[], "{}".into()).await;
        assert_eq!(attempted.failure, Some(Failure::Timeout));
        assert_eq!(attempted.status, None);
        assert!(attempted.latency_ms >= 300, "{attempted:?}");
    }

    #[tokio::test]
    async fn nobody_listening_is_unreachable() {
        let port = unserved().1;
        let attempted = Sender::new(LOCAL)
            .unwrap()
            .post(&local(port), &[], "{}".into())
            .await;
        assert_eq!(attempted.failure, Some(Failure::Unreachable));
    }

    #[tokio::test]
    async fn a_special_use_literal_is_refused_before_any_connection() {
        let (listener, port) = unserved();
        let url = WebhookUrl::unchecked(&format!("http://127.0.0.1:{port}/"));
        let attempted = Sender::new(AWS).unwrap().post(&url, &[], "{}".into()).await;
        assert_eq!(
            attempted,
            Attempted::failed(Failure::Refused, Duration::ZERO)
        );
        let mapped = WebhookUrl::unchecked(&format!("http://[::ffff:127.0.0.1]:{port}/"));
        let attempted = Sender::new(LOCAL)
            .unwrap()
            .post(&mapped, &[], "{}".into())
            .await;
        assert_eq!(attempted.failure, Some(Failure::Refused));
        assert!(nothing_arrived(&listener));
    }

    #[tokio::test]
    async fn a_name_resolving_to_special_use_is_refused_at_connection_time() {
        let (listener, port) = unserved();
        let url = WebhookUrl::unchecked(&format!("https://localhost:{port}/"));
        let attempted = Sender::new(AWS).unwrap().post(&url, &[], "{}".into()).await;
        assert_eq!(attempted.failure, Some(Failure::Refused));
        assert!(nothing_arrived(&listener));
    }

    #[tokio::test]
    async fn a_local_name_is_reached_when_local_targets_are_allowed() {
        let server = serve(answer("HTTP/1.1 204 No Content", b""), false);
        let url = WebhookUrl::parse(&format!("http://localhost:{}/", server.port), LOCAL).unwrap();
        let attempted = Sender::new(LOCAL)
            .unwrap()
            .post(&url, &[], "{}".into())
            .await;
        assert_eq!(attempted.status, Some(204));
    }

    #[tokio::test]
    async fn a_large_body_is_read_only_up_to_the_limit() {
        let mebibyte = vec![b'x'; 1024 * 1024];
        let server = serve(answer("HTTP/1.1 200 OK", &mebibyte), false);
        let attempted = Sender::new(LOCAL)
            .unwrap()
            .post(&local(server.port), &[], "{}".into())
            .await;
        assert_eq!(attempted.status, Some(200));
        assert_eq!(attempted.response, "x".repeat(RESPONSE_CHARS));

        // A body announced as 1 MiB that stops after 128 KiB: reading on
        // past the limit would wait for the rest until the timeout.
        let mut partial = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n".to_vec();
        partial.extend_from_slice(&mebibyte[..128 * 1024]);
        let server = serve(partial, true);
        let sender = Sender::build(LOCAL, CONNECT_TIMEOUT, Duration::from_secs(3)).unwrap();
        let attempted = sender.post(&local(server.port), &[], "{}".into()).await;
        assert_eq!(attempted.status, Some(200));
        assert_eq!(attempted.failure, None);
        assert_eq!(attempted.response.len(), RESPONSE_CHARS);
        assert!(attempted.latency_ms < 2000, "{attempted:?}");
    }

    #[test]
    fn failures_have_their_record_names() {
        assert_eq!(Failure::Refused.as_str(), "refused");
        assert_eq!(Failure::Timeout.as_str(), "timeout");
        assert_eq!(Failure::Unreachable.as_str(), "unreachable");
    }
}

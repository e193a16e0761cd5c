//! A webhook receiver for tests: a real HTTP/1.1 server on 127.0.0.1 that
//! answers with the statuses it is told, in order (the last one for ever
//! after), and keeps every request it got, headers and body, to verify.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Default)]
struct State {
    statuses: VecDeque<u16>,
    last: u16,
    received: Vec<Received>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// A receiver answering `statuses` in order, then the last of them.
    pub async fn answering(statuses: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the receiver");
        let url = format!(
            "http://{}/hooks",
            listener.local_addr().expect("the receiver's address")
        );
        let state = Arc::new(Mutex::new(State {
            statuses: statuses.iter().copied().collect(),
            last: statuses.last().copied().unwrap_or(200),
            received: Vec::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(&state, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, state, task }
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

async fn answer(state: &Mutex<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let status = {
        let mut state = state.lock().unwrap();
        state.received.push(Received {
            headers: parts.headers,
            body,
        });
        let last = state.last;
        state.statuses.pop_front().unwrap_or(last)
    };
    let mut response = Response::new(Full::new(Bytes::from(format!("answered {status}"))));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

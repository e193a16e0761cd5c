//! Serving the functions over real HTTP with `cargo lambda watch`, as `make dev` does.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::TestEnv;

/// A running `cargo lambda watch`, stopped (with its whole process group) on drop.
pub struct Watch {
    child: Child,
    pub base_url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Watch {
    /// Serves every function on the test's table, with its secrets.
    pub async fn serve(env: &TestEnv) -> Self {
        let port = free_port();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut vars = env.function_env();
        vars.push(("RUST_LOG", "warn".into()));
        let vars = vars
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let child = Command::new("cargo")
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "-P",
                &port.to_string(),
            ])
            .args(["--env-vars", &vars])
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("cargo lambda is installed (make test puts it on PATH)");
        let watch = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        watch
    }

    /// A client patient enough for the first request to each function,
    /// which compiles it.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(900))
            .build()
            .expect("an HTTP client")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // The watcher starts cargo and the functions; stop the whole group.
            // The `--` matters: procps reads `kill -TERM -123` as signal to pid -1.
            let _ = std::process::Command::new("kill")
                .args(["-s", "TERM", "--", &format!("-{pid}")])
                .status();
        }
    }
}

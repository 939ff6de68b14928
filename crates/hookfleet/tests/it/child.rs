//! A whole fleet as one real `hookfleet all` process on a test app's schema and namespace,
//! its output written to a file, for tests that read what an operator would see in its log.
use hookfleet_testkit::TestApp;
use std::{path::PathBuf, process::Stdio, time::Duration};
use tokio::process::{Child, Command};

pub struct ChildFleet {
    child: Child,
    log: PathBuf,
    /// The child's API, e.g. `http://127.0.0.1:41234`.
    pub api: String,
}

impl ChildFleet {
    /// Starts `hookfleet all` with the app's environment plus `envs`, and waits until its API
    /// is ready.
    pub async fn start(app: &TestApp, envs: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("hookfleet-child-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hookfleet"))
            .arg("all")
            .envs(app.child_env())
            .envs(envs.iter().copied())
            .env("HOOKFLEET_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let api = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        app.wait_until(
            Duration::from_secs(20),
            "the child fleet is ready",
            || async {
                http.get(format!("{api}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            },
        )
        .await;
        Self { child, log, api }
    }

    /// What the fleet has logged so far.
    pub fn log_now(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Stops the fleet as an operator would (SIGTERM, so it flushes its log) and returns the
    /// whole log.
    pub async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        let text = std::fs::read_to_string(&self.log).unwrap();
        let _ = std::fs::remove_file(&self.log);
        text
    }
}

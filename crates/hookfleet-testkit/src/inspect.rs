//! Looking at (and poking) the fleet from outside, as an operator's tools would: the record's
//! tables, the broker's queues and connections, and messages put on the bus by hand.
use crate::TestApp;
use std::time::Duration;

impl TestApp {
    /// Puts these exact bytes on `queue` (persistent), as a broken or hostile publisher could.
    pub async fn put_raw(&self, queue: &str, body: &[u8]) {
        self.channel
            .basic_publish(
                "".into(),
                queue.into(),
                lapin::options::BasicPublishOptions::default(),
                body,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
    }

    /// Puts these exact bytes where a copy for subscription `id` waits, naming it as the
    /// router does: its own queue, or on the shared tier its shard.
    pub async fn put_for(&self, id: &str, body: &[u8]) {
        let mut headers = lapin::types::FieldTable::default();
        headers.insert(
            hookfleet_bus::HEADER_SUBSCRIPTION.into(),
            lapin::types::AMQPValue::LongString(id.into()),
        );
        self.channel
            .basic_publish(
                "".into(),
                self.lane_queue(id).await.as_str().into(),
                lapin::options::BasicPublishOptions::default(),
                body,
                lapin::BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_headers(headers),
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
    }

    /// The queue copies for subscription `id` go to: its own, or its shard on the shared tier.
    pub async fn lane_queue(&self, id: &str) -> String {
        let row = self
            .db
            .query_one(
                "SELECT tier, shard FROM subscriptions WHERE id = $1",
                &[&id],
            )
            .await
            .expect("the subscription's tier");
        match (row.get::<_, &str>(0), row.get::<_, Option<i16>>(1)) {
            ("own", _) | (_, None) => self.topology.subscription_queue(id),
            (_, Some(n)) => self
                .topology
                .shard_queue(u16::try_from(n).expect("a shard")),
        }
    }

    /// Waits until the workers deliver subscription `id` (`true`) or let it go (`false`): its
    /// own queue has a consumer or none. On the shared tier, whose shard is always consumed, a
    /// new subscription is delivered at once (the router routes to it once its creation is
    /// committed, a worker looks up what it has not loaded yet); one let go needs the
    /// in-process worker to have reconciled since.
    pub async fn wait_delivering(&self, id: &str, delivering: bool) {
        let queue = self.lane_queue(id).await;
        if queue == self.topology.subscription_queue(id) {
            self.wait_consumers(&queue, u32::from(delivering)).await;
        } else if !delivering {
            self.wait_reconciled().await;
        }
    }

    /// Rows in one of this app's tables.
    pub async fn count(&self, table: &str) -> i64 {
        self.db
            .query_one(
                &format!("SELECT count(*) FROM {}.{table}", self.schema),
                &[],
            )
            .await
            .expect("count rows")
            .get(0)
    }

    /// Ready messages in a queue, or `None` if the queue does not exist. Uses a throwaway
    /// channel because a passive declare of a missing queue closes the channel.
    pub async fn queue_depth(&self, queue: &str) -> Option<u32> {
        Some(self.passive_declare(queue).await?.message_count())
    }

    /// Consumers of a queue as the broker counts them now, or `None` if the queue does not
    /// exist (on a throwaway channel, as [`Self::queue_depth`]).
    pub async fn queue_consumers(&self, queue: &str) -> Option<u32> {
        Some(self.passive_declare(queue).await?.consumer_count())
    }

    async fn passive_declare(&self, queue: &str) -> Option<lapin::Queue> {
        let ch = self._amqp.create_channel().await.expect("open a channel");
        let declared = ch
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..lapin::options::QueueDeclareOptions::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .ok();
        let _ = ch.close(200, "".into()).await;
        declared
    }

    /// Waits until the delivery worker has completed a reconcile that began after this call,
    /// so whatever the record held when it was called (a rotated secret, a new ladder) is what
    /// the worker now delivers with. Reads `hookfleet_reconciles_total`, which belongs to the
    /// process: nextest runs each test in a process of its own, with one worker per app. Two
    /// passes complete, as the first may have read the record before the call.
    pub async fn wait_reconciled(&self) {
        let before = crate::counter("hookfleet_reconciles_total");
        self.wait_until(
            Duration::from_secs(10),
            "the delivery worker completed a reconcile begun after the change",
            || async { crate::counter("hookfleet_reconciles_total") >= before + 2.0 },
        )
        .await;
    }

    /// Waits until `queue` has at least `n` consumers (a worker took a new subscription up),
    /// or exactly none when `n` is 0 (every worker let it go).
    pub async fn wait_consumers(&self, queue: &str, n: u32) {
        self.wait_until(
            Duration::from_secs(10),
            &format!("{queue} has {n} consumer(s)"),
            || async {
                let got = self.queue_consumers(queue).await;
                if n == 0 {
                    got == Some(0)
                } else {
                    got.is_some_and(|c| c >= n)
                }
            },
        )
        .await;
    }

    /// Polls `check` until it holds or `timeout` passes, then panics naming `what`.
    pub async fn wait_until<F, Fut>(&self, timeout: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        while !check().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until {what}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Has the broker close every connection of this app's roles (`rabbitmqctl
    /// close_connection`, as an operator or a broker failover would) and returns how many it
    /// closed. The test's own inspection connection is left open.
    pub async fn close_role_connections(&self) -> usize {
        let marker = format!("hookfleet-{}", self.topology.prefix());
        tokio::task::spawn_blocking(move || {
            let listed = std::process::Command::new("rabbitmqctl")
                .args([
                    "-q",
                    "list_connections",
                    "--no-table-headers",
                    "pid",
                    "client_properties",
                ])
                .output()
                .expect("rabbitmqctl runs (it comes with RabbitMQ; scripts/services.sh)");
            assert!(
                listed.status.success(),
                "rabbitmqctl list_connections failed: {listed:?}"
            );
            let mut closed = 0;
            for line in String::from_utf8_lossy(&listed.stdout).lines() {
                if !line.contains(&marker) {
                    continue;
                }
                let pid = line.split_whitespace().next().expect("a pid column");
                let status = std::process::Command::new("rabbitmqctl")
                    .args(["-q", "close_connection", pid, "closed by a hookfleet test"])
                    .status()
                    .expect("rabbitmqctl runs");
                assert!(
                    status.success(),
                    "rabbitmqctl close_connection {pid} failed"
                );
                closed += 1;
            }
            closed
        })
        .await
        .expect("the rabbitmqctl task did not panic")
    }

    /// Environment for a `hookfleet` child process joining this app's fleet.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HOOKFLEET_AMQP_URL", self.amqp_url.clone()),
            ("HOOKFLEET_DATABASE_URL", self.database_url.clone()),
            ("HOOKFLEET_SECRET_KEYS", self.secret_keys.clone()),
            ("HOOKFLEET_NAMESPACE", self.topology.prefix().to_owned()),
            ("HOOKFLEET_SHARDS", self.topology.shards().to_string()),
            ("HOOKFLEET_METRICS_ADDR", "127.0.0.1:0".to_owned()),
            ("HOOKFLEET_RECONCILE_INTERVAL", "500ms".to_owned()),
            ("HOOKFLEET_ALLOW_PRIVATE_TARGETS", "true".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ]
    }
}

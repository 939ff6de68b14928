//! `Passwords` with its real threads and argon2: a burst shares one hash, the threads bound
//! what runs at once, channels take turns, memory is released when idle, and the threads end
//! with it. The schedule's and the lockout's rules are tested on their own, without threads.
use super::*;
use hookfleet_core::channel;
use std::sync::atomic::Ordering::SeqCst;

/// Waits until `done` holds, checking often; fails after 60 s (debug argon2 is slow).
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never saw: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn passwords(checks: PasswordChecks) -> Arc<Passwords> {
    Arc::new(Passwords::new(&checks, 100).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_pays_argon2_once_and_callers_that_give_up_never_exceed_the_bound() {
    let hash = channel::hash_password("chaos-channel-password").unwrap();
    let p = passwords(PasswordChecks::default());
    // 32 calls at once after a restart: one hash, shared by all, and no 429 (identical calls
    // take no slot of the channel's 4).
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let (p, hash) = (p.clone(), hash.clone());
            tokio::spawn(async move { p.verify("ch", &hash, "chaos-channel-password").await })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), Verdict::Open);
    }
    assert_eq!(
        p.shared.stats.slow.load(SeqCst),
        1,
        "one slow check for one password"
    );

    // Callers that hang up while their wrong password waits or is hashed: never more than the
    // workers run at once, and everything drains.
    for round in 0..20 {
        let p = p.clone();
        let hash = hash.clone();
        let _ = tokio::time::timeout(Duration::from_millis(1), async move {
            p.verify(
                &format!("ch-{}", round % 3),
                &hash,
                &format!("wrong-{round}"),
            )
            .await
        })
        .await;
    }
    until("every check ended", || {
        p.shared.lock().schedule.counts() == (0, 0)
    })
    .await;
    let most = p.shared.stats.max_running.load(SeqCst);
    assert!((1..=2).contains(&most), "{most} hashes at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_with_a_backlog_does_not_hold_up_another_channels_first_check() {
    let hash = channel::hash_password("right-password").unwrap();
    let p = passwords(PasswordChecks {
        workers: 1,
        ..PasswordChecks::default()
    });
    // Four wrong passwords queued on "flooded", then the right one on "fresh".
    let flood: Vec<_> = (0..4)
        .map(|i| {
            let (p, hash) = (p.clone(), hash.clone());
            tokio::spawn(async move { p.verify("flooded", &hash, &format!("wrong-{i}")).await })
        })
        .collect();
    until("the flood is queued", || {
        let (waiting, running) = p.shared.lock().schedule.counts();
        waiting + running == 4
    })
    .await;
    // A fifth distinct check on the flooded channel is refused at once.
    let refused = p.verify("flooded", &hash, "wrong-5").await;
    assert!(
        matches!(refused, Verdict::Refused(Refusal { reason: Reason::Busy, retry_after })
            if retry_after == Duration::from_secs(1)),
        "{refused:?}"
    );
    assert_eq!(
        p.verify("fresh", &hash, "right-password").await,
        Verdict::Open
    );
    // With one worker and turns between channels, the fresh check waited for the flooded
    // channel's check that was running and at most one more (that channel's turn).
    let finished = flood.iter().filter(|f| f.is_finished()).count();
    assert!(finished <= 2, "{finished} of the flood's checks ran first");
    for f in flood {
        assert_eq!(f.await.unwrap(), Verdict::Wrong);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_release_their_memory_when_idle_and_end_with_passwords() {
    let p = passwords(PasswordChecks::default());
    assert_eq!(p.shared.stats.live_workers.load(SeqCst), 2);
    // A new channel's hash goes through the same threads, and verifies.
    let hash = p.hash("a-new-channel-password").await.unwrap();
    assert!(channel::verify_password("a-new-channel-password", &hash));
    let checks: Vec<_> = (0..4)
        .map(|i| {
            let (p, hash) = (p.clone(), hash.clone());
            tokio::spawn(async move { p.verify(&format!("c{i}"), &hash, "wrong-password").await })
        })
        .collect();
    until("a worker holds a buffer", || {
        p.shared.stats.buffers.load(SeqCst) > 0
    })
    .await;
    for c in checks {
        assert_eq!(c.await.unwrap(), Verdict::Wrong);
    }
    until("both buffers are released", || {
        p.shared.stats.buffers.load(SeqCst) == 0
    })
    .await;
    let shared = p.shared.clone();
    drop(p);
    until("the workers ended", || {
        shared.stats.live_workers.load(SeqCst) == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_channel_refuses_even_its_remembered_password_and_others_are_open() {
    let hash = channel::hash_password("right-password").unwrap();
    let p = passwords(PasswordChecks {
        lockout: Some(Lockout {
            free_failures: 1,
            first: Duration::from_secs(600),
            ..Lockout::default()
        }),
        ..PasswordChecks::default()
    });
    for ch in ["a", "b"] {
        assert_eq!(p.verify(ch, &hash, "right-password").await, Verdict::Open);
    }
    // One wrong password is free; the second locks "a".
    assert_eq!(p.verify("a", &hash, "wrong-1").await, Verdict::Wrong);
    assert_eq!(p.verify("a", &hash, "wrong-2").await, Verdict::Wrong);
    let slow = p.shared.stats.slow.load(SeqCst);
    for password in ["right-password", "wrong-3"] {
        let v = p.verify("a", &hash, password).await;
        assert!(
            matches!(v, Verdict::Refused(Refusal { reason: Reason::Locked, retry_after })
                if retry_after == Duration::from_secs(600)),
            "{password}: {v:?}"
        );
    }
    assert_eq!(
        p.shared.stats.slow.load(SeqCst),
        slow,
        "refused without a hash"
    );
    assert_eq!(p.verify("b", &hash, "right-password").await, Verdict::Open);
    assert_eq!(p.verify("b", &hash, "wrong-1").await, Verdict::Wrong);
}

//! The invariant checker: reads the record, the receivers' logs and the queues after the run
//! drained, and counts every way an event could have been lost or an attempt recorded wrongly.
use super::{Accepted, Sub};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Default)]
pub(super) struct Findings {
    pub accepted: usize,
    pub recorded: usize,
    pub copies_expected: usize,
    pub delivered: usize,
    pub exhausted: usize,
    /// Accepted events not in the record, and expected copies with no delivery row.
    pub lost: usize,
    /// A delivery recorded `delivered` that its receiver never answered 2xx.
    pub delivered_unseen: usize,
    /// Attempts numbered twice or with a gap (count ≠ highest number).
    pub attempts_twice: usize,
    /// Answered attempts in the record beyond the requests the receiver saw.
    pub recorded_not_seen: usize,
    /// Requests the receivers saw for delivery ids the record does not hold.
    pub seen_not_recorded: usize,
    /// Requests beyond the attempts recorded (at least once allows them).
    pub duplicates: usize,
    /// Copies delivered to a subscription that should not have matched.
    pub unexpected: usize,
    pub pending: usize,
    pub left_in_queues: u64,
    pub parked: u64,
    /// In cluster mode: requests receivers got while a node was stopped.
    pub seen_while_node_down: Option<usize>,
}

impl Findings {
    pub(super) fn holds(&self) -> bool {
        self.lost == 0
            && self.delivered_unseen == 0
            && self.attempts_twice == 0
            && self.recorded_not_seen == 0
            && self.seen_not_recorded == 0
            && self.unexpected == 0
            && self.pending == 0
            && self.left_in_queues == 0
    }
}

struct Row {
    sub_id: String,
    status: String,
}

/// `event_id` of each accepted event (lifecycle calls are found by their op_id).
async fn recorded_ids(
    db: &tokio_postgres::Client,
    accepted: &[Accepted],
) -> anyhow::Result<Vec<Option<String>>> {
    let by_op: HashMap<String, String> = db
        .query(
            "SELECT data->>'op_id', id FROM events WHERE type = 'event.created'",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get::<_, Option<String>>(0).unwrap_or_default(), r.get(1)))
        .collect();
    let native: Vec<String> = accepted.iter().filter_map(|a| a.event_id.clone()).collect();
    let present: HashSet<String> = db
        .query("SELECT id FROM events WHERE id = ANY($1)", &[&native])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(accepted
        .iter()
        .map(|a| match (&a.event_id, &a.op_id) {
            (Some(id), _) => present.contains(id).then(|| id.clone()),
            (None, Some(op)) => by_op.get(op).cloned(),
            (None, None) => None,
        })
        .collect())
}

pub(super) async fn check(
    db: &tokio_postgres::Client,
    accepted: &[Accepted],
    subs: &[Sub],
) -> anyhow::Result<Findings> {
    let mut f = Findings {
        accepted: accepted.len(),
        ..Findings::default()
    };
    let ids = recorded_ids(db, accepted).await?;
    let mut rows: HashMap<(String, String), Vec<Row>> = HashMap::new();
    for r in db
        .query(
            "SELECT event_id, subscription_id, status FROM deliveries",
            &[],
        )
        .await?
    {
        let row = Row {
            sub_id: r.get(1),
            status: r.get(2),
        };
        let key = (r.get(0), row.sub_id.clone());
        rows.entry(key).or_default().push(row);
    }
    let by_id: HashMap<String, (String, String)> = db
        .query("SELECT id, subscription_id, status FROM deliveries", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();

    let mut expected: HashSet<(String, String)> = HashSet::new();
    for (a, id) in accepted.iter().zip(&ids) {
        let Some(id) = id else {
            f.lost += 1;
            continue;
        };
        f.recorded += 1;
        for sub in subs
            .iter()
            .filter(|s| s.matches(&a.event_type, &a.organization))
        {
            f.copies_expected += 1;
            expected.insert((id.clone(), sub.id.clone()));
            match rows.get(&(id.clone(), sub.id.clone())).map(Vec::as_slice) {
                None | Some([]) => f.lost += 1,
                Some(found) => match found[0].status.as_str() {
                    "delivered" => f.delivered += 1,
                    "exhausted" => f.exhausted += 1,
                    _ => f.pending += 1,
                },
            }
        }
    }
    f.unexpected = rows
        .iter()
        .filter(|(k, _)| !expected.contains(*k))
        .filter(|(_, v)| v.iter().any(|r| subs.iter().any(|s| s.id == r.sub_id)))
        .count();

    attempts(db, subs, &by_id, &mut f).await?;
    Ok(f)
}

/// Compares recorded attempts with what each receiver saw.
async fn attempts(
    db: &tokio_postgres::Client,
    subs: &[Sub],
    by_id: &HashMap<String, (String, String)>,
    f: &mut Findings,
) -> anyhow::Result<()> {
    let recorded: HashMap<String, (i64, i64, i32)> = db
        .query(
            "SELECT delivery_id, count(*), count(status_code), max(attempt)
             FROM delivery_attempts GROUP BY delivery_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    f.attempts_twice = recorded
        .values()
        .filter(|(count, _, max)| *count != i64::from(*max))
        .count();
    for sub in subs {
        let seen = sub.receiver.seen();
        for (id, (requests, _)) in &seen {
            let Some((sub_id, _)) = by_id.get(id) else {
                f.seen_not_recorded += 1;
                continue;
            };
            if sub_id != &sub.id {
                f.seen_not_recorded += 1;
            }
            let (count, answered, _) = recorded.get(id).copied().unwrap_or((0, 0, 0));
            if answered as usize > *requests {
                f.recorded_not_seen += answered as usize - requests;
            }
            f.duplicates += requests.saturating_sub(count as usize);
        }
        for (id, (sub_id, status)) in by_id {
            if sub_id == &sub.id
                && status == "delivered"
                && seen.get(id).is_none_or(|(_, ok)| *ok == 0)
            {
                f.delivered_unseen += 1;
            }
        }
    }
    Ok(())
}

//! The invariant checker: reads the record, the receivers' logs and the queues after the run
//! drained, and counts every way an event could have been lost or an attempt recorded wrongly.
use super::{Accepted, Sub};
use hookfleet_core::EventId;
use hookfleet_store::{DeliveryStatus, Store, fixtures::AttemptTally};
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
    /// With `--delivery-limit`: messages the broker dead-lettered for reaching it.
    pub by_limit: Option<usize>,
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
            && self.by_limit.unwrap_or(0) == 0
    }
}

struct Row {
    sub_id: String,
    status: DeliveryStatus,
}

/// `event_id` of each accepted event (lifecycle calls are found by their op_id).
async fn recorded_ids(store: &Store, accepted: &[Accepted]) -> anyhow::Result<Vec<Option<String>>> {
    let by_op = store.created_events_by_op_id().await?;
    // An id the API answered that is not an event id cannot be in the record.
    let native: Vec<EventId> = (accepted.iter())
        .filter_map(|a| EventId::parse(a.event_id.as_deref()?))
        .collect();
    let present: HashSet<String> = (store.events_present(&native).await?)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(accepted
        .iter()
        .map(|a| match (&a.event_id, &a.op_id) {
            (Some(id), _) => present.contains(id).then(|| id.clone()),
            (None, Some(op)) => by_op.get(op).map(ToString::to_string),
            (None, None) => None,
        })
        .collect())
}

pub(super) async fn check(
    store: &Store,
    accepted: &[Accepted],
    subs: &[Sub],
) -> anyhow::Result<Findings> {
    let mut f = Findings {
        accepted: accepted.len(),
        ..Findings::default()
    };
    let ids = recorded_ids(store, accepted).await?;
    let deliveries = store.all_deliveries().await?;
    let mut rows: HashMap<(String, String), Vec<Row>> = HashMap::new();
    let mut by_id: HashMap<String, (String, DeliveryStatus)> = HashMap::new();
    for d in deliveries {
        let row = Row {
            sub_id: d.subscription_id.to_string(),
            status: d.status,
        };
        by_id.insert(d.id.to_string(), (row.sub_id.clone(), d.status));
        let key = (d.event_id.to_string(), row.sub_id.clone());
        rows.entry(key).or_default().push(row);
    }

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
                Some(found) => match found[0].status {
                    DeliveryStatus::Delivered => f.delivered += 1,
                    DeliveryStatus::Exhausted => f.exhausted += 1,
                    DeliveryStatus::Pending | DeliveryStatus::Failed => f.pending += 1,
                },
            }
        }
    }
    f.unexpected = rows
        .iter()
        .filter(|(k, _)| !expected.contains(*k))
        .filter(|(_, v)| v.iter().any(|r| subs.iter().any(|s| s.id == r.sub_id)))
        .count();

    attempts(store, subs, &by_id, &mut f).await?;
    Ok(f)
}

/// Compares recorded attempts with what each receiver saw.
async fn attempts(
    store: &Store,
    subs: &[Sub],
    by_id: &HashMap<String, (String, DeliveryStatus)>,
    f: &mut Findings,
) -> anyhow::Result<()> {
    let recorded: HashMap<String, AttemptTally> = (store.attempt_tallies().await?)
        .into_iter()
        .map(|(id, tally)| (id.to_string(), tally))
        .collect();
    f.attempts_twice = recorded
        .values()
        .filter(|t| t.count != i64::from(t.highest))
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
            let AttemptTally {
                count, answered, ..
            } = recorded.get(id).copied().unwrap_or_default();
            if answered as usize > *requests {
                f.recorded_not_seen += answered as usize - requests;
            }
            f.duplicates += requests.saturating_sub(count as usize);
        }
        for (id, (sub_id, status)) in by_id {
            if sub_id == &sub.id
                && *status == DeliveryStatus::Delivered
                && seen.get(id).is_none_or(|(_, ok)| *ok == 0)
            {
                f.delivered_unseen += 1;
            }
        }
    }
    Ok(())
}

//! The router's own matcher for the subscriptions of the shared tier, which have no binding on
//! `hookfleet.events` (a shard queue holds the copies of many subscriptions, and RabbitMQ puts a
//! message in a queue once however many of its bindings match, so the router makes one copy
//! per subscription itself).
//!
//! It must match exactly what the subscription's binding keys would match on the topic
//! exchange ([`super::topic_matches`] is the reference, and a property test holds it to it).
//! A binding key is `<partition word>.<organization word>.<type pattern>`, where neither word
//! is ever `#` and a copy's routing key has exactly one word for each, so a binding matches a
//! copy exactly when both words match and the pattern matches the type. Entries are grouped by
//! their two words; inside a group, literal types are a hash lookup and only wildcard
//! patterns are tried one by one. A copy looks in at most four groups.
use super::{encode_word, topic_matches};
use std::collections::HashMap;

/// One subscription's filters, as its binding keys are made from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub event_types: Vec<String>,
    pub partitions: Option<Vec<String>>,
    pub organizations: Option<Vec<String>>,
}

/// A word of a binding: one value, or any (`*`).
type Word = Option<String>;

#[derive(Debug, Default)]
struct Group {
    /// Patterns without a wildcard, by the exact type they name.
    literal: HashMap<String, Vec<u32>>,
    /// Patterns with `*` or `#`, tried against each type.
    wild: Vec<(String, u32)>,
}

/// Which targets (subscriptions) a copy goes to.
///
/// A target is removed by emptying its slot: the groups keep its number until the index is
/// built again, and matching skips it. A subscription deleted or changed (removed, then
/// inserted again) costs nothing to take out, and the holder rebuilds once the empty slots
/// outnumber the live ones ([`Index::removed`]).
#[derive(Debug)]
pub struct Index<T> {
    targets: Vec<Option<T>>,
    live: usize,
    groups: HashMap<(Word, Word), Group>,
}

impl<T> Default for Index<T> {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            live: 0,
            groups: HashMap::new(),
        }
    }
}

impl<T> Index<T> {
    pub fn new(entries: impl IntoIterator<Item = (T, Filter)>) -> Self {
        let mut index = Self::default();
        for (target, filter) in entries {
            index.insert(target, &filter);
        }
        index
    }

    /// Adds one target (an index may be built a page of subscriptions at a time); returns its
    /// slot, for [`Index::remove`] (`None` past 2^32 targets, which are not added).
    pub fn insert(&mut self, target: T, filter: &Filter) -> Option<u32> {
        let n = u32::try_from(self.targets.len()).ok()?;
        self.targets.push(Some(target));
        self.live += 1;
        let words = |list: &Option<Vec<String>>| -> Vec<Word> {
            match list {
                None => vec![None],
                Some(values) => values.iter().map(|v| Some(encode_word(Some(v)))).collect(),
            }
        };
        for p in words(&filter.partitions) {
            for o in words(&filter.organizations) {
                let group = self.groups.entry((p.clone(), o)).or_default();
                for pattern in &filter.event_types {
                    if pattern.split('.').any(|w| w == "*" || w == "#") {
                        group.wild.push((pattern.clone(), n));
                    } else {
                        group.literal.entry(pattern.clone()).or_default().push(n);
                    }
                }
            }
        }
        Some(n)
    }

    /// Takes out the target in `slot`; it matches nothing from now on.
    pub fn remove(&mut self, slot: u32) -> Option<T> {
        let target = self.targets.get_mut(slot as usize)?.take();
        if target.is_some() {
            self.live -= 1;
        }
        target
    }

    /// How many targets the index holds.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// How many slots were emptied by [`Index::remove`] and are still held.
    pub fn removed(&self) -> usize {
        self.targets.len() - self.live
    }

    /// Every target whose filter matches a copy with this partition, organization and type,
    /// each once, in the order they were given.
    pub fn matches(
        &self,
        partition: Option<&str>,
        organization: Option<&str>,
        event_type: &str,
    ) -> Vec<&T> {
        let (p, o) = (encode_word(partition), encode_word(organization));
        let mut hits: Vec<u32> = Vec::new();
        for key in [
            (Some(p.clone()), Some(o.clone())),
            (Some(p), None),
            (None, Some(o)),
            (None, None),
        ] {
            let Some(group) = self.groups.get(&key) else {
                continue;
            };
            if let Some(ns) = group.literal.get(event_type) {
                hits.extend_from_slice(ns);
            }
            hits.extend(
                group
                    .wild
                    .iter()
                    .filter(|(pattern, _)| topic_matches(pattern, event_type))
                    .map(|(_, n)| *n),
            );
        }
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter()
            .filter_map(|n| self.targets.get(n as usize)?.as_ref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{binding_keys, routing_key};
    use proptest::prelude::*;

    fn filter(types: &[&str], parts: Option<&[&str]>, orgs: Option<&[&str]>) -> Filter {
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Filter {
            event_types: own(types),
            partitions: parts.map(own),
            organizations: orgs.map(own),
        }
    }

    #[test]
    fn a_copy_goes_to_each_matching_subscription_once() {
        let index = Index::new([
            ("all", filter(&["#"], None, None)),
            ("users", filter(&["user.*", "user.created"], None, None)),
            (
                "tdi1",
                filter(&["user.created"], Some(&["pca.hub.tdi1"]), None),
            ),
            ("org-a", filter(&["#"], None, Some(&["a.b", "c"]))),
        ]);
        let hit = |p, o, t| {
            index
                .matches(p, o, t)
                .into_iter()
                .copied()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            hit(Some("pca.hub.tdi1"), Some("a.b"), "user.created"),
            ["all", "users", "tdi1", "org-a"]
        );
        assert_eq!(hit(None, None, "user.deleted"), ["all", "users"]);
        assert_eq!(
            hit(Some("pca.hub"), Some("c"), "order.paid"),
            ["all", "org-a"]
        );
        assert_eq!(hit(None, Some("a"), "user.email.invited"), ["all"]);
    }

    /// Words that collide under careless encoding: dots, `_` (the absent word), `%`, `*`.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_owned()),
            Just("a.b".to_owned()),
            Just("_".to_owned()),
            Just("%2E".to_owned()),
            Just("*".to_owned()),
            Just("pca.hub.tdi1".to_owned()),
        ]
    }

    fn scope() -> impl Strategy<Value = Option<Vec<String>>> {
        proptest::option::of(proptest::collection::vec(value(), 1..3))
    }

    fn pattern() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("user"),
                Just("created"),
                Just("x"),
                Just("*"),
                Just("#")
            ],
            1..4,
        )
        .prop_map(|w| w.join("."))
    }

    fn event_type() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof![Just("user"), Just("created"), Just("x")], 1..4)
            .prop_map(|w| w.join("."))
    }

    /// A filter's parts: its type patterns, partitions and organizations.
    type Parts = (Vec<String>, Option<Vec<String>>, Option<Vec<String>>);

    fn parts() -> impl Strategy<Value = Parts> {
        (proptest::collection::vec(pattern(), 1..3), scope(), scope())
    }

    /// A copy's partition, organization and type.
    fn copy() -> impl Strategy<Value = (Option<String>, Option<String>, String)> {
        (
            proptest::option::of(value()),
            proptest::option::of(value()),
            event_type(),
        )
    }

    /// The reference: which of `filters` (by position; `None` is no subscription) the topic
    /// exchange would match against the routing key of a copy with these words and type.
    fn bound(filters: &[Option<&Filter>], p: Option<&str>, o: Option<&str>, t: &str) -> Vec<usize> {
        let key = routing_key(p, o, t);
        (filters.iter().enumerate())
            .filter_map(|(n, f)| Some((n, (*f)?)))
            .filter(|(_, f)| {
                binding_keys(
                    &f.event_types,
                    f.partitions.as_deref(),
                    f.organizations.as_deref(),
                )
                .iter()
                .any(|b| topic_matches(b, &key))
            })
            .map(|(n, _)| n)
            .collect()
    }

    proptest! {
        /// The index sends a copy to exactly the subscriptions whose binding keys the topic
        /// exchange would match against the copy's routing key.
        #[test]
        fn the_index_matches_exactly_what_the_bindings_match(
            filters in proptest::collection::vec(parts(), 0..12),
            copies in proptest::collection::vec(copy(), 1..8),
        ) {
            let filters: Vec<Filter> = filters
                .into_iter()
                .map(|(event_types, partitions, organizations)| Filter { event_types, partitions, organizations })
                .collect();
            let index = Index::new(filters.iter().cloned().enumerate());
            let all: Vec<Option<&Filter>> = filters.iter().map(Some).collect();
            for (p, o, t) in &copies {
                let expected = bound(&all, p.as_deref(), o.as_deref(), t);
                let got: Vec<usize> = index.matches(p.as_deref(), o.as_deref(), t).into_iter().copied().collect();
                prop_assert_eq!(got, expected, "copy {:?} {:?} {}", p, o, t);
            }
        }

        /// Kept current by removals and inserts (a subscription deleted, or changed: taken out
        /// and put in again with its new filter), the index still matches exactly what the
        /// bindings of the subscriptions left would match.
        #[test]
        fn removals_and_changes_leave_exactly_the_bindings_left(
            filters in proptest::collection::vec(parts(), 1..12),
            changes in proptest::collection::vec((0usize..12, proptest::option::of(parts())), 0..16),
            copies in proptest::collection::vec(copy(), 1..8),
        ) {
            let filter = |(event_types, partitions, organizations): Parts| Filter { event_types, partitions, organizations };
            let mut current: Vec<Option<Filter>> = filters.into_iter().map(|f| Some(filter(f))).collect();
            let mut index = Index::default();
            let mut slots: Vec<Option<u32>> = current
                .iter()
                .enumerate()
                .map(|(n, f)| index.insert(n, f.as_ref().expect("all present")))
                .collect();
            for (n, change) in changes {
                let n = n % current.len();
                if let Some(slot) = slots[n].take() {
                    prop_assert_eq!(index.remove(slot), Some(n));
                }
                current[n] = change.map(filter);
                slots[n] = current[n].as_ref().and_then(|f| index.insert(n, f));
            }
            prop_assert_eq!(index.len(), current.iter().flatten().count());
            let left: Vec<Option<&Filter>> = current.iter().map(Option::as_ref).collect();
            for (p, o, t) in &copies {
                let expected = bound(&left, p.as_deref(), o.as_deref(), t);
                // A subscription put in again comes later in the index's order.
                let mut got: Vec<usize> = index.matches(p.as_deref(), o.as_deref(), t).into_iter().copied().collect();
                got.sort_unstable();
                prop_assert_eq!(got, expected, "copy {:?} {:?} {}", p, o, t);
            }
        }
    }
}

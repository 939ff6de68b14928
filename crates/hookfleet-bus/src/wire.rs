//! What travels with a message besides its body: hookfleet's headers, typed, and the
//! properties every message is published with. Encoded and decoded here and nowhere else.
use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldTable},
};

/// Header carrying the attempt number a message is on (absent = 1).
pub const HEADER_ATTEMPT: &str = "x-hookfleet-attempt";
/// Headers set on a message parked in `hookfleet.dead`.
pub const HEADER_SUBSCRIPTION: &str = "x-hookfleet-subscription";
pub const HEADER_DELIVERY: &str = "x-hookfleet-delivery";
pub const HEADER_REASON: &str = "x-hookfleet-reason";
/// Header naming the queue a poison message was taken from.
pub const HEADER_QUEUE: &str = "x-hookfleet-queue";
/// Header marking a test send (`POST /v1/subscriptions/{id}/test`).
pub const HEADER_TEST: &str = "x-hookfleet-test";

/// hookfleet's headers of one message. Unknown headers (the broker's `x-death`) are not kept
/// here; a message moved as it is keeps them (see [`crate::Admin::remove_parked`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// The attempt the message is on; `None` is the first.
    pub attempt: Option<i32>,
    /// A test send: recorded as such, never fanned out.
    pub test: bool,
    /// On a parked message: the subscription and delivery it belonged to.
    pub subscription: Option<String>,
    pub delivery: Option<String>,
    /// On a parked or poison message: why it was parked.
    pub reason: Option<String>,
    /// On a poison message: the queue it was taken from.
    pub queue: Option<String>,
}

impl Headers {
    /// A message on its way to attempt `attempt`.
    pub(crate) fn attempt(attempt: i32, test: bool) -> Self {
        Self {
            attempt: Some(attempt),
            test,
            ..Self::default()
        }
    }

    /// The attempt number this message is on: 1 unless a header says a later one.
    pub fn attempt_number(&self) -> i32 {
        self.attempt.unwrap_or(1).max(1)
    }

    pub(crate) fn encode(&self) -> FieldTable {
        let mut t = FieldTable::default();
        if let Some(a) = self.attempt {
            t.insert(HEADER_ATTEMPT.into(), AMQPValue::LongInt(a));
        }
        if self.test {
            t.insert(HEADER_TEST.into(), AMQPValue::Boolean(true));
        }
        for (name, value) in [
            (HEADER_SUBSCRIPTION, &self.subscription),
            (HEADER_DELIVERY, &self.delivery),
            (HEADER_REASON, &self.reason),
            (HEADER_QUEUE, &self.queue),
        ] {
            if let Some(v) = value {
                t.insert(name.into(), AMQPValue::LongString(v.as_str().into()));
            }
        }
        t
    }

    pub(crate) fn decode(table: Option<&FieldTable>) -> Self {
        let Some(t) = table else {
            return Self::default();
        };
        let get = |name: &str| t.inner().get(name);
        let text = |name: &str| match get(name) {
            Some(AMQPValue::LongString(s)) => {
                Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
            }
            _ => None,
        };
        Self {
            attempt: match get(HEADER_ATTEMPT) {
                Some(AMQPValue::LongInt(n)) => Some(*n),
                Some(AMQPValue::LongLongInt(n)) => i32::try_from(*n).ok(),
                Some(AMQPValue::ShortInt(n)) => Some(i32::from(*n)),
                _ => None,
            },
            test: matches!(get(HEADER_TEST), Some(AMQPValue::Boolean(true))),
            subscription: text(HEADER_SUBSCRIPTION),
            delivery: text(HEADER_DELIVERY),
            reason: text(HEADER_REASON),
            queue: text(HEADER_QUEUE),
        }
    }
}

/// How a message is published: always persistent JSON, with an optional message id (the
/// event id, for tracing) and hookfleet's headers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outgoing {
    pub message_id: Option<String>,
    pub headers: Headers,
}

impl Outgoing {
    pub(crate) fn with_message_id(id: impl Into<String>) -> Self {
        Self {
            message_id: Some(id.into()),
            ..Self::default()
        }
    }

    pub(crate) fn with_headers(headers: Headers) -> Self {
        Self {
            headers,
            ..Self::default()
        }
    }

    pub(crate) fn properties(&self) -> BasicProperties {
        let mut p = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into());
        if let Some(id) = &self.message_id {
            p = p.with_message_id(id.as_str().into());
        }
        if self.headers != Headers::default() {
            p = p.with_headers(self.headers.encode());
        }
        p
    }
}

/// The properties of a rendered request put in a pull outbox: persistent JSON, the delivery's
/// id as message id, and each rendered header as a message header of the same name (the
/// owner's client reads them as the HTTP receiver would read the request's headers).
pub(crate) fn rendered(headers: &[(&str, String)], message_id: &str) -> BasicProperties {
    let mut table = FieldTable::default();
    for (name, value) in headers {
        table.insert((*name).into(), AMQPValue::LongString(value.as_str().into()));
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message_id.into())
        .with_headers(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_default_to_the_first_attempt() {
        let h = Headers {
            attempt: Some(3),
            test: true,
            subscription: Some("sub_1".into()),
            delivery: Some("dlv_1".into()),
            reason: Some("endpoint answered 500".into()),
            queue: Some("q\"x".into()),
        };
        assert_eq!(Headers::decode(Some(&h.encode())), h);
        assert_eq!(Headers::decode(None).attempt_number(), 1);
        assert_eq!(Headers::attempt(0, false).attempt_number(), 1);
        let mut t = FieldTable::default();
        t.insert(HEADER_ATTEMPT.into(), AMQPValue::LongLongInt(4));
        t.insert("x-death".into(), AMQPValue::Boolean(true));
        assert_eq!(Headers::decode(Some(&t)).attempt_number(), 4);
        assert!(Outgoing::default().properties().headers().is_none());
    }

    /// Fuzzing what the broker hands back: headers anyone could have set (a message published
    /// by hand, a shovel, a newer version) decode to something usable, never a panic.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = AMQPValue> {
            prop_oneof![
                any::<i32>().prop_map(AMQPValue::LongInt),
                any::<i64>().prop_map(AMQPValue::LongLongInt),
                any::<i16>().prop_map(AMQPValue::ShortInt),
                any::<bool>().prop_map(AMQPValue::Boolean),
                any::<f64>().prop_map(AMQPValue::Double),
                prop::collection::vec(any::<u8>(), 0..40)
                    .prop_map(|b| AMQPValue::LongString(b.into())),
            ]
        }

        proptest! {
            // PROPTEST_CASES raises the count for a longer run.
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000)
        ))]
            #[test]
            fn any_headers_decode_to_a_valid_attempt(
                entries in prop::collection::vec((0usize..8, value()), 0..8),
                h in (proptest::option::of(any::<i32>()), any::<bool>(), proptest::option::of("\\PC{0,20}")),
            ) {
                let names = [HEADER_ATTEMPT, HEADER_TEST, HEADER_SUBSCRIPTION, HEADER_DELIVERY,
                             HEADER_REASON, HEADER_QUEUE, "x-death", ""];
                let mut t = FieldTable::default();
                for (i, v) in entries {
                    t.insert(names[i].into(), v);
                }
                prop_assert!(Headers::decode(Some(&t)).attempt_number() >= 1);
                // What hookfleet writes, it reads back unchanged.
                let mine = Headers { attempt: h.0, test: h.1, reason: h.2.clone(), delivery: h.2, ..Headers::default() };
                prop_assert_eq!(Headers::decode(Some(&mine.encode())), mine);
            }
        }
    }
}

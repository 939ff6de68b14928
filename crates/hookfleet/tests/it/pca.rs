//! The `pca` profile (source document 003): the body is the event's data with the copy's
//! organization and partition, and every `X-PCA-*` header is checked one by one, on a first
//! send, on a replay rebuilt from the record, and across a rotation of the API key.
use hookfleet_testkit::{Receiver, TestApp, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;

/// The document's user payload, without the two fields each copy sets.
fn user() -> Value {
    json!({"account_id": "xxxx-xx-xx-xxxx", "login_name": "yamada", "email": "yamada@email.com",
           "preferred_username": "総務部_山田太郎", "family_name": "山田", "given_name": "太郎",
           "family_kana": "ヤマダ", "given_kana": "タロウ", "account_status": "enable",
           "email_status": "active"})
}

async fn pca_subscription(app: &TestApp, rx: &Receiver) -> (String, String) {
    let sub = app
        .subscribe(
            json!({"url": rx.url, "event_types": ["user.*", "organization.*"], "profile": "pca"}),
        )
        .await;
    assert_eq!(sub["profile"], "pca");
    (
        sub["id"].as_str().unwrap().to_owned(),
        sub["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn copies_carry_the_documents_body_and_every_pca_header() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let (_, secret) = pca_subscription(&app, &rx).await;
    app.publish(json!({
        "type": "user.updated", "organization_ids": ["org-1", "org-2"],
        "service_partitions": ["pca.hub.tdi1", "pca.hub.tdi2"], "data": user(),
        "source": {"sender": "user", "client": "PCAHub-PcaPlus", "organization_id": "org-src",
                   "service_partition": "pca.hub.tenant1", "type_version": "2"}
    }))
    .await;
    let got = rx.wait_for(4, Duration::from_secs(10)).await;
    let mut scopes = Vec::new();
    for r in &got {
        let body = r.json();
        let (org, part) = (
            body["organization_id"].as_str().unwrap(),
            body["service_partition"].as_str().unwrap(),
        );
        scopes.push((org.to_owned(), part.to_owned()));
        let mut expected = user();
        expected["organization_id"] = json!(org);
        expected["service_partition"] = json!(part);
        assert_eq!(body, expected, "the document's body, this copy's scope");
        for (header, value) in [
            ("x-pca-event-apikey", secret.as_str()),
            ("x-pca-event-type", "user.updated"),
            ("x-pca-event-type-version", "2"),
            ("x-pca-event-sender", "user"),
            ("x-pca-event-sourceclient", "PCAHub-PcaPlus"),
            ("x-pca-event-sourceorganizationid", "org-src"),
            ("x-pca-event-sourceservicepartition", "pca.hub.tenant1"),
            ("x-pca-service-partition", part),
        ] {
            assert_eq!(r.header(header), value, "{header}");
        }
        let wh = standardwebhooks::Webhook::new(&secret).unwrap();
        assert!(
            wh.verify(&r.body, &r.headers).is_ok(),
            "the Standard Webhooks signature holds too"
        );
    }
    scopes.sort();
    assert_eq!(
        scopes,
        [
            ("org-1".to_owned(), "pca.hub.tdi1".to_owned()),
            ("org-1".into(), "pca.hub.tdi2".into()),
            ("org-2".into(), "pca.hub.tdi1".into()),
            ("org-2".into(), "pca.hub.tdi2".into()),
        ]
    );
}

#[tokio::test]
async fn unknown_source_fields_are_left_out_and_a_replay_carries_the_same_headers() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let (sub_id, first_secret) = pca_subscription(&app, &rx).await;
    let bare = app
        .publish(json!({"type": "organization.created", "data": {"organization_id": "o", "organization_name": "tdi"}}))
        .await;
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].header("x-pca-event-type-version"), "1");
    assert_eq!(got[0].header("x-pca-event-sender"), "service");
    for absent in [
        "x-pca-event-sourceclient",
        "x-pca-event-sourceorganizationid",
        "x-pca-event-sourceservicepartition",
        "x-pca-service-partition",
    ] {
        assert!(got[0].headers.get(absent).is_none(), "{absent}");
    }
    assert_eq!(
        got[0].json(),
        json!({"organization_id": "o", "organization_name": "tdi"})
    );

    let sourced = app
        .publish(
            json!({"type": "user.deleted", "organization_ids": ["o"], "data": user(),
                        "source": {"sender": "admin", "client": "PCAID-management"}}),
        )
        .await;
    rx.wait_for(2, Duration::from_secs(10)).await;
    app.wait_status(&sourced, "delivered").await;
    app.wait_status(&bare, "delivered").await;
    // A rotation: new copies carry the new key; the previous one stays valid for its grace.
    let rotated: Value = app
        .post(
            &format!("/v1/subscriptions/{sub_id}/secret/rotate"),
            &json!({"previous_valid_for": "1h"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_secret = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated["keys"], json!([new_secret, first_secret]));
    app.wait_reconciled().await;
    // A replay is rebuilt from the record: the same body and source headers, the new key.
    let delivery = app.deliveries(&sourced).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(&format!("/v1/deliveries/{delivery}/retry"), &json!({}))
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    let (first, replay) = (&got[1], &got[2]);
    assert_eq!(replay.body, first.body);
    for h in [
        "x-pca-event-type",
        "x-pca-event-sender",
        "x-pca-event-sourceclient",
        "x-pca-event-type-version",
    ] {
        assert_eq!(replay.header(h), first.header(h), "{h}");
    }
    assert_eq!(replay.header("x-pca-event-sender"), "admin");
    assert_eq!(replay.header("x-pca-event-apikey"), new_secret);
    assert_eq!(first.header("x-pca-event-apikey"), first_secret);
}

#[tokio::test]
async fn a_source_that_cannot_travel_as_a_header_is_refused() {
    let app = spawn_app().await;
    for (source, field) in [
        (json!({"client": "a\nb"}), "source.client"),
        (json!({"client": ""}), "source.client"),
        (
            json!({"type_version": "x".repeat(129)}),
            "source.type_version",
        ),
        (json!({"organization_id": "ünï"}), "source.organization_id"),
        (json!({"sender": "robot"}), "robot"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let res = app
            .post(
                "/v1/events",
                &json!({"type": "user.created", "data": {}, "source": source}),
            )
            .await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        assert!(matches!(status, 400 | 422), "{source}: {status} {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{source}: {body}"
        );
    }
    assert_eq!(app.count("events").await, 0);
}

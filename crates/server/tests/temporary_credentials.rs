//! Temporary (`ASIA…`) credentials are deleted a day after they expire; lasting keys and
//! unexpired sessions stay.

use steward_server::base::credentials::key_of;
use steward_server::base::encode;
use steward_server::iam::{sweep_expired, EXPIRED_KEPT_MILLIS};
use steward_store::Op;

mod common;
use common::{fixture, T0};

const HOUR: i64 = 3600 * 1000;

async fn store_key(f: &common::Fixture, prefix: &str, expires: Option<i64>) -> String {
    let env = &f.ctx.env;
    let arn = "arn:aws:sts::123456789012:assumed-role/Ops/s";
    let (id, _, mut record) = env.credentials.mint(prefix, "123456789012", arn, T0);
    record.expires = expires;
    env.store.write(vec![Op::put(key_of(&id), encode(&record))]).await.unwrap();
    id
}

async fn present(f: &common::Fixture, id: &str) -> bool {
    f.ctx.env.store.get(&key_of(id)).await.unwrap().is_some()
}

#[tokio::test]
async fn expired_session_credentials_go_a_day_after_expiry() {
    let f = fixture("sts-sweep").await;
    let lasting = store_key(&f, "AKIA", None).await;
    let short = store_key(&f, "ASIA", Some(T0 + HOUR)).await;
    let long = store_key(&f, "ASIA", Some(T0 + 12 * HOUR)).await;

    f.clock.advance(2 * HOUR); // short expired an hour ago: still kept, to say ExpiredToken.
    assert_eq!(sweep_expired(&f.ctx.env).await.unwrap(), 0);
    assert!(present(&f, &short).await);

    f.clock.advance(EXPIRED_KEPT_MILLIS);
    assert_eq!(sweep_expired(&f.ctx.env).await.unwrap(), 1);
    assert!(!present(&f, &short).await);
    assert!(present(&f, &long).await && present(&f, &lasting).await);

    f.clock.advance(12 * HOUR);
    assert_eq!(sweep_expired(&f.ctx.env).await.unwrap(), 1);
    assert!(!present(&f, &long).await);
    assert!(present(&f, &lasting).await, "lasting keys are never swept");
    assert_eq!(sweep_expired(&f.ctx.env).await.unwrap(), 0);
}

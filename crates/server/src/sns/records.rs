//! What SNS keeps: topics `snstopic/<acct>/<region>/<name>`, subscriptions
//! `snssub/<acct>/<region>/<topic>/<id>` (the subscription ARN names all four parts, so no
//! index is needed), and pending confirmation tokens `snstoken/<sha256>` → the subscription.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use steward_api::ApiError;
use steward_store::{prefix_end, Item, Start};

use crate::base::{decode, store_fault, Ctx};

/// How long a confirmation token is good for, as in SNS (3 days).
pub const TOKEN_LIFETIME_MS: i64 = 3 * 24 * 3600 * 1000;

/// A topic.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct TopicRecord {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    /// Settable attributes as given (DisplayName, DeliveryPolicy, SignatureVersion).
    pub attributes: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    pub created: i64,
}

/// A subscription of an http/https endpoint to a topic.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct SubscriptionRecord {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    /// The account that subscribed.
    pub owner: String,
    /// Whether the endpoint confirmed; nothing but the confirmation request is sent before.
    pub confirmed: bool,
    /// SHA-256 (hex) of the pending confirmation token.
    #[serde(default)]
    pub token_sha256: String,
    /// When the confirmation token stops working (epoch ms).
    #[serde(default)]
    pub token_expires: i64,
    /// Confirmed by a signed call asking that only signed calls unsubscribe.
    #[serde(default)]
    pub authenticate_on_unsubscribe: bool,
    /// Deliver the bare message instead of SNS's JSON envelope.
    #[serde(default)]
    pub raw_message_delivery: bool,
    pub created: i64,
}

/// A pending token's entry.
#[derive(Serialize, Deserialize)]
pub struct TokenRecord {
    pub subscription_key: String,
    pub expires: i64,
}

/// Where a topic lives, from its ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicName {
    pub region: String,
    pub account: String,
    pub name: String,
}

impl TopicName {
    pub fn key(&self) -> String {
        topic_key(&self.account, &self.region, &self.name)
    }

    pub fn arn(&self) -> String {
        format!("arn:aws:sns:{}:{}:{}", self.region, self.account, self.name)
    }

    pub fn subscriptions_prefix(&self) -> String {
        format!("snssub/{}/{}/{}/", self.account, self.region, self.name)
    }
}

pub fn topic_key(account: &str, region: &str, name: &str) -> String {
    format!("snstopic/{account}/{region}/{name}")
}

pub fn topics_prefix(account: &str, region: &str) -> String {
    format!("snstopic/{account}/{region}/")
}

pub fn subscriptions_prefix(account: &str, region: &str) -> String {
    format!("snssub/{account}/{region}/")
}

pub fn token_key(token: &str) -> String {
    format!("snstoken/{}", token_hash(token))
}

pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Whether `name` is a topic name SNS accepts (standard topics).
pub fn valid_topic_name(name: &str) -> bool {
    (1..=256).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A topic ARN `arn:aws:sns:REGION:ACCOUNT:NAME`, or None.
pub fn parse_topic_arn(arn: &str) -> Option<TopicName> {
    let rest = arn.strip_prefix("arn:aws:sns:")?;
    let mut parts = rest.split(':');
    let (region, account, name) = (parts.next()?, parts.next()?, parts.next()?);
    let plausible = !region.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (plausible && parts.next().is_none() && valid_topic_name(name)).then(|| TopicName {
        region: region.into(),
        account: account.into(),
        name: name.into(),
    })
}

/// A subscription ARN (its topic's ARN and `:<uuid>`), as its topic and store key.
pub fn parse_subscription_arn(arn: &str) -> Option<(TopicName, String)> {
    let (topic, id) = arn.rsplit_once(':')?;
    let topic = parse_topic_arn(topic)?;
    let id_ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    id_ok.then(|| {
        let key = format!("{}{id}", topic.subscriptions_prefix());
        (topic, key)
    })
}

/// The topic, if it exists.
pub async fn load_topic(ctx: &Ctx, topic: &TopicName) -> Result<Option<(TopicRecord, i64)>, ApiError> {
    let key = topic.key();
    match ctx.env.store.get(&key).await.map_err(store_fault)? {
        Some(item) => Ok(Some((decode(&key, &item.value)?, item.revision))),
        None => Ok(None),
    }
}

/// The topic, or SNS's NotFound.
pub async fn require_topic(ctx: &Ctx, topic: &TopicName) -> Result<(TopicRecord, i64), ApiError> {
    load_topic(ctx, topic).await?.ok_or_else(|| not_found("Topic does not exist"))
}

/// Every subscription under `prefix`, a page at a time, handed to `each`.
pub async fn for_each_subscription(
    ctx: &Ctx,
    prefix: &str,
    mut each: impl FnMut(Item, SubscriptionRecord),
) -> Result<(), ApiError> {
    let end = prefix_end(prefix);
    let mut after: Option<String> = None;
    loop {
        let start = after.as_deref().map_or(Start::At(prefix), Start::After);
        let items = ctx.env.store.range(start, &end, 500).await.map_err(store_fault)?;
        let Some(last) = items.last() else { return Ok(()) };
        after = Some(last.key.clone());
        let full = items.len() == 500;
        for item in items {
            let record: SubscriptionRecord = decode(&item.key, &item.value)?;
            each(item, record);
        }
        if !full {
            return Ok(());
        }
    }
}

/// SNS's `InvalidParameter` (400): "Invalid parameter: WHAT".
pub fn invalid(what: impl std::fmt::Display) -> ApiError {
    ApiError::new("InvalidParameter", format!("Invalid parameter: {what}")).with_status(400)
}

/// SNS's `NotFound` (404).
pub fn not_found(message: &str) -> ApiError {
    ApiError::new("NotFound", message.to_owned()).with_status(404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_and_subscription_arns() {
        let t = parse_topic_arn("arn:aws:sns:us-east-1:123456789012:ops-alerts").unwrap();
        assert_eq!(t.name, "ops-alerts");
        assert_eq!(t.arn(), "arn:aws:sns:us-east-1:123456789012:ops-alerts");
        for bad in [
            "http://example.com/hook",
            "arn:aws:sns:us-east-1:123:ops",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:aws:sns:us-east-1:123456789012:a/b",
            "arn:aws:sqs:us-east-1:123456789012:q",
        ] {
            assert!(parse_topic_arn(bad).is_none(), "{bad}");
        }
        let (topic, key) =
            parse_subscription_arn("arn:aws:sns:us-east-1:123456789012:ops:0b6941f8-1b7e-4a8c-9d1e-2f3a4b5c6d7e")
                .unwrap();
        assert_eq!(topic.name, "ops");
        assert_eq!(key, "snssub/123456789012/us-east-1/ops/0b6941f8-1b7e-4a8c-9d1e-2f3a4b5c6d7e");
        assert!(parse_subscription_arn("arn:aws:sns:us-east-1:123456789012:ops:../x").is_none());
    }
}

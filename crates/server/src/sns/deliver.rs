//! Messages as SNS delivers them to http/https endpoints: the JSON envelope, the string it
//! signs (fields in SNS's order), the RSA signature (SHA1withRSA for SignatureVersion 1,
//! SHA256withRSA for 2) and the `SigningCertURL` where the certificate is served; posted
//! through the server's outbound rules and retried as the topic's delivery policy says.

use bytes::Bytes;
use serde_json::{json, Map, Value};
use steward_api::ApiError;

use super::records::{invalid, SubscriptionRecord, TopicRecord};
use crate::base::events::Retry;
use crate::base::signing_key::Hash;
use crate::base::Env;

/// The path the signing certificate is served under (`/sns/SimpleNotificationService-<id>.pem`).
pub const CERT_PATH_PREFIX: &str = "/sns/SimpleNotificationService-";

/// What a message is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Notification => "Notification",
            Kind::SubscriptionConfirmation => "SubscriptionConfirmation",
            Kind::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// One message for one subscription.
pub struct Message {
    pub kind: Kind,
    pub id: String,
    pub subject: Option<String>,
    pub text: String,
    /// Epoch ms.
    pub at: i64,
    /// Confirmation messages: the token and the URL that confirms with it.
    pub token: Option<String>,
    /// Notifications: `MessageAttributes` in SNS's JSON form.
    pub attributes: Option<Value>,
}

/// SNS's timestamp: ISO 8601 with milliseconds.
fn timestamp(ms: i64) -> String {
    let seconds = steward_api::time::format_iso8601(ms.div_euclid(1000));
    format!("{}.{:03}Z", seconds.trim_end_matches('Z'), ms.rem_euclid(1000))
}

fn query_escape(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The URL an endpoint visits to confirm (no signature needed: the token is the proof).
pub fn subscribe_url(env: &Env, topic_arn: &str, token: &str) -> String {
    format!(
        "{}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
        env.agents.advertise_url,
        query_escape(topic_arn),
        query_escape(token)
    )
}

/// The URL in every notification that ends the subscription.
pub fn unsubscribe_url(env: &Env, subscription_arn: &str) -> String {
    format!("{}/?Action=Unsubscribe&SubscriptionArn={}", env.agents.advertise_url, query_escape(subscription_arn))
}

/// The string SNS signs: `Name\nvalue\n` for each field, in SNS's order for the kind.
fn string_to_sign(fields: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        if let Some(value) = value {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

/// Sends `message` to `sub` in the background. Errors only when the message cannot be
/// made (no signing key); delivery failures are retried and logged, never returned.
pub async fn send(env: &Env, topic: &TopicRecord, sub: &SubscriptionRecord, message: Message) -> Result<(), ApiError> {
    let key = env.kms.signing_key().await?;
    let version = topic.attributes.get("SignatureVersion").map(String::as_str).unwrap_or("1");
    let hash = if version == "2" { Hash::Sha256 } else { Hash::Sha1 };
    let stamp = timestamp(message.at);
    let kind = message.kind.name();
    let subscribe_url = message.token.as_deref().map(|t| subscribe_url(env, &topic.arn, t));
    let signed = match message.kind {
        Kind::Notification => string_to_sign(&[
            ("Message", Some(&message.text)),
            ("MessageId", Some(&message.id)),
            ("Subject", message.subject.as_deref()),
            ("Timestamp", Some(&stamp)),
            ("TopicArn", Some(&topic.arn)),
            ("Type", Some(kind)),
        ]),
        _ => string_to_sign(&[
            ("Message", Some(&message.text)),
            ("MessageId", Some(&message.id)),
            ("SubscribeURL", subscribe_url.as_deref()),
            ("Timestamp", Some(&stamp)),
            ("Token", message.token.as_deref()),
            ("TopicArn", Some(&topic.arn)),
            ("Type", Some(kind)),
        ]),
    };
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(hash, signed.as_bytes()));
    let mut body = Map::new();
    body.insert("Type".into(), json!(kind));
    body.insert("MessageId".into(), json!(message.id));
    if let Some(token) = &message.token {
        body.insert("Token".into(), json!(token));
    }
    body.insert("TopicArn".into(), json!(topic.arn));
    if let Some(subject) = &message.subject {
        body.insert("Subject".into(), json!(subject));
    }
    body.insert("Message".into(), json!(message.text));
    if let Some(url) = &subscribe_url {
        body.insert("SubscribeURL".into(), json!(url));
    }
    body.insert("Timestamp".into(), json!(stamp));
    body.insert("SignatureVersion".into(), json!(version));
    body.insert("Signature".into(), json!(signature));
    body.insert(
        "SigningCertURL".into(),
        json!(format!("{}{CERT_PATH_PREFIX}{}.pem", env.agents.advertise_url, key.id)),
    );
    if message.kind == Kind::Notification {
        body.insert("UnsubscribeURL".into(), json!(unsubscribe_url(env, &sub.arn)));
        if let Some(attributes) = &message.attributes {
            body.insert("MessageAttributes".into(), attributes.clone());
        }
    }
    let raw = sub.raw_message_delivery && message.kind == Kind::Notification;
    let payload = if raw { Bytes::from(message.text.clone()) } else { Bytes::from(Value::Object(body).to_string()) };
    let mut headers = vec![
        ("content-type".to_owned(), "text/plain; charset=UTF-8".to_owned()),
        ("user-agent".to_owned(), "Amazon Simple Notification Service Agent".to_owned()),
        ("x-amz-sns-message-type".to_owned(), kind.to_owned()),
        ("x-amz-sns-message-id".to_owned(), message.id.clone()),
        ("x-amz-sns-topic-arn".to_owned(), topic.arn.clone()),
    ];
    if message.kind != Kind::SubscriptionConfirmation {
        headers.push(("x-amz-sns-subscription-arn".to_owned(), sub.arn.clone()));
    }
    if raw {
        headers.push(("x-amz-sns-rawdelivery".to_owned(), "true".to_owned()));
    }
    let retry = retry_policy(topic.attributes.get("DeliveryPolicy").map(String::as_str), &sub.protocol)
        .unwrap_or_else(|_| default_retry());
    env.events.post(sub.endpoint.clone(), headers, payload, retry);
    Ok(())
}

/// SNS's default for http/https: 3 retries, 20 s apart.
pub fn default_retry() -> Retry {
    Retry {
        retries: 3,
        min_delay: std::time::Duration::from_secs(20),
        max_delay: std::time::Duration::from_secs(20),
        exponential: false,
    }
}

/// The retry policy a topic's `DeliveryPolicy` sets for `protocol` (`http` covers both, as
/// in SNS): `{"http": {"defaultHealthyRetryPolicy": {"numRetries", "minDelayTarget",
/// "maxDelayTarget", "backoffFunction"}}}`. Also validates the policy when it is set.
pub fn retry_policy(policy: Option<&str>, _protocol: &str) -> Result<Retry, ApiError> {
    let mut retry = default_retry();
    let Some(policy) = policy else { return Ok(retry) };
    let bad = |why: &str| invalid(format!("Attributes Reason: DeliveryPolicy: {why}"));
    let value: Value = serde_json::from_str(policy).map_err(|_| bad("not valid JSON"))?;
    let Some(healthy) = value.get("http").and_then(|h| h.get("defaultHealthyRetryPolicy")) else {
        return Ok(retry);
    };
    let number = |name: &str, range: std::ops::RangeInclusive<u64>| -> Result<Option<u64>, ApiError> {
        match healthy.get(name) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(bad(&format!("{name} must be a whole number in {}..{}", range.start(), range.end()))),
            },
        }
    };
    if let Some(n) = number("numRetries", 0..=100)? {
        retry.retries = n as u32;
    }
    if let Some(n) = number("minDelayTarget", 1..=3600)? {
        retry.min_delay = std::time::Duration::from_secs(n);
    }
    if let Some(n) = number("maxDelayTarget", 1..=3600)? {
        retry.max_delay = std::time::Duration::from_secs(n);
    }
    if retry.min_delay > retry.max_delay {
        return Err(bad("minDelayTarget must not exceed maxDelayTarget"));
    }
    match healthy.get("backoffFunction").and_then(Value::as_str) {
        None | Some("linear") | Some("arithmetic") => {}
        Some("geometric") | Some("exponential") => retry.exponential = true,
        Some(_) => return Err(bad("backoffFunction must be linear, arithmetic, geometric or exponential")),
    }
    Ok(retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_fields_in_sns_order_and_skips_absent_ones() {
        let s = string_to_sign(&[("Message", Some("hi")), ("Subject", None), ("Type", Some("Notification"))]);
        assert_eq!(s, "Message\nhi\nType\nNotification\n");
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn delivery_policies_are_read_and_checked() {
        let r = retry_policy(
            Some(r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":2,"minDelayTarget":1,"maxDelayTarget":4}}}"#),
            "http",
        )
        .unwrap();
        assert_eq!((r.retries, r.delay(1).as_secs(), r.delay(2).as_secs()), (2, 1, 4));
        assert!(retry_policy(Some("{"), "http").is_err());
        assert!(retry_policy(Some(r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":-1}}}"#), "http").is_err());
        assert!(retry_policy(
            Some(r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":9,"maxDelayTarget":2}}}"#),
            "http"
        )
        .is_err());
    }
}

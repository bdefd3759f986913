//! The SNS query API: topics, subscriptions, Publish. Each call is authorised as
//! `sns:<Action>` on the topic it touches (`*` for the account-wide lists); SNS names a
//! refusal `AuthorizationError`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Value};
use steward_api::query::{Params, Xml};
use steward_api::ApiError;
use steward_store::Op;

use super::deliver::{self, Kind, Message};
use super::records::*;
use crate::base::paging::{decode_token, encode_token};
use crate::base::{decode, encode, store_fault, Ctx};

const KNOWN: &[&str] = &[
    "CreateTopic",
    "DeleteTopic",
    "ListTopics",
    "GetTopicAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "ConfirmSubscription",
    "Unsubscribe",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "GetSubscriptionAttributes",
    "SetSubscriptionAttributes",
    "Publish",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// Items per page of the list operations, as SNS.
const PAGE: usize = 100;
/// The largest message SNS accepts (256 KiB).
const MAX_MESSAGE: usize = 262_144;
/// Topic attributes a caller may set.
const TOPIC_ATTRIBUTES: &[&str] = &["DisplayName", "DeliveryPolicy", "SignatureVersion"];
/// Tags on one topic.
const MAX_TAGS: usize = 50;

/// The topic a request names, when it names one (for the audit trail).
pub fn resource_of(ctx: &Ctx, params: &Params) -> Option<String> {
    let p = &ctx.principal;
    if let Some(arn) = params.opt("TopicArn").or(params.opt("TargetArn")).or(params.opt("ResourceArn")) {
        return Some(arn.to_owned());
    }
    if let Some(sub) = params.opt("SubscriptionArn") {
        return parse_subscription_arn(sub).map(|(t, _)| t.arn());
    }
    params.opt("Name").map(|n| TopicName { region: p.region.clone(), account: p.account.clone(), name: n.into() }.arn())
}

/// Runs SNS `action` for the caller.
pub async fn call(ctx: &Ctx, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    if !KNOWN.contains(&action) {
        return Err(ApiError::new(
            "InvalidAction",
            format!("Could not find operation {action} for version 2010-03-31"),
        )
        .with_status(400));
    }
    let resource = match action {
        "ListTopics" | "ListSubscriptions" => "*".to_owned(),
        "CreateTopic" => {
            let name = params.req("Name")?;
            if !valid_topic_name(name) {
                return Err(invalid("Topic Name"));
            }
            own_topic(ctx, name).arn()
        }
        "Unsubscribe" | "GetSubscriptionAttributes" | "SetSubscriptionAttributes" => {
            subscription(params.req("SubscriptionArn")?)?.0.arn()
        }
        "Publish" => topic_of(
            params
                .opt("TopicArn")
                .or(params.opt("TargetArn"))
                .ok_or_else(|| invalid("TopicArn or TargetArn Reason: no value for required parameter"))?,
        )?
        .arn(),
        "TagResource" | "UntagResource" | "ListTagsForResource" => topic_of(params.req("ResourceArn")?)?.arn(),
        _ => topic_of(params.req("TopicArn")?)?.arn(),
    };
    authorize(ctx, &format!("sns:{action}"), &resource).await?;
    match action {
        "CreateTopic" => create_topic(ctx, params).await,
        "DeleteTopic" => delete_topic(ctx, &topic_of(params.req("TopicArn")?)?).await,
        "ListTopics" => list_topics(ctx, params).await,
        "GetTopicAttributes" => get_topic_attributes(ctx, &topic_of(params.req("TopicArn")?)?).await,
        "SetTopicAttributes" => set_topic_attributes(ctx, params).await,
        "Subscribe" => subscribe(ctx, params).await,
        "ConfirmSubscription" => {
            let topic = topic_of(params.req("TopicArn")?)?;
            let strict = params.opt("AuthenticateOnUnsubscribe").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let arn = confirm(ctx, &topic, params.req("Token")?, strict).await?;
            Ok(Some(Xml::element("SubscriptionArn", &arn)))
        }
        "Unsubscribe" => {
            unsubscribe(ctx, params.req("SubscriptionArn")?, true).await?;
            Ok(None)
        }
        "ListSubscriptions" => {
            let prefix = subscriptions_prefix(&ctx.principal.account, &ctx.principal.region);
            list_subscriptions(ctx, &prefix, params).await
        }
        "ListSubscriptionsByTopic" => {
            let topic = topic_of(params.req("TopicArn")?)?;
            require_topic(ctx, &topic).await?;
            list_subscriptions(ctx, &topic.subscriptions_prefix(), params).await
        }
        "GetSubscriptionAttributes" => get_subscription_attributes(ctx, params).await,
        "SetSubscriptionAttributes" => set_subscription_attributes(ctx, params).await,
        "Publish" => {
            let id = publish_request(ctx, params).await?;
            Ok(Some(Xml::element("MessageId", &id)))
        }
        "TagResource" | "UntagResource" => change_tags(ctx, action, params).await,
        "ListTagsForResource" => {
            let (topic, _) = require_topic(ctx, &topic_of(params.req("ResourceArn")?)?).await?;
            let mut x = Xml::new();
            x.list("Tags", &topic.tags, |x, (k, v)| {
                x.leaf("Key", k).leaf("Value", v);
            });
            Ok(Some(x.finish()))
        }
        _ => unreachable!("KNOWN lists every action handled"),
    }
}

/// `sns:<action>` on `resource`, refused as SNS refuses.
async fn authorize(ctx: &Ctx, action: &str, resource: &str) -> Result<(), ApiError> {
    ctx.authorize(action, &[resource.to_owned()], |r| r)
        .await
        .map_err(|e| ApiError::new("AuthorizationError", e.message()).with_status(403))
}

fn own_topic(ctx: &Ctx, name: &str) -> TopicName {
    TopicName { region: ctx.principal.region.clone(), account: ctx.principal.account.clone(), name: name.into() }
}

/// A topic ARN parameter, or SNS's InvalidParameter.
fn topic_of(arn: &str) -> Result<TopicName, ApiError> {
    parse_topic_arn(arn).ok_or_else(|| invalid("TopicArn"))
}

fn subscription(arn: &str) -> Result<(TopicName, String), ApiError> {
    parse_subscription_arn(arn).ok_or_else(|| invalid("SubscriptionArn"))
}

/// Checks one topic attribute as SNS would before storing it.
fn check_topic_attribute(name: &str, value: &str) -> Result<(), ApiError> {
    match name {
        "DisplayName" if value.chars().count() > 100 => Err(invalid("DisplayName")),
        "DeliveryPolicy" => deliver::retry_policy(Some(value), "http").map(|_| ()),
        "SignatureVersion" if value != "1" && value != "2" => {
            Err(invalid("Attributes Reason: SignatureVersion must be 1 or 2"))
        }
        "Policy" => Err(invalid(
            "Attributes Reason: Policy: topic access policies are not supported; IAM policies decide who may use a topic",
        )),
        other if !TOPIC_ATTRIBUTES.contains(&other) => {
            Err(invalid(format!("Attributes Reason: Unknown attribute {other}")))
        }
        _ => Ok(()),
    }
}

fn tags_of(params: &Params) -> Result<Vec<(String, String)>, ApiError> {
    let tags: Vec<(String, String)> = params
        .members("Tags")
        .into_iter()
        .map(|m| (m.get("Key").cloned().unwrap_or_default(), m.get("Value").cloned().unwrap_or_default()))
        .collect();
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 || k.starts_with("aws:") {
            return Err(invalid(
                "Tags Reason: a tag key is 1-128 characters not starting with aws:, a value at most 256",
            ));
        }
    }
    Ok(tags)
}

async fn create_topic(ctx: &Ctx, params: &Params) -> Result<Option<String>, ApiError> {
    let topic = own_topic(ctx, params.req("Name")?);
    let attributes = params.entries("Attributes");
    for (k, v) in &attributes {
        check_topic_attribute(k, v)?;
    }
    let tags = tags_of(params)?;
    if tags.len() > MAX_TAGS {
        return Err(ApiError::new(
            "TagLimitExceeded",
            "Could not complete request: tag quota of per resource exceeded",
        )
        .with_status(400));
    }
    let answer = |arn: &str| Ok(Some(Xml::element("TopicArn", arn)));
    if let Some((existing, _)) = load_topic(ctx, &topic).await? {
        // CreateTopic is idempotent; asking again with other attributes is an error, as in SNS.
        let same = attributes.iter().all(|(k, v)| existing.attributes.get(k) == Some(v));
        if !same {
            return Err(invalid("Attributes Reason: Topic already exists with different attributes"));
        }
        return answer(&existing.arn);
    }
    let record = TopicRecord {
        name: topic.name.clone(),
        arn: topic.arn(),
        account: topic.account.clone(),
        region: topic.region.clone(),
        attributes,
        tags,
        created: ctx.now(),
    };
    match ctx.env.store.write(vec![Op::put(topic.key(), encode(&record)).if_absent()]).await {
        Ok(()) | Err(steward_store::StoreError::Conflict { .. }) => answer(&record.arn),
        Err(e) => Err(store_fault(e)),
    }
}

async fn delete_topic(ctx: &Ctx, topic: &TopicName) -> Result<Option<String>, ApiError> {
    // Deleting a topic that does not exist succeeds, as in SNS; its subscriptions go with it.
    let mut ops = Vec::new();
    for_each_subscription(ctx, &topic.subscriptions_prefix(), |item, sub| {
        if !sub.token_sha256.is_empty() {
            ops.push(Op::delete(format!("snstoken/{}", sub.token_sha256)));
        }
        ops.push(Op::delete(item.key));
    })
    .await?;
    crate::base::write_staged(ctx.env.store.as_ref(), ops, vec![Op::delete(topic.key())]).await.map_err(store_fault)?;
    Ok(None)
}

async fn list_topics(ctx: &Ctx, params: &Params) -> Result<Option<String>, ApiError> {
    let prefix = topics_prefix(&ctx.principal.account, &ctx.principal.region);
    let (items, next) = page(ctx, &prefix, params.opt("NextToken")).await?;
    let mut arns = Vec::new();
    for item in items {
        arns.push(decode::<TopicRecord>(&item.key, &item.value)?.arn);
    }
    let mut x = Xml::new();
    x.list("Topics", &arns, |x, arn| {
        x.leaf("TopicArn", arn);
    });
    x.leaf_opt("NextToken", next.as_deref());
    Ok(Some(x.finish()))
}

/// One page of keys under `prefix` after the token's key.
async fn page(
    ctx: &Ctx,
    prefix: &str,
    token: Option<&str>,
) -> Result<(Vec<steward_store::Item>, Option<String>), ApiError> {
    let token = token.map(|t| decode_token(t, prefix)).transpose().map_err(|_| invalid("NextToken"))?;
    let start = token.as_deref().map_or(steward_store::Start::At(prefix), steward_store::Start::After);
    let mut items =
        ctx.env.store.range(start, &steward_store::prefix_end(prefix), PAGE + 1).await.map_err(store_fault)?;
    let next = if items.len() > PAGE {
        items.truncate(PAGE);
        items.last().map(|i| encode_token(&i.key))
    } else {
        None
    };
    Ok((items, next))
}

async fn get_topic_attributes(ctx: &Ctx, topic: &TopicName) -> Result<Option<String>, ApiError> {
    let (record, _) = require_topic(ctx, topic).await?;
    let (mut confirmed, mut pending) = (0u64, 0u64);
    for_each_subscription(ctx, &topic.subscriptions_prefix(), |_, sub| {
        if sub.confirmed {
            confirmed += 1
        } else {
            pending += 1
        }
    })
    .await?;
    let retry = deliver::retry_policy(record.attributes.get("DeliveryPolicy").map(String::as_str), "http")
        .unwrap_or_else(|_| deliver::default_retry());
    let effective = json!({"http": {"defaultHealthyRetryPolicy": {
        "minDelayTarget": retry.min_delay.as_secs(),
        "maxDelayTarget": retry.max_delay.as_secs(),
        "numRetries": retry.retries,
        "numMaxDelayRetries": 0,
        "numNoDelayRetries": 0,
        "numMinDelayRetries": 0,
        "backoffFunction": if retry.exponential { "exponential" } else { "linear" },
    }, "disableSubscriptionOverrides": false}});
    let mut attributes: BTreeMap<String, String> = BTreeMap::from([
        ("TopicArn".into(), record.arn.clone()),
        ("Owner".into(), record.account.clone()),
        ("DisplayName".into(), String::new()),
        ("SubscriptionsConfirmed".into(), confirmed.to_string()),
        ("SubscriptionsPending".into(), pending.to_string()),
        ("SubscriptionsDeleted".into(), "0".into()),
        ("EffectiveDeliveryPolicy".into(), effective.to_string()),
        ("SignatureVersion".into(), "1".into()),
    ]);
    attributes.extend(record.attributes.clone());
    Ok(Some(attribute_map(&attributes)))
}

fn attribute_map(attributes: &BTreeMap<String, String>) -> String {
    let mut x = Xml::new();
    x.open("Attributes");
    for (k, v) in attributes {
        x.open("entry").leaf("key", k).leaf("value", v).close("entry");
    }
    x.close("Attributes");
    x.finish()
}

async fn set_topic_attributes(ctx: &Ctx, params: &Params) -> Result<Option<String>, ApiError> {
    let topic = topic_of(params.req("TopicArn")?)?;
    let name = params.req("AttributeName")?;
    let value = params.opt("AttributeValue").unwrap_or("");
    check_topic_attribute(name, value)?;
    let (mut record, revision) = require_topic(ctx, &topic).await?;
    if value.is_empty() {
        record.attributes.remove(name);
    } else {
        record.attributes.insert(name.to_owned(), value.to_owned());
    }
    write_revised(ctx, &topic.key(), &record, revision).await?;
    Ok(None)
}

async fn write_revised<T: serde::Serialize>(ctx: &Ctx, key: &str, record: &T, revision: i64) -> Result<(), ApiError> {
    ctx.env.store.write(vec![Op::put(key, encode(record)).if_revision(revision)]).await.map_err(store_fault)
}

async fn change_tags(ctx: &Ctx, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    let topic = topic_of(params.req("ResourceArn")?)?;
    let (mut record, revision) = require_topic(ctx, &topic).await?;
    if action == "TagResource" {
        for (k, v) in tags_of(params)? {
            record.tags.retain(|(old, _)| *old != k);
            record.tags.push((k, v));
        }
        if record.tags.len() > MAX_TAGS {
            return Err(ApiError::new(
                "TagLimitExceeded",
                "Could not complete request: tag quota of per resource exceeded",
            )
            .with_status(400));
        }
    } else {
        let gone = params.list("TagKeys");
        record.tags.retain(|(k, _)| !gone.contains(k));
    }
    write_revised(ctx, &topic.key(), &record, revision).await?;
    // Their answers carry an empty result element (SDKs look for it).
    Ok(Some(String::new()))
}

/// Whether an endpoint URL is one SNS would deliver to for `protocol`, and not aimed at an
/// address the outbound rules refuse (literal addresses are refused here; names when they
/// are resolved at delivery).
fn check_endpoint(ctx: &Ctx, protocol: &str, endpoint: &str) -> Result<(), ApiError> {
    let uri: http::Uri = endpoint.parse().map_err(|_| invalid("Endpoint Reason: not a URL"))?;
    if uri.scheme_str() != Some(protocol) || uri.host().is_none_or(str::is_empty) {
        return Err(invalid("Endpoint must match the specified protocol"));
    }
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        let port = uri.port_u16().unwrap_or(if protocol == "https" { 443 } else { 80 });
        if let Some(why) = ctx.env.events.refusal(SocketAddr::new(ip, port)) {
            return Err(invalid(format!("Endpoint Reason: deliveries there are refused: {why}")));
        }
    }
    Ok(())
}

async fn subscribe(ctx: &Ctx, params: &Params) -> Result<Option<String>, ApiError> {
    let topic = topic_of(params.req("TopicArn")?)?;
    let protocol = params.req("Protocol")?.to_ascii_lowercase();
    if protocol != "http" && protocol != "https" {
        return Err(invalid(format!(
            "Protocol Reason: {protocol} is not supported; Steward delivers to http and https endpoints"
        )));
    }
    let endpoint = params.opt("Endpoint").ok_or_else(|| invalid("Endpoint"))?.to_owned();
    check_endpoint(ctx, &protocol, &endpoint)?;
    let mut raw = false;
    for (k, v) in params.entries("Attributes") {
        match k.as_str() {
            "RawMessageDelivery" => raw = v.eq_ignore_ascii_case("true"),
            other => return Err(invalid(format!("Attributes Reason: Unknown attribute {other}"))),
        }
    }
    let (topic_record, _) = require_topic(ctx, &topic).await?;
    let return_arn = params.opt("ReturnSubscriptionArn").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    // The same endpoint subscribed again gets its subscription back (a pending one gets a
    // fresh confirmation request).
    let mut existing = None;
    for_each_subscription(ctx, &topic.subscriptions_prefix(), |item, sub| {
        if sub.protocol == protocol && sub.endpoint == endpoint {
            existing = Some((item, sub));
        }
    })
    .await?;
    if let Some((_, sub)) = &existing {
        if sub.confirmed {
            return Ok(Some(Xml::element("SubscriptionArn", &sub.arn)));
        }
    }
    let now = ctx.now();
    let token = hex::encode(crate::base::crypto::random_key()) + &hex::encode(crate::base::crypto::random_key());
    let id = uuid::Uuid::new_v4().to_string();
    let mut ops = Vec::new();
    let (key, mut sub) = match existing {
        Some((item, sub)) => {
            ops.push(Op::delete(format!("snstoken/{}", sub.token_sha256)));
            (item.key, sub)
        }
        None => (
            format!("{}{id}", topic.subscriptions_prefix()),
            SubscriptionRecord {
                arn: format!("{}:{id}", topic.arn()),
                topic_arn: topic.arn(),
                protocol,
                endpoint,
                owner: ctx.principal.account.clone(),
                raw_message_delivery: raw,
                created: now,
                ..Default::default()
            },
        ),
    };
    sub.token_sha256 = token_hash(&token);
    sub.token_expires = now + TOKEN_LIFETIME_MS;
    ops.push(Op::put(key.clone(), encode(&sub)));
    ops.push(Op::put(token_key(&token), encode(&TokenRecord { subscription_key: key, expires: sub.token_expires })));
    ctx.env.store.write(ops).await.map_err(store_fault)?;
    let message = Message {
        kind: Kind::SubscriptionConfirmation,
        id: uuid::Uuid::new_v4().to_string(),
        subject: None,
        text: format!(
            "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            topic.arn()
        ),
        at: now,
        token: Some(token),
        attributes: None,
    };
    deliver::send(&ctx.env, &topic_record, &sub, message).await?;
    let shown = if return_arn { sub.arn.as_str() } else { "pending confirmation" };
    Ok(Some(Xml::element("SubscriptionArn", shown)))
}

/// Confirms the subscription `token` was sent for; `strict` (a signed call asked for it)
/// means only signed calls may unsubscribe it later.
pub async fn confirm(ctx: &Ctx, topic: &TopicName, token: &str, strict: bool) -> Result<String, ApiError> {
    let bad_token = || invalid("Token");
    if token.is_empty() || token.len() > 2048 {
        return Err(bad_token());
    }
    let index = token_key(token);
    let Some(found) = ctx.env.store.get(&index).await.map_err(store_fault)? else { return Err(bad_token()) };
    let entry: TokenRecord = decode(&index, &found.value)?;
    if entry.expires < ctx.now() || !entry.subscription_key.starts_with(&topic.subscriptions_prefix()) {
        return Err(bad_token());
    }
    let Some(item) = ctx.env.store.get(&entry.subscription_key).await.map_err(store_fault)? else {
        return Err(bad_token());
    };
    let mut sub: SubscriptionRecord = decode(&item.key, &item.value)?;
    sub.confirmed = true;
    sub.authenticate_on_unsubscribe = strict;
    sub.token_sha256.clear();
    let ops = vec![
        Op::put(item.key.clone(), encode(&sub)).if_revision(item.revision),
        Op::delete(index).if_revision(found.revision),
    ];
    ctx.env.store.write(ops).await.map_err(store_fault)?;
    Ok(sub.arn)
}

/// Ends a subscription. `signed`: the caller proved who it is (else it came by the
/// UnsubscribeURL, which a subscription confirmed with AuthenticateOnUnsubscribe refuses).
pub async fn unsubscribe(ctx: &Ctx, arn: &str, signed: bool) -> Result<(), ApiError> {
    let (topic, key) = subscription(arn)?;
    let Some(item) = ctx.env.store.get(&key).await.map_err(store_fault)? else {
        return Err(not_found("Subscription does not exist"));
    };
    let sub: SubscriptionRecord = decode(&key, &item.value)?;
    if !signed && sub.authenticate_on_unsubscribe {
        return Err(ApiError::new(
            "AuthorizationError",
            "This subscription was confirmed with AuthenticateOnUnsubscribe; unsubscribe with a signed call.",
        )
        .with_status(403));
    }
    let mut ops = vec![Op::delete(key).if_revision(item.revision)];
    if !sub.token_sha256.is_empty() {
        ops.push(Op::delete(format!("snstoken/{}", sub.token_sha256)));
    }
    ctx.env.store.write(ops).await.map_err(store_fault)?;
    if sub.confirmed {
        if let Some((topic_record, _)) = load_topic(ctx, &topic).await? {
            let message = Message {
                kind: Kind::UnsubscribeConfirmation,
                id: uuid::Uuid::new_v4().to_string(),
                subject: None,
                text: format!(
                    "You have chosen to deactivate subscription {arn}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
                ),
                at: ctx.now(),
                token: Some(hex::encode(crate::base::crypto::random_key())),
                attributes: None,
            };
            deliver::send(&ctx.env, &topic_record, &sub, message).await?;
        }
    }
    Ok(())
}

async fn list_subscriptions(ctx: &Ctx, prefix: &str, params: &Params) -> Result<Option<String>, ApiError> {
    let (items, next) = page(ctx, prefix, params.opt("NextToken")).await?;
    let mut subs = Vec::new();
    for item in items {
        subs.push(decode::<SubscriptionRecord>(&item.key, &item.value)?);
    }
    let mut x = Xml::new();
    x.list("Subscriptions", &subs, |x, s| {
        let arn = if s.confirmed { s.arn.as_str() } else { "PendingConfirmation" };
        x.leaf("SubscriptionArn", arn)
            .leaf("Owner", &s.owner)
            .leaf("Protocol", &s.protocol)
            .leaf("Endpoint", &s.endpoint)
            .leaf("TopicArn", &s.topic_arn);
    });
    x.leaf_opt("NextToken", next.as_deref());
    Ok(Some(x.finish()))
}

async fn load_subscription(ctx: &Ctx, arn: &str) -> Result<(SubscriptionRecord, String, i64), ApiError> {
    let (_, key) = subscription(arn)?;
    let item =
        ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(|| not_found("Subscription does not exist"))?;
    Ok((decode(&key, &item.value)?, key, item.revision))
}

async fn get_subscription_attributes(ctx: &Ctx, params: &Params) -> Result<Option<String>, ApiError> {
    let (sub, _, _) = load_subscription(ctx, params.req("SubscriptionArn")?).await?;
    let attributes = BTreeMap::from([
        ("SubscriptionArn".to_owned(), sub.arn.clone()),
        ("TopicArn".into(), sub.topic_arn.clone()),
        ("Owner".into(), sub.owner.clone()),
        ("Protocol".into(), sub.protocol.clone()),
        ("Endpoint".into(), sub.endpoint.clone()),
        ("PendingConfirmation".into(), (!sub.confirmed).to_string()),
        ("ConfirmationWasAuthenticated".into(), sub.authenticate_on_unsubscribe.to_string()),
        ("RawMessageDelivery".into(), sub.raw_message_delivery.to_string()),
    ]);
    Ok(Some(attribute_map(&attributes)))
}

async fn set_subscription_attributes(ctx: &Ctx, params: &Params) -> Result<Option<String>, ApiError> {
    let (mut sub, key, revision) = load_subscription(ctx, params.req("SubscriptionArn")?).await?;
    let value = params.opt("AttributeValue").unwrap_or("");
    match params.req("AttributeName")? {
        "RawMessageDelivery" => match value.to_ascii_lowercase().as_str() {
            "true" => sub.raw_message_delivery = true,
            "false" => sub.raw_message_delivery = false,
            _ => return Err(invalid("AttributeValue")),
        },
        _ => return Err(invalid("AttributeName")),
    }
    write_revised(ctx, &key, &sub, revision).await?;
    Ok(None)
}

/// `MessageAttributes.entry.N.Name` / `.Value.DataType` / `.Value.StringValue` as SNS puts
/// them in the JSON envelope (`{"name": {"Type": …, "Value": …}}`).
fn message_attributes(params: &Params) -> Result<Option<Value>, ApiError> {
    let mut out = serde_json::Map::new();
    for m in params.entry_fields("MessageAttributes") {
        let name = m.get("Name").cloned().unwrap_or_default();
        let kind = m.get("Value.DataType").cloned().unwrap_or_default();
        let value = m.get("Value.StringValue").or(m.get("Value.BinaryValue")).cloned();
        let known = ["String", "Number", "Binary", "String.Array"]
            .iter()
            .any(|t| kind == *t || kind.starts_with(&format!("{t}.")));
        if name.is_empty() || name.len() > 256 || !known || value.is_none() {
            return Err(invalid(format!(
                "MessageAttributes Reason: attribute {name:?} needs a name, a DataType and a value"
            )));
        }
        out.insert(name, json!({"Type": kind, "Value": value}));
    }
    if out.len() > 10 {
        return Err(invalid("MessageAttributes Reason: at most 10 attributes"));
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

async fn publish_request(ctx: &Ctx, params: &Params) -> Result<String, ApiError> {
    if params.opt("PhoneNumber").is_some() {
        return Err(invalid("PhoneNumber Reason: SMS is not supported"));
    }
    let topic = topic_of(params.opt("TopicArn").or(params.opt("TargetArn")).unwrap_or_default())?;
    let message = params.opt("Message").ok_or_else(|| invalid("Empty message"))?;
    let subject = params.opt("Subject");
    let attributes = message_attributes(params)?;
    let text = match params.opt("MessageStructure") {
        None => message.to_owned(),
        Some("json") => {
            let parsed: Value = serde_json::from_str(message)
                .map_err(|_| invalid("Message Structure - JSON message body failed to parse"))?;
            let pick = |k: &str| parsed.get(k).and_then(Value::as_str).map(str::to_owned);
            // SNS requires the default text even when every subscription has its own.
            let default =
                pick("default").ok_or_else(|| invalid("Message Structure - No default entry in JSON message body"))?;
            // One text for both http and https, as subscriptions here are only those.
            pick("http").or_else(|| pick("https")).unwrap_or(default)
        }
        Some(_) => return Err(invalid("MessageStructure")),
    };
    deliver_to_topic(ctx, &topic, subject, &text, attributes).await
}

/// Checks a message as Publish does and sends it to every confirmed subscription of the
/// topic; the id of the message.
async fn deliver_to_topic(
    ctx: &Ctx,
    topic: &TopicName,
    subject: Option<&str>,
    text: &str,
    attributes: Option<Value>,
) -> Result<String, ApiError> {
    if text.is_empty() {
        return Err(invalid("Empty message"));
    }
    if text.len() > MAX_MESSAGE {
        return Err(invalid("Message too long"));
    }
    if let Some(s) = subject {
        let printable = s.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
        if s.is_empty() || s.len() > 100 || !printable {
            return Err(invalid("Subject"));
        }
    }
    let (record, _) = require_topic(ctx, topic).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = ctx.now();
    let mut subs = Vec::new();
    for_each_subscription(ctx, &topic.subscriptions_prefix(), |_, sub| {
        if sub.confirmed {
            subs.push(sub);
        }
    })
    .await?;
    for sub in subs {
        let message = Message {
            kind: Kind::Notification,
            id: id.clone(),
            subject: subject.map(str::to_owned),
            text: text.to_owned(),
            at: now,
            token: None,
            attributes: attributes.clone(),
        };
        deliver::send(&ctx.env, &record, &sub, message).await?;
    }
    Ok(id)
}

/// Publishes `text` to `topic_arn` as the caller: `sns:Publish` on the topic is checked
/// first (work done for someone — a command's notifications — publishes as them).
pub async fn publish(ctx: &Ctx, topic_arn: &str, subject: Option<&str>, text: &str) -> Result<String, ApiError> {
    let topic = topic_of(topic_arn)?;
    authorize(ctx, "sns:Publish", &topic.arn()).await?;
    deliver_to_topic(ctx, &topic, subject, text, None).await
}

//! StartSession, ResumeSession, TerminateSession, DescribeSessions, GetConnectionStatus.

use serde_json::{json, Value};
use steward_api::ssm::sessions::*;
use steward_api::ApiError;
use steward_core::documents::content::{self, Format};
use steward_core::documents::{interpolate, params, schema};
use steward_store::{prefix_end, Op, Start};

use super::*;
use crate::base::paging::page;
use crate::base::Ctx;
use crate::base::{decode, encode, fault, store_fault};

/// The session document used when none is named.
pub const DEFAULT_DOCUMENT: &str = "SSM-SessionManagerRunShell";

fn not_connected(target: &str) -> ApiError {
    ApiError::new("TargetNotConnected", format!("{target} is not connected."))
}

/// The data channel's URL for a session: on the host the caller reached when the node is
/// connected here, else on the server that holds the node's control channel (`elsewhere`,
/// its advertised URL), where the session is relayed.
fn stream_url(ctx: &Ctx, id: &str, elsewhere: Option<&str>) -> String {
    let path = format!("/v1/data-channel/{id}?role=publish_subscribe");
    if let Some(base) = elsewhere {
        let base = base.trim_end_matches('/');
        let ws = base.strip_prefix("https://").map(|h| format!("wss://{h}"));
        let ws = ws.or_else(|| base.strip_prefix("http://").map(|h| format!("ws://{h}")));
        return format!("{}{path}", ws.unwrap_or_else(|| base.to_owned()));
    }
    let scheme = if ctx.env.secure_transport { "wss" } else { "ws" };
    let host = ctx.principal.request_host.clone().unwrap_or_else(|| "127.0.0.1".into());
    format!("{scheme}://{host}{path}")
}

/// Where `target`'s control channel is: `Ok(None)` here, `Ok(Some(url))` on another server
/// of this deployment (sharing the store) whose heartbeat record is fresh; TargetNotConnected
/// otherwise.
async fn where_connected(ctx: &Ctx, target: &str) -> Result<Option<String>, ApiError> {
    let Some((node, _)) = crate::fleet::load_node(ctx, target).await? else {
        return Err(not_connected(target));
    };
    if ctx.env.agents.is_connected(target) {
        return Ok(None);
    }
    // Three missed heartbeats and the node counts as gone, as for its ping status.
    let fresh = ctx.env.now() - node.last_ping < 3 * 1000 * ctx.env.agents.heartbeat_seconds as i64;
    let other = !node.connected_via.is_empty() && node.connected_via != ctx.env.agents.advertise_url;
    if node.connected && fresh && other {
        Ok(Some(node.connected_via))
    } else {
        Err(not_connected(target))
    }
}

/// What the node runs for a session document with `given` parameters: the session type
/// and the document's inputs and properties with parameters substituted.
async fn session_plan(
    ctx: &Ctx,
    name: &str,
    given: std::collections::BTreeMap<String, Vec<String>>,
) -> Result<(String, Value), ApiError> {
    let found = crate::documents::find(ctx, name).await?;
    if found.head.doc_type != "Session" {
        return Err(ApiError::new("InvalidDocument", format!("{name} is not a Session document.")));
    }
    let number = crate::documents::select(&found.head, None, None)?;
    let version = crate::documents::load_version(ctx, &found.head, number).await?;
    let format = Format::parse(&version.format).unwrap_or(Format::Json);
    let tree = content::parse(&version.content, format).map_err(fault)?;
    let analysis = schema::analyze("Session", &tree).map_err(fault)?;
    let values = params::resolve(&analysis.parameters, &given)
        .map_err(|e| ApiError::new("InvalidParameters", fault(e).message().to_owned()))?;
    let properties = json!({
        "inputs": interpolate::apply(&tree["inputs"], &values),
        "properties": interpolate::apply(&tree["properties"], &values),
    });
    Ok((analysis.session_type.unwrap_or_else(|| "Standard_Stream".into()), properties))
}

/// The caller's short name, which SSM puts in front of session ids.
fn owner_name(arn: &str) -> String {
    let tail = arn.rsplit(['/', ':']).next().unwrap_or("session");
    let clean: String =
        tail.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')).collect();
    if clean.is_empty() {
        "session".into()
    } else {
        clean.chars().take(64).collect()
    }
}

/// A POSIX login name, as `useradd` accepts it.
fn valid_user_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 32
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.trim_end_matches('$').chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c))
}

/// Fills in the Session Manager preferences a session document leaves out from the
/// account's `SSM-SessionManagerRunShell`, as SSM applies them to every session: run-as,
/// timeouts and recording (the shell profile belongs to shells alone).
async fn with_preferences(ctx: &Ctx, document: &str, properties: &mut Value) {
    if document == DEFAULT_DOCUMENT {
        return;
    }
    let Ok((_, defaults)) = session_plan(ctx, DEFAULT_DOCUMENT, Default::default()).await else { return };
    let Some(defaults) = defaults["inputs"].as_object().cloned() else { return };
    if !properties["inputs"].is_object() {
        properties["inputs"] = json!({});
    }
    let inputs = properties["inputs"].as_object_mut().expect("an object");
    for (key, value) in defaults {
        if key != "shellProfile" {
            inputs.entry(key).or_insert(value);
        }
    }
}

/// The OS user the node runs the session as, or empty for the node's default (`ssm-user`).
/// As SSM: with run-as on in the preferences, the user is the caller's `SSMSessionRunAs`
/// tag, else `runAsDefaultUser`. Port sessions run no shell.
async fn run_as_user(ctx: &Ctx, session_type: &str, preferences: &Value) -> Result<String, ApiError> {
    if session_type == "Port" {
        return Ok(String::new());
    }
    if !truthy(&preferences["runAsEnabled"]) {
        return Ok(String::new());
    }
    let subject = crate::base::policy_cache::subject_of(ctx, &ctx.principal).await?;
    let tagged = subject.tags.get("SSMSessionRunAs").cloned();
    let fallback = preferences["runAsDefaultUser"].as_str().map(str::trim).filter(|u| !u.is_empty());
    let Some(user) = tagged.or(fallback.map(str::to_owned)) else {
        return Err(ApiError::new(
            "InvalidDocument",
            "Run As is enabled in the Session Manager preferences, but the caller has no SSMSessionRunAs tag and \
             runAsDefaultUser is empty.",
        ));
    };
    if !valid_user_name(&user) {
        return Err(ApiError::new("InvalidDocument", format!("'{user}' is not a valid operating system user name.")));
    }
    Ok(user)
}

/// StartSession.
pub async fn start_session(ctx: Ctx, req: StartSessionRequest) -> Result<StartSessionResponse, ApiError> {
    let p = &ctx.principal;
    let elsewhere = where_connected(&ctx, &req.target).await?;
    let document = req.document_name.clone().unwrap_or_else(|| DEFAULT_DOCUMENT.into());
    let (session_type, mut properties) =
        session_plan(&ctx, &document, req.parameters.clone().unwrap_or_default()).await?;
    with_preferences(&ctx, &document, &mut properties).await;
    let run_as = run_as_user(&ctx, &session_type, &properties["inputs"]).await?;
    let suffix: [u8; 9] = rand::random();
    let id = format!("{}-{}", owner_name(&p.arn), &hex::encode(suffix)[..17]);
    let token = new_token();
    let record = SessionRecord {
        id: id.clone(),
        account: p.account.clone(),
        region: p.region.clone(),
        target: req.target.clone(),
        owner: p.arn.clone(),
        document,
        reason: req.reason.clone(),
        status: "Connecting".into(),
        start: ctx.env.now(),
        end: None,
        client_token: token_hash(&token),
        start_message: steward_protocol::SessionStart {
            session_id: id.clone(),
            token: String::new(),
            session_type,
            properties,
            run_as,
        },
        output_url: None,
        details: String::new(),
    };
    let locator = json!({"account": p.account, "region": p.region});
    ctx.env
        .store
        .write(vec![
            Op::put(session_key(&p.account, &p.region, &id), encode(&record)).if_absent(),
            Op::put(session_index(&id), serde_json::to_vec(&locator).expect("json")),
        ])
        .await
        .map_err(store_fault)?;
    let url = stream_url(&ctx, &id, elsewhere.as_deref());
    Ok(StartSessionResponse { session_id: id, token_value: token, stream_url: url })
}

/// A session of the caller's account and region, with its revision.
pub async fn load_session(ctx: &Ctx, id: &str) -> Result<(SessionRecord, i64), ApiError> {
    let p = &ctx.principal;
    let key = session_key(&p.account, &p.region, id);
    let item = ctx
        .env
        .store
        .get(&key)
        .await
        .map_err(store_fault)?
        .ok_or_else(|| ApiError::new("DoesNotExistException", format!("Session {id} does not exist.")))?;
    Ok((decode(&key, &item.value)?, item.revision))
}

/// The most of a transcript handed out at once (a longer one is cut short, not refused).
const MAX_TRANSCRIPT: usize = 32 << 20;

/// A session's recorded transcript (asciicast v2), for replay: the caller needs
/// `ssm:GetSessionTranscript` on the session — Steward's own action, since SSM leaves
/// transcripts in S3 — as the output may hold what describing sessions does not show.
pub async fn session_transcript(ctx: &Ctx, id: &str) -> Result<Vec<u8>, ApiError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@');
    if id.is_empty() || id.len() > 96 || !id.bytes().all(allowed) || id.contains("..") {
        return Err(ApiError::validation(format!("{id:?} is not a session id.")));
    }
    let (record, _) = load_session(ctx, id).await?;
    let arn = format!("arn:aws:ssm:{}:{}:session/{id}", record.region, record.account);
    ctx.authorize("ssm:GetSessionTranscript", &[arn], |r| r).await?;
    let key = format!("{}/{id}.cast", record.account);
    let mut cast = ctx
        .env
        .blobs
        .get(super::relay::TRANSCRIPT_BUCKET, &key)
        .await
        .map_err(store_fault)?
        .ok_or_else(|| ApiError::new("DoesNotExistException", format!("Session {id} has no transcript.")))?;
    if cast.len() > MAX_TRANSCRIPT {
        // Cut at a line, so what is handed out is still whole events.
        let end = cast[..MAX_TRANSCRIPT].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        cast.truncate(end);
    }
    Ok(cast)
}

/// ResumeSession: a new token for a session whose client went away.
pub async fn resume_session(ctx: Ctx, req: SessionIdRequest) -> Result<StartSessionResponse, ApiError> {
    // The relay marks the session Disconnected as the old socket goes: retry that race.
    for _ in 0..5 {
        let (mut record, revision) = load_session(&ctx, &req.session_id).await?;
        if matches!(record.status.as_str(), "Terminated" | "Terminating" | "Failed") {
            // As SSM: an ended session resumes to nothing (the plugin prints "timed out").
            let id = record.id;
            return Ok(StartSessionResponse { session_id: id, token_value: String::new(), stream_url: String::new() });
        }
        // The node may have moved to another server meanwhile: its session is relayed there.
        let elsewhere = where_connected(&ctx, &record.target).await.ok().flatten();
        let token = new_token();
        record.client_token = token_hash(&token);
        let key = session_key(&record.account, &record.region, &record.id);
        match ctx.env.store.write(vec![Op::put(key, encode(&record)).if_revision(revision)]).await {
            Ok(()) => {
                let url = stream_url(&ctx, &record.id, elsewhere.as_deref());
                return Ok(StartSessionResponse { session_id: record.id, token_value: token, stream_url: url });
            }
            Err(steward_store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_fault(e)),
        }
    }
    Err(ApiError::new("TooManyUpdates", "The session changed meanwhile; try again."))
}

/// TerminateSession: ends the shell and both data channels.
pub async fn terminate_session(
    ctx: Ctx,
    req: SessionIdRequest,
    sessions: &Sessions,
) -> Result<SessionIdResponse, ApiError> {
    let (record, _) = load_session(&ctx, &req.session_id).await?;
    if record.status != "Terminated" {
        super::relay::end(sessions, &record.id, "Terminated", "Terminated by TerminateSession.").await;
    }
    Ok(SessionIdResponse { session_id: record.id })
}

fn wire(record: &SessionRecord) -> Session {
    Session {
        session_id: record.id.clone(),
        target: record.target.clone(),
        status: record.status.clone(),
        start_date: record.start as f64 / 1000.0,
        end_date: record.end.map(|e| e as f64 / 1000.0),
        document_name: record.document.clone(),
        owner: record.owner.clone(),
        reason: record.reason.clone(),
        details: (!record.details.is_empty()).then(|| record.details.clone()),
        output_url: record.output_url.clone().map(|u| SessionOutputUrl { s3_output_url: u }),
    }
}

/// DescribeSessions: Active (not yet ended) or History, newest first.
pub async fn describe_sessions(ctx: Ctx, req: DescribeSessionsRequest) -> Result<DescribeSessionsResponse, ApiError> {
    let p = &ctx.principal;
    let prefix = format!("session/{}/{}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000_000).await.map_err(store_fault)?;
    let history = req.state == "History";
    let filters = req.filters.clone().unwrap_or_default();
    let mut bounds = Vec::new();
    for f in filters.iter().filter(|f| f.key.starts_with("Invoked")) {
        let t = steward_api::time::parse_iso8601(&f.value)
            .ok_or_else(|| ApiError::validation(format!("{} '{}' is not an ISO-8601 time.", f.key, f.value)))?;
        bounds.push((f.key.clone(), t * 1000));
    }
    let mut sessions: Vec<SessionRecord> = Vec::new();
    for item in items {
        let s: SessionRecord = decode(&item.key, &item.value)?;
        let ended = matches!(s.status.as_str(), "Terminated" | "Failed");
        if ended != history {
            continue;
        }
        let keep = filters.iter().all(|f| match f.key.as_str() {
            "Target" => s.target == f.value,
            "Owner" => s.owner == f.value,
            "Status" => s.status == f.value,
            "SessionId" => s.id == f.value,
            _ => true,
        }) && bounds.iter().all(|(k, t)| if k == "InvokedAfter" { s.start >= *t } else { s.start <= *t });
        if keep {
            sessions.push(s);
        }
    }
    sessions.sort_by_key(|s| std::cmp::Reverse(s.start));
    let (page, next_token) = page(sessions, req.max_results, &req.next_token)?;
    Ok(DescribeSessionsResponse { sessions: page.iter().map(wire).collect(), next_token })
}

/// GetConnectionStatus.
pub async fn get_connection_status(
    ctx: Ctx,
    req: ConnectionStatusRequest,
) -> Result<ConnectionStatusResponse, ApiError> {
    let known = crate::fleet::load_node(&ctx, &req.target).await?.is_some();
    let status = if known && ctx.env.agents.is_connected(&req.target) { "connected" } else { "notconnected" };
    Ok(ConnectionStatusResponse { target: req.target, status: status.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_checked_as_useradd_would() {
        for good in ["ssm-user", "alice", "_svc", "a.b", "build01", "machine$"] {
            assert!(valid_user_name(good), "{good}");
        }
        for bad in ["", "Alice", "1abc", "-x", "a b", "root;id", "../etc", &"a".repeat(33)] {
            assert!(!valid_user_name(bad), "{bad}");
        }
    }
}

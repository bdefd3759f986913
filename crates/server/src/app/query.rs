//! The AWS query protocol on `POST /` (form-encoded `Action=…&Version=…`, XML answers) for
//! IAM (signing name `iam`), STS (`sts`) and SNS (`sns`), so `aws iam …`, `aws sts …`,
//! `aws sns …` and SDKs work; and `GET /?Action=…`, the two SNS actions its messages' URLs
//! name, which need no signature.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use steward_api::sigv4;
use steward_api::ApiError;

use steward_api::query::{escape, Params, Xml};

use crate::base::Ctx;
use crate::base::Env;

const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const SNS_NS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// A query-protocol API (by signing name).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Iam,
    Sts,
    Sns,
}

impl Api {
    fn namespace(self) -> &'static str {
        match self {
            Api::Iam => IAM_NS,
            Api::Sts => STS_NS,
            Api::Sns => SNS_NS,
        }
    }

    /// Its signing name.
    pub fn signing_name(self) -> &'static str {
        match self {
            Api::Iam => "iam",
            Api::Sts => "sts",
            Api::Sns => "sns",
        }
    }

    /// The API a signing name names.
    pub fn named(signing_name: &str) -> Option<Api> {
        [Api::Iam, Api::Sts, Api::Sns].into_iter().find(|a| a.signing_name() == signing_name)
    }

    /// The resources an audit event of `params` names.
    pub async fn resources(self, ctx: &Ctx, params: &Params) -> Vec<String> {
        match self {
            Api::Iam => crate::iam::resource_of(ctx, params).await.into_iter().collect(),
            Api::Sns => crate::sns::resource_of(ctx, params).into_iter().collect(),
            Api::Sts => vec![],
        }
    }
}

fn error_xml(api: Api, error: &ApiError, request_id: &str) -> Response {
    let ns = api.namespace();
    let kind = if error.status() >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        escape(error.code()),
        escape(error.message())
    );
    xml_response(StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST), request_id, body)
}

fn xml_response(status: StatusCode, request_id: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

/// Authentication failures as the query APIs name them.
fn query_auth_error(e: ApiError) -> ApiError {
    match e.code() {
        "UnrecognizedClientException" => {
            ApiError::new("InvalidClientTokenId", "The security token included in the request is invalid.")
                .with_status(403)
        }
        "InvalidSignatureException" => ApiError::new("SignatureDoesNotMatch", e.message()).with_status(403),
        "ExpiredTokenException" => ApiError::new("ExpiredToken", e.message()).with_status(403),
        _ => e.with_status(403),
    }
}

/// Serves one query-protocol request.
pub async fn serve(
    env: &Arc<Env>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    source_ip: Option<IpAddr>,
    request_id: &str,
) -> Response {
    let header_pairs = super::request::header_pairs(headers);
    let request = super::request::signed_request(method, uri, &header_pairs, body);
    let scope = sigv4::parse_authorization(&request).map(|a| a.service);
    let api = match scope.as_deref() {
        Ok("sts") => Api::Sts,
        Ok("sns") => Api::Sns,
        _ => Api::Iam,
    };
    let mut params: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    params.extend(form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned());
    let params = Params::from(params);
    let Some(action) = params.opt("Action").map(str::to_owned) else {
        let e = ApiError::new("MissingAction", "The request must name an Action.");
        return error_xml(api, &e, request_id);
    };
    let signing_name = api.signing_name();
    // Signatures are dated by the client's clock, which is the machine's, even when tests
    // move the server's clock forward.
    let now_secs = crate::base::credentials::wall_clock_secs();
    let mut draft = crate::base::audit::Draft {
        source: format!("{signing_name}.amazonaws.com"),
        name: action.clone(),
        region: "us-east-1".into(),
        source_ip: source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        parameters: serde_json::Value::Object(
            params.without_action().map(|(k, v)| (k.clone(), serde_json::Value::String(audited(k, v)))).collect(),
        ),
        ..Default::default()
    };
    if let Ok(auth) = sigv4::parse_authorization(&request) {
        draft.access_key_id = auth.access_key_id;
        if api == Api::Sns {
            draft.region = auth.region;
        }
    }
    let outcome = match env.credentials.authenticate(&request, signing_name, now_secs).await {
        Ok(mut principal) => {
            principal.source_ip = source_ip;
            draft.principal = Some(principal.clone());
            let ctx = Ctx { env: env.clone(), principal };
            draft.resources = api.resources(&ctx, &params).await;
            run_action(&ctx, api, &action, &params).await
        }
        Err(e) => Err(query_auth_error(e)),
    };
    let error = outcome.as_ref().err().map(|e| (e.code(), e.message()));
    let authenticated = draft.principal.is_some();
    let event = draft.finish(request_id, error, env.now(), &env.fallback_account);
    if authenticated {
        env.audit.record(event).await;
    } else {
        env.audit.record_unauthenticated(event).await;
    }
    match outcome {
        Ok(result) => {
            tracing::debug!(request_id, action, "Request served.");
            answer(api, &action, result, request_id)
        }
        Err(e) if authenticated => {
            tracing::info!(request_id, action, code = e.code(), "Request refused.");
            error_xml(api, &e, request_id)
        }
        Err(e) => {
            // Anyone can send these, as fast as they like: the audit trail counts them.
            tracing::debug!(request_id, action, code = e.code(), "Request refused.");
            error_xml(api, &e, request_id)
        }
    }
}

/// Runs `action` of `api` for a known caller (shared with calls made from inside,
/// `app::inside`); the inside of its `…Result` element. A change to IAM moves the policy
/// generation, so every server drops what it cached.
pub async fn run_action(ctx: &Ctx, api: Api, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    match api {
        Api::Iam => {
            let outcome = crate::iam::call(ctx, action, params).await?;
            if !crate::base::audit::read_only(action) {
                crate::base::policy_cache::bump_generation(ctx).await?;
            }
            Ok(outcome)
        }
        Api::Sts => crate::iam::sts_call(ctx, action, params).await,
        Api::Sns => crate::sns::call(ctx, action, params).await,
    }
}

/// A parameter as the audit log records it: passwords never, nor an SNS confirmation token
/// (the token is the capability).
fn audited(name: &str, value: &str) -> String {
    if name.ends_with("Password") || name == "Token" {
        "HIDDEN_DUE_TO_SECURITY_REASONS".into()
    } else {
        value.to_owned()
    }
}

/// A successful call's XML. `action` is one the handlers know, so a plain identifier.
fn answer(api: Api, action: &str, result: Option<String>, request_id: &str) -> Response {
    let ns = api.namespace();
    let mut text = format!("<{action}Response xmlns=\"{ns}\">");
    if let Some(inner) = result {
        text.push_str(&format!("<{action}Result>{inner}</{action}Result>"));
    }
    let mut meta = Xml::new();
    meta.open("ResponseMetadata").leaf("RequestId", request_id).close("ResponseMetadata");
    text.push_str(&meta.finish());
    text.push_str(&format!("</{action}Response>"));
    xml_response(StatusCode::OK, request_id, text)
}

/// `GET /?Action=…`: SNS's SubscribeURL and UnsubscribeURL, which the message's receiver
/// opens without signing (the token or the subscription ARN is the capability). A change
/// made this way is audited in full; refusals are sampled like any unsigned call.
pub async fn serve_unsigned(
    env: &Arc<Env>,
    uri: &Uri,
    headers: &HeaderMap,
    source_ip: Option<IpAddr>,
    request_id: &str,
) -> Response {
    let params: BTreeMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let params = Params::from(params);
    let action = params.opt("Action").unwrap_or_default().to_owned();
    let outcome = crate::sns::by_url(env, &action, &params).await;
    let mut parameters = serde_json::Map::new();
    for (k, v) in params.without_action() {
        parameters.insert(k.clone(), serde_json::Value::String(audited(k, v)));
    }
    let draft = crate::base::audit::Draft {
        source: "sns.amazonaws.com".into(),
        name: action.clone(),
        region: params
            .opt("TopicArn")
            .or(params.opt("SubscriptionArn"))
            .and_then(|a| a.split(':').nth(3))
            .unwrap_or("us-east-1")
            .to_owned(),
        source_ip: source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        parameters: serde_json::Value::Object(parameters),
        ..Default::default()
    };
    let error = outcome.as_ref().err().map(|e| (e.code(), e.message()));
    let event = draft.finish(request_id, error, env.now(), &env.fallback_account);
    match outcome {
        Ok(result) => {
            env.audit.record(event).await;
            answer(Api::Sns, &action, result, request_id)
        }
        Err(e) => {
            env.audit.record_unauthenticated(event).await;
            error_xml(Api::Sns, &e, request_id)
        }
    }
}

//! The AWS query protocol on `POST /` (form-encoded `Action=…&Version=…`, XML answers) for
//! IAM (signing name `iam`) and STS (`sts`), so `aws iam …`, `aws sts …` and SDKs work.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use steward_api::sigv4;
use steward_api::ApiError;

use super::xml::{escape, Xml};
use super::{identities, sts};
use crate::dispatch::Ctx;
use crate::state::AppState;

const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The request's parameters.
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// A parameter, if given.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A required parameter; its absence is IAM's ValidationError.
    pub fn req(&self, name: &str) -> Result<&str, ApiError> {
        self.opt(name).ok_or_else(|| {
            let member = lower_first(name);
            validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    /// `Prefix.member.N.Field` entries as (N-ordered) maps of Field → value.
    pub fn members(&self, prefix: &str) -> Vec<BTreeMap<String, String>> {
        let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        let head = format!("{prefix}.member.");
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(&head) else { continue };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            if let Ok(i) = index.parse() {
                by_index.entry(i).or_default().insert(field.to_owned(), v.clone());
            }
        }
        by_index.into_values().collect()
    }

    /// `Prefix.member.N` plain values, in N order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.members(prefix).into_iter().filter_map(|m| m.get("").cloned()).collect()
    }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// IAM's `ValidationError` (400).
pub fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationError", message)
}

/// A query-protocol API (by signing name).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Iam,
    Sts,
}

fn error_xml(api: Api, error: &ApiError, request_id: &str) -> Response {
    let ns = if api == Api::Sts { STS_NS } else { IAM_NS };
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
    state: &Arc<AppState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    source_ip: Option<IpAddr>,
    request_id: &str,
) -> Response {
    let header_pairs = crate::http::header_pairs(headers);
    let request = crate::http::signed_request(method, uri, &header_pairs, body);
    let scope = sigv4::parse_authorization(&request).map(|a| a.service);
    let api = match scope.as_deref() {
        Ok("sts") => Api::Sts,
        _ => Api::Iam,
    };
    let mut params: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    params.extend(form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned());
    let params = Params(params);
    let Some(action) = params.opt("Action").map(str::to_owned) else {
        let e = ApiError::new("MissingAction", "The request must name an Action.");
        return error_xml(api, &e, request_id);
    };
    let signing_name = if api == Api::Sts { "sts" } else { "iam" };
    // Signatures are dated by the client's clock, which is the machine's, even when tests
    // move the server's clock forward.
    let now_secs = crate::auth::wall_clock_secs();
    let mut draft = crate::audit::Draft {
        source: format!("{signing_name}.amazonaws.com"),
        name: action.clone(),
        region: "us-east-1".into(),
        source_ip: source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        parameters: serde_json::Value::Object(
            params
                .0
                .iter()
                .filter(|(k, _)| *k != "Action" && *k != "Version")
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        ),
        ..Default::default()
    };
    if let Ok(auth) = sigv4::parse_authorization(&request) {
        draft.access_key_id = auth.access_key_id;
    }
    let outcome = match state.credentials.authenticate(&request, signing_name, now_secs).await {
        Ok(mut principal) => {
            principal.source_ip = source_ip;
            draft.principal = Some(principal.clone());
            let ctx = Ctx { state: state.clone(), principal };
            if api == Api::Iam {
                draft.resources = vec![identities::resource_of(&ctx, &params)];
            }
            match api {
                Api::Iam => {
                    let mut outcome = identities::call(&ctx, &action, &params).await;
                    if outcome.is_ok() && !crate::audit::read_only(&action) {
                        if let Err(e) = super::bump_generation(&ctx).await {
                            outcome = Err(e);
                        }
                    }
                    outcome
                }
                Api::Sts => sts::call(&ctx, &action, &params).await,
            }
        }
        Err(e) => Err(query_auth_error(e)),
    };
    let error = outcome.as_ref().err().map(|e| (e.code(), e.message()));
    let event = draft.finish(request_id, error, state.now(), &state.fallback_account);
    state.audit.record(event).await;
    match outcome {
        Ok(result) => {
            tracing::debug!(request_id, action, "Request served.");
            // `action` is one the handlers know, so it is a plain identifier.
            let ns = if api == Api::Sts { STS_NS } else { IAM_NS };
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
        Err(e) => {
            tracing::info!(request_id, action, code = e.code(), "Request refused.");
            error_xml(api, &e, request_id)
        }
    }
}

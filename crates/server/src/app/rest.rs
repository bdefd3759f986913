//! The REST-JSON door: Resource Groups, whose operations are named by method and path
//! (`POST /groups`, `PUT /resources/{Arn}/tags`, …) instead of `X-Amz-Target`. Requests go
//! through the same signed-call pipeline as the JSON 1.1 APIs ([`super::call::Call`]); only
//! the routing, where inputs come from, and the error rendering differ.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use steward_api::model::Service;
use steward_api::sigv4::percent_decode;
use steward_api::ApiError;

use super::call::{json_input, Call};
use super::App;
use crate::base::peer::Peer;

/// Operations whose whole input is the JSON body, by path (all `POST`).
const BODY_ROUTES: &[(&str, &str)] = &[
    ("/groups", "CreateGroup"),
    ("/get-group", "GetGroup"),
    ("/get-group-query", "GetGroupQuery"),
    ("/update-group", "UpdateGroup"),
    ("/update-group-query", "UpdateGroupQuery"),
    ("/delete-group", "DeleteGroup"),
    ("/groups-list", "ListGroups"),
    ("/list-group-resources", "ListGroupResources"),
    ("/resources/search", "SearchResources"),
];

/// The Resource Groups routes.
pub fn routes(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for (path, _) in BODY_ROUTES {
        router = router.route(path, post(serve));
    }
    router.route("/resources/{*arn}", get(serve).put(serve).patch(serve)).with_state(app)
}

/// The operation a method and path name, and the group ARN a tags path carries.
fn route(method: &Method, path: &str) -> Result<(&'static str, Option<String>), ApiError> {
    if let Some(&(_, op)) = BODY_ROUTES.iter().find(|(p, _)| *p == path) {
        if method == Method::POST {
            return Ok((op, None));
        }
    } else if let Some(arn) = path.strip_prefix("/resources/").and_then(|rest| rest.strip_suffix("/tags")) {
        let op = match *method {
            Method::GET => Some("GetTags"),
            Method::PUT => Some("Tag"),
            Method::PATCH => Some("Untag"),
            _ => None,
        };
        if let Some(op) = op {
            return Ok((op, Some(percent_decode(arn))));
        }
    } else {
        return Err(ApiError::new("NotFoundException", format!("No operation is served at {path}.")).with_status(404));
    }
    Err(ApiError::new("MethodNotAllowedException", format!("{method} is not allowed on {path}.")).with_status(405))
}

/// The operation's input: the JSON body, with what the path and query string carry.
fn input(op: &str, arn: Option<String>, uri: &Uri, body: &[u8]) -> Result<Value, ApiError> {
    let mut input = if op == "GetTags" { Value::Object(Default::default()) } else { json_input(body)? };
    let Value::Object(members) = &mut input else {
        return Err(ApiError::serialization("The request body must be a JSON object."));
    };
    if let Some(arn) = arn {
        members.insert("Arn".into(), Value::String(arn));
    }
    if op == "ListGroups" {
        for (name, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            match &*name {
                "maxResults" => {
                    let n: i64 = value.parse().map_err(|_| ApiError::serialization("maxResults must be a number."))?;
                    members.insert("MaxResults".into(), n.into());
                }
                "nextToken" => {
                    members.insert("NextToken".into(), Value::String(value.into_owned()));
                }
                _ => {}
            }
        }
    }
    Ok(input)
}

async fn serve(
    State(app): State<Arc<App>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let routed = route(&method, uri.path());
    let arn = routed.as_ref().ok().and_then(|(_, arn)| arn.clone());
    let op = routed.as_ref().map(|(op, _)| *op).unwrap_or("-");
    let call = Call { method: &method, uri: &uri, headers: &headers, body: &body, peer };
    let target = routed.map(|(op, _)| (Service::ResourceGroups, op.to_owned()));
    let (request_id, outcome) = call.run(&app, target, || input(op, arn, &uri, &body), as_resource_groups_error).await;
    match outcome {
        Ok(body) => response(StatusCode::OK, &request_id, body, None),
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let body = serde_json::json!({"__type": error.code(), "Message": error.message()});
            response(status, &request_id, body.to_string().into_bytes(), Some(error.code()))
        }
    }
}

/// Errors the shared pipeline raises, in Resource Groups' vocabulary and statuses: its
/// model declares BadRequest, Forbidden, NotFound, … and nothing named after SSM's.
fn as_resource_groups_error(error: ApiError) -> ApiError {
    let message = error.message().to_owned();
    match error.code() {
        "ValidationException" | "SerializationException" => ApiError::new("BadRequestException", message),
        "AccessDeniedException" => ApiError::new("ForbiddenException", message).with_status(403),
        "InternalServerError" => ApiError::new("InternalServerErrorException", message).with_status(500),
        "ThrottlingException" => ApiError::new("TooManyRequestsException", message).with_status(429),
        // Failed authentication keeps its code (the SDKs know them) with REST's status.
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException"
        | "IncompleteSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId" => error.with_status(403),
        _ => error,
    }
}

fn response(status: StatusCode, request_id: &str, body: Vec<u8>, error_code: Option<&str>) -> Response {
    super::call::json_response(status, "application/json", request_id, body, error_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_method_and_path() {
        assert_eq!(route(&Method::POST, "/groups").unwrap().0, "CreateGroup");
        assert_eq!(route(&Method::POST, "/resources/search").unwrap().0, "SearchResources");
        let (op, arn) =
            route(&Method::PUT, "/resources/arn%3Aaws%3Aresource-groups%3Aeu-west-1%3A123456789012%3Agroup%2Fweb/tags")
                .unwrap();
        assert_eq!((op, arn.as_deref()), ("Tag", Some("arn:aws:resource-groups:eu-west-1:123456789012:group/web")));
        assert_eq!(route(&Method::GET, "/groups").unwrap_err().status(), 405);
        assert_eq!(route(&Method::DELETE, "/resources/x/tags").unwrap_err().status(), 405);
        assert_eq!(route(&Method::POST, "/nowhere").unwrap_err().status(), 404);
    }

    #[test]
    fn list_groups_reads_its_page_from_the_query_string() {
        let uri: Uri = "/groups-list?maxResults=7&nextToken=abc%3D".parse().unwrap();
        let v = input("ListGroups", None, &uri, b"{}").unwrap();
        assert_eq!(v, serde_json::json!({"MaxResults": 7, "NextToken": "abc="}));
        assert_eq!(input("ListGroups", None, &uri, b"[1]").unwrap_err().code(), "SerializationException");
    }
}

//! The console's built bundle, embedded at build time (`build.rs` lists `console/dist`).
//! Hashed assets are cached for good; `index.html`, which names them, never is; every
//! path that is not a file is the single-page app's route and gets `index.html`. A browser
//! that accepts gzip gets the copy `make console` compressed beside each file (`NAME.gz`):
//! the bundle is 2 MB as it is and a seventh of that compressed.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/console_files.rs"));
}

/// What every console page may load: its own scripts, styles, fonts and images, and its
/// own API; nothing inline, no frames.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                      font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn file(path: &str) -> Option<&'static [u8]> {
    embedded::FILES.iter().find(|(p, _)| *p == path).map(|(_, bytes)| *bytes)
}

/// Whether a bundle was built into this binary.
pub fn built() -> bool {
    file("index.html").is_some()
}

fn with_headers(mut response: Response, path: &str) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// `GET /console` and `GET /console/`.
pub async fn index(headers: HeaderMap) -> Response {
    serve("", accepts_gzip(&headers))
}

/// `GET /console/{*path}`.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, accepts_gzip(&headers))
}

/// Whether the request's Accept-Encoding lists gzip (and does not refuse it with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "").trim_start_matches("q=").parse::<f32>() == Ok(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        },
    )
}

/// A file of the bundle, compressed when there is a compressed copy and the browser takes it.
fn file_response(path: &str, gzip: bool) -> Option<Response> {
    let bytes = file(path)?;
    let compressed = file(&format!("{path}.gz"));
    let mut response = match compressed {
        Some(gz) if gzip => {
            let mut r = gz.into_response();
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        _ => bytes.into_response(),
    };
    if compressed.is_some() {
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    Some(with_headers(response, path))
}

fn serve(path: &str, gzip: bool) -> Response {
    if !built() {
        return (
            StatusCode::NOT_FOUND,
            "This steward was built without its web console. Build it with `make console` (Node.js and npm), \
             then rebuild the server.\n",
        )
            .into_response();
    }
    // The app's page is served at "" and "index.html", and for every route of the app.
    let page = if path.is_empty() { "index.html" } else { path };
    if let Some(response) = file_response(page, gzip) {
        return response;
    }
    // A missing asset is a 404; any other path is a page of the app.
    if path.starts_with("assets/") {
        return (StatusCode::NOT_FOUND, "No such console asset.\n").into_response();
    }
    file_response("index.html", gzip).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

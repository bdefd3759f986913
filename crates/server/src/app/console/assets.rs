//! The console's built bundle, embedded at build time (`build.rs` lists `console/dist`).
//! Hashed assets are cached for good; `index.html`, which names them, never is; every
//! path that is not a file is the single-page app's route and gets `index.html`.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
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
pub async fn index() -> Response {
    serve("")
}

/// `GET /console/{*path}`.
pub async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    if !built() {
        return (
            StatusCode::NOT_FOUND,
            "This steward was built without its web console. Build it with `make console` (Node.js and npm), \
             then rebuild the server.\n",
        )
            .into_response();
    }
    if let Some(bytes) = file(path) {
        return with_headers(bytes.into_response(), path);
    }
    // A missing asset is a 404; any other path is a page of the app.
    if path.starts_with("assets/") {
        return (StatusCode::NOT_FOUND, "No such console asset.\n").into_response();
    }
    with_headers(file("index.html").unwrap_or_default().into_response(), "index.html")
}

//! The test clock: `POST /steward-test/clock {"advance_seconds": N}` moves the server's
//! time forward so tests see schedules fire without waiting. Compiled only with the
//! `test-clock` feature (the test build) and active only with `--test-clock`; production
//! builds have no such route.

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

#[cfg(feature = "test-clock")]
async fn advance(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Result<axum::Json<serde_json::Value>, http::StatusCode> {
    let clock = state.test_clock.as_ref().ok_or(http::StatusCode::NOT_FOUND)?;
    let seconds = body["advance_seconds"].as_i64().filter(|s| *s >= 0).ok_or(http::StatusCode::BAD_REQUEST)?;
    clock.advance(seconds * 1000);
    crate::scheduler::wake(&state);
    crate::commands::dispatch::wake(&state);
    Ok(axum::Json(serde_json::json!({ "now_ms": state.now() })))
}

/// The routes of the test clock (none in production builds).
pub fn routes() -> Router<Arc<AppState>> {
    #[cfg(feature = "test-clock")]
    {
        Router::new().route("/steward-test/clock", axum::routing::post(advance))
    }
    #[cfg(not(feature = "test-clock"))]
    {
        Router::new()
    }
}

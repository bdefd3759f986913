//! The test clock: `POST /steward-test/clock {"advance_seconds": N}` moves the server's
//! time forward so tests see schedules fire without waiting. Compiled only with the
//! `test-clock` feature (the test build) and active only with `--test-clock`; production
//! builds have no such route.

use std::sync::Arc;

use axum::Router;

use crate::base::Env;

#[cfg(feature = "test-clock")]
async fn advance(
    axum::extract::State(env): axum::extract::State<Arc<Env>>,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Result<axum::Json<serde_json::Value>, http::StatusCode> {
    let clock = env.test_clock.as_ref().ok_or(http::StatusCode::NOT_FOUND)?;
    let seconds = body["advance_seconds"].as_i64().filter(|s| *s >= 0).ok_or(http::StatusCode::BAD_REQUEST)?;
    clock.advance(seconds * 1000);
    env.wake.scheduler();
    env.wake.dispatcher();
    Ok(axum::Json(serde_json::json!({ "now_ms": env.now() })))
}

/// The routes of the test clock (none in production builds).
pub fn routes(env: Arc<Env>) -> Router {
    #[cfg(feature = "test-clock")]
    {
        Router::new().route("/steward-test/clock", axum::routing::post(advance)).with_state(env)
    }
    #[cfg(not(feature = "test-clock"))]
    {
        let _ = env;
        Router::new()
    }
}

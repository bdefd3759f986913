//! Command history expires after 30 days: driven by a manual clock through the real
//! SendCommand, ListCommands and the sweeper.

use std::sync::Arc;

use steward_api::ssm::commands::{ListCommandsRequest, SendCommandRequest};
use steward_core::clock::{Clock, ManualClock};
use steward_server::commands::{expiry, query, send};
use steward_server::dispatch::Ctx;
use steward_server::state::{AppState, Principal};

const T0: i64 = 1_900_000_000_000;
const DAY: i64 = 24 * 3600 * 1000;

async fn fixture(dir: &std::path::Path) -> (Ctx, Arc<ManualClock>) {
    let store = steward_store::open(&format!("sqlite://{}", dir.join("db").display())).await.unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let key = [9u8; 32];
    let state = Arc::new(AppState {
        store: store.clone(),
        clock: clock.clone() as Arc<dyn Clock>,
        credentials: steward_server::auth::Credentials::new(store.clone(), key, None),
        kms: steward_server::kms::Keyring::new(store.clone(), key),
        events: steward_server::events::Events::new(Vec::new()),
        fleet: steward_server::fleet::Fleet::new(30),
        blobs: Arc::new(steward_store::blob::LocalBlobs::new(dir.join("blobs"))),
        secure_transport: false,
        audit: steward_server::audit::Audit::start(store.clone()),
        fallback_account: "123456789012".into(),
        scheduler: Default::default(),
        sessions: Default::default(),
        #[cfg(feature = "test-clock")]
        test_clock: None,
        policy_cache: Default::default(),
    });
    let principal = Principal::root("123456789012", "us-east-1");
    (Ctx { state, principal }, clock)
}

async fn send_to_nobody(ctx: &Ctx) -> String {
    // Targets matching no node: the command is final (Success) at once.
    let request: SendCommandRequest = serde_json::from_value(serde_json::json!({
        "DocumentName": "AWS-RunShellScript",
        "Targets": [{"Key": "tag:none", "Values": ["x"]}],
        "Parameters": {"commands": ["true"]},
    }))
    .unwrap();
    send::send_command(ctx.clone(), request).await.unwrap().command.command_id
}

async fn listed(ctx: &Ctx) -> Vec<String> {
    let request: ListCommandsRequest = serde_json::from_value(serde_json::json!({})).unwrap();
    let out = query::list_commands(ctx.clone(), request).await.unwrap();
    out.commands.into_iter().map(|c| c.command_id).collect()
}

#[tokio::test]
async fn finished_commands_expire_after_thirty_days() {
    let dir = std::env::temp_dir().join(format!("steward-history-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ctx, clock) = fixture(&dir).await;
    let old = send_to_nobody(&ctx).await;
    clock.advance(10 * DAY);
    let newer = send_to_nobody(&ctx).await;

    clock.advance(19 * DAY); // old is 29 days old
    assert_eq!(expiry::sweep(&ctx.state).await.unwrap(), 0);
    assert_eq!(listed(&ctx).await, vec![newer.clone(), old.clone()]);

    clock.advance(2 * DAY); // old is 31 days old, newer 21
    assert_eq!(expiry::sweep(&ctx.state).await.unwrap(), 1);
    assert_eq!(listed(&ctx).await, vec![newer.clone()]);
    assert_eq!(expiry::sweep(&ctx.state).await.unwrap(), 0, "a second sweep finds nothing more");

    clock.advance(10 * DAY);
    assert_eq!(expiry::sweep(&ctx.state).await.unwrap(), 1);
    assert!(listed(&ctx).await.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

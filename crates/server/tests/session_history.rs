//! Session history lasts 30 days after a session ends: driven by a manual clock through
//! the real sweeper and DescribeSessions.

use steward_api::ssm::sessions::DescribeSessionsRequest;
use steward_server::base::{encode, Ctx};
use steward_server::sessions::{self, SessionRecord};
use steward_store::Op;

mod common;
use common::{fixture, T0};

const DAY: i64 = 24 * 3600 * 1000;

async fn store_session(ctx: &Ctx, id: &str, end: Option<i64>) {
    let record = SessionRecord {
        id: id.into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        target: "mi-0123456789abcdef0".into(),
        owner: "arn:aws:iam::123456789012:root".into(),
        document: "SSM-SessionManagerRunShell".into(),
        reason: None,
        status: if end.is_some() { "Terminated" } else { "Connected" }.into(),
        start: T0,
        end,
        client_token: String::new(),
        start_message: steward_protocol::SessionStart {
            session_id: id.into(),
            token: String::new(),
            session_type: "Standard_Stream".into(),
            properties: serde_json::json!({}),
            run_as: String::new(),
        },
        output_url: None,
        details: String::new(),
    };
    let locator = serde_json::json!({"account": record.account, "region": record.region});
    ctx.env
        .store
        .write(vec![
            Op::put(sessions::session_key(&record.account, &record.region, id), encode(&record)),
            Op::put(sessions::session_index(id), serde_json::to_vec(&locator).unwrap()),
        ])
        .await
        .unwrap();
}

async fn listed(ctx: &Ctx, state: &str) -> Vec<String> {
    let request: DescribeSessionsRequest = serde_json::from_value(serde_json::json!({"State": state})).unwrap();
    let out = sessions::describe_sessions(ctx.clone(), request).await.unwrap();
    let mut ids: Vec<String> = out.sessions.into_iter().map(|s| s.session_id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn ended_sessions_leave_the_history_after_thirty_days() {
    let f = fixture("session-history").await;
    let (ctx, clock) = (&f.ctx, &f.clock);
    store_session(ctx, "root-0000000000000000a", Some(T0)).await;
    store_session(ctx, "root-0000000000000000b", Some(T0 + 10 * DAY)).await;
    store_session(ctx, "root-0000000000000000c", None).await; // still going

    clock.advance(29 * DAY);
    assert_eq!(sessions::sweep_expired(&ctx.env).await.unwrap(), 0);
    clock.advance(2 * DAY); // a ended 31 days ago, b 21
    assert_eq!(sessions::sweep_expired(&ctx.env).await.unwrap(), 1);
    assert_eq!(listed(ctx, "History").await, vec!["root-0000000000000000b"]);
    assert_eq!(listed(ctx, "Active").await, vec!["root-0000000000000000c"]);
    assert!(ctx.env.store.get(&sessions::session_index("root-0000000000000000a")).await.unwrap().is_none());

    clock.advance(365 * DAY);
    assert_eq!(sessions::sweep_expired(&ctx.env).await.unwrap(), 1, "a live session is never swept");
    assert_eq!(listed(ctx, "Active").await, vec!["root-0000000000000000c"]);
}

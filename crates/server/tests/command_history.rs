//! Command history expires after 30 days: driven by a manual clock through the real
//! SendCommand, ListCommands and the sweeper.

use steward_api::ssm::commands::{ListCommandsRequest, SendCommandRequest};
use steward_server::base::Ctx;
use steward_server::commands;

mod common;
use common::fixture;

const DAY: i64 = 24 * 3600 * 1000;

async fn send_to_nobody(ctx: &Ctx) -> String {
    // Targets matching no node: the command is final (Success) at once.
    let request: SendCommandRequest = serde_json::from_value(serde_json::json!({
        "DocumentName": "AWS-RunShellScript",
        "Targets": [{"Key": "tag:none", "Values": ["x"]}],
        "Parameters": {"commands": ["true"]},
    }))
    .unwrap();
    commands::send_command(ctx.clone(), request).await.unwrap().command.command_id
}

async fn listed(ctx: &Ctx) -> Vec<String> {
    let request: ListCommandsRequest = serde_json::from_value(serde_json::json!({})).unwrap();
    let out = commands::list_commands(ctx.clone(), request).await.unwrap();
    out.commands.into_iter().map(|c| c.command_id).collect()
}

#[tokio::test]
async fn finished_commands_expire_after_thirty_days() {
    let f = fixture("history").await;
    let (ctx, clock) = (&f.ctx, &f.clock);
    let old = send_to_nobody(ctx).await;
    clock.advance(10 * DAY);
    let newer = send_to_nobody(ctx).await;

    clock.advance(19 * DAY); // old is 29 days old
    assert_eq!(commands::sweep_expired(&ctx.env).await.unwrap(), 0);
    assert_eq!(listed(ctx).await, vec![newer.clone(), old.clone()]);

    clock.advance(2 * DAY); // old is 31 days old, newer 21
    assert_eq!(commands::sweep_expired(&ctx.env).await.unwrap(), 1);
    assert_eq!(listed(ctx).await, vec![newer.clone()]);
    assert_eq!(commands::sweep_expired(&ctx.env).await.unwrap(), 0, "a second sweep finds nothing more");

    clock.advance(10 * DAY);
    assert_eq!(commands::sweep_expired(&ctx.env).await.unwrap(), 1);
    assert!(listed(ctx).await.is_empty());
}

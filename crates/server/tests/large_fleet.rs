//! A fleet larger than one store batch: SendCommand and an association's run reach every
//! node (their writes are staged in batches the store takes), never a 500.

use std::sync::Arc;

use steward_api::ssm::commands::SendCommandRequest;
use steward_server::base::{encode, schedule, Env};
use steward_server::fleet::{node_key, NodeRecord};
use steward_server::{associations, commands};
use steward_store::{prefix_end, Op, Start, MAX_BATCH};

mod common;
use common::{fixture, T0};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// More nodes than one batch holds, with room for the command's other writes.
const NODES: usize = MAX_BATCH + 2_500;

async fn register_big_fleet(env: &Env) {
    let mut ops = Vec::new();
    for i in 0..NODES {
        let id = format!("mi-{i:017x}");
        let node = NodeRecord {
            instance_id: id.clone(),
            account: ACCOUNT.into(),
            region: REGION.into(),
            public_key: String::new(),
            activation_id: "a".into(),
            iam_role: "role".into(),
            name: format!("n{i}"),
            registered: T0,
            platform: Default::default(),
            last_ping: T0,
            connected: false,
            connected_via: String::new(),
            tags: vec![("team".into(), "big".into())],
        };
        ops.push(Op::put(node_key(ACCOUNT, REGION, &id), encode(&node)));
        if ops.len() == 10_000 {
            env.store.write(std::mem::take(&mut ops)).await.unwrap();
        }
    }
    env.store.write(ops).await.unwrap();
}

async fn count(env: &Env, prefix: &str) -> usize {
    env.store.range(Start::At(prefix), &prefix_end(prefix), usize::MAX).await.unwrap().len()
}

fn big_targets() -> serde_json::Value {
    serde_json::json!([{"Key": "tag:team", "Values": ["big"]}])
}

#[tokio::test]
async fn commands_and_association_runs_reach_a_fleet_larger_than_one_batch() {
    let f = fixture("large-fleet").await;
    let env: Arc<Env> = f.ctx.env.clone();
    register_big_fleet(&env).await;

    let request: SendCommandRequest = serde_json::from_value(serde_json::json!({
        "DocumentName": "AWS-RunShellScript",
        "Targets": big_targets(),
        "Parameters": {"commands": ["true"]},
    }))
    .unwrap();
    let sent = commands::send_command(f.ctx.clone(), request).await.expect("SendCommand to every node");
    let id = sent.command.command_id;
    assert_eq!(count(&env, &format!("inv/{ACCOUNT}/{REGION}/{id}/")).await, NODES);

    let input = serde_json::from_value(serde_json::json!({
        "Name": "AWS-RunShellScript",
        "Targets": big_targets(),
        "Parameters": {"commands": ["true"]},
    }))
    .unwrap();
    let created = associations::create_association(f.ctx.clone(), input).await.expect("CreateAssociation");
    let association = created.association_description.association_id;
    // The run booked for now: what the scheduler does with a due entry.
    let nodes = associations::NodeCache::default();
    let mut started = 0;
    for item in schedule::due(&env, env.now(), 10).await.unwrap() {
        let due = schedule::parse_due(&item.key, item.revision).expect("a due entry");
        if associations::on_due(&env, &due, &nodes).await.unwrap() {
            started += 1;
        }
    }
    assert_eq!(started, 1, "the association's run started");
    assert_eq!(count(&env, &format!("assocst/{ACCOUNT}/{REGION}/{association}/")).await, NODES);
    assert_eq!(count(&env, &format!("assocexec/{ACCOUNT}/{REGION}/{association}/")).await, 1);
}

//! DescribeInstanceInformation, DeregisterManagedInstance, UpdateManagedInstanceRole.

use steward_api::ssm::fleet::*;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use super::*;
use crate::base::Ctx;
use steward_protocol::Platform;

use crate::base::{decode, encode, store_fault, Env};

/// Online, ConnectionLost or Inactive, as the fleet sees a node now.
pub fn ping_status(ctx: &Ctx, node: &NodeRecord) -> &'static str {
    let fresh = ctx.env.now() - node.last_ping < 3 * ctx.env.agents.heartbeat_seconds as i64 * 1000;
    if (node.connected && fresh) || ctx.env.agents.is_connected(&node.instance_id) {
        "Online"
    } else {
        "ConnectionLost"
    }
}

/// Reads a node of the caller's account.
pub async fn load_node(ctx: &Ctx, id: &str) -> Result<Option<(NodeRecord, i64)>, ApiError> {
    let key = node_key(&ctx.principal.account, &ctx.principal.region, id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?;
    item.map(|i| Ok((decode::<NodeRecord>(&key, &i.value)?, i.revision))).transpose()
}

/// Every node of the caller's account and region.
pub async fn all_nodes(ctx: &Ctx) -> Result<Vec<NodeRecord>, ApiError> {
    let prefix = format!("node/{}/{}/", ctx.principal.account, ctx.principal.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    items.iter().map(|i| decode(&i.key, &i.value)).collect()
}

/// Every node of an account and region that can be read (an unreadable record is
/// skipped, not an error: background work goes on for the others).
pub async fn readable_nodes(env: &Env, account: &str, region: &str) -> anyhow::Result<Vec<NodeRecord>> {
    let prefix = format!("node/{account}/{region}/");
    let items = env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000_000).await?;
    Ok(items.iter().filter_map(|i| decode(&i.key, &i.value).ok()).collect())
}

struct Filter {
    key: String,
    values: Vec<String>,
}

fn matches(ctx: &Ctx, filters: &[Filter], node: &NodeRecord) -> bool {
    filters.iter().all(|f| {
        let any = |actual: &str| f.values.iter().any(|v| v == actual);
        match f.key.as_str() {
            "InstanceIds" => any(&node.instance_id),
            "AgentVersion" => any(&node.platform.agent_version),
            "PingStatus" => any(ping_status(ctx, node)),
            "PlatformTypes" => any(&node.platform.platform_type),
            "ActivationIds" => any(&node.activation_id),
            "IamRole" => any(&node.iam_role),
            "ResourceType" => any("ManagedInstance"),
            "AssociationStatus" => false,
            "tag-key" => node.tags.iter().any(|(k, _)| any(k)),
            key => {
                let tag = key.strip_prefix("tag:").unwrap_or_default();
                node.tags.iter().any(|(k, v)| k == tag && any(v))
            }
        }
    })
}

fn parse_filters(req: &DescribeInstanceInformationRequest) -> Result<Vec<Filter>, ApiError> {
    if req.filters.is_some() && req.instance_information_filter_list.is_some() {
        return Err(ApiError::validation(
            "You can use either InstanceInformationFilterList or Filters in a single request.",
        ));
    }
    let mut out = Vec::new();
    for f in req.instance_information_filter_list.iter().flatten() {
        out.push(Filter { key: f.key.clone(), values: f.value_set.clone() });
    }
    for f in req.filters.iter().flatten() {
        const KEYS: &[&str] = &[
            "InstanceIds",
            "AgentVersion",
            "PingStatus",
            "PlatformTypes",
            "ActivationIds",
            "IamRole",
            "ResourceType",
            "AssociationStatus",
            "tag-key",
        ];
        if !KEYS.contains(&f.key.as_str()) && !f.key.starts_with("tag:") {
            return Err(ApiError::new(
                "InvalidInstanceInformationFilterValue",
                format!("The filter key {} is not valid.", f.key),
            ));
        }
        out.push(Filter { key: f.key.clone(), values: f.values.clone() });
    }
    Ok(out)
}

/// DescribeInstanceInformation.
pub async fn describe_instance_information(
    ctx: Ctx,
    req: DescribeInstanceInformationRequest,
) -> Result<DescribeInstanceInformationResponse, ApiError> {
    let filters = parse_filters(&req)?;
    let limit = req.max_results.unwrap_or(50) as usize;
    let after = req.next_token.clone();
    let mut list = Vec::new();
    let mut next_token = None;
    for node in all_nodes(&ctx).await? {
        if after.as_ref().is_some_and(|a| node.instance_id <= *a) || !matches(&ctx, &filters, &node) {
            continue;
        }
        if list.len() == limit {
            next_token = list.last().map(|n: &InstanceInformation| n.instance_id.clone());
            break;
        }
        list.push(InstanceInformation {
            ping_status: ping_status(&ctx, &node).into(),
            last_ping_date_time: node.last_ping as f64 / 1000.0,
            agent_version: node.platform.agent_version.clone(),
            is_latest_version: true,
            platform_type: node.platform.platform_type.clone(),
            platform_name: node.platform.platform_name.clone(),
            platform_version: node.platform.platform_version.clone(),
            activation_id: node.activation_id.clone(),
            iam_role: node.iam_role.clone(),
            registration_date: node.registered as f64 / 1000.0,
            resource_type: "ManagedInstance".into(),
            name: node.name.clone(),
            ip_address: node.platform.ip_address.clone(),
            computer_name: node.platform.computer_name.clone(),
            source_id: node.instance_id.clone(),
            source_type: "AWS::SSM::ManagedInstance".into(),
            instance_id: node.instance_id,
        });
    }
    Ok(DescribeInstanceInformationResponse { instance_information_list: list, next_token })
}

/// UpdateManagedInstanceRole.
pub async fn update_managed_instance_role(ctx: Ctx, req: UpdateManagedInstanceRoleRequest) -> Result<Empty, ApiError> {
    let p = &ctx.principal;
    let Some((mut node, revision)) = load_node(&ctx, &req.instance_id).await? else {
        return Err(invalid_instance(&req.instance_id));
    };
    crate::base::access::pass_role(&ctx, &req.iam_role).await?;
    node.iam_role = req.iam_role;
    ctx.env
        .store
        .write(vec![Op::put(node_key(&p.account, &p.region, &req.instance_id), encode(&node)).if_revision(revision)])
        .await
        .map_err(store_fault)?;
    Ok(Empty {})
}

/// Reads the node of `instance_id` through its index.
pub async fn locate(env: &Env, instance_id: &str) -> Option<(NodeRecord, i64, String)> {
    let index_key = node_index(instance_id);
    let index = env.store.get(&index_key).await.ok()??;
    let locator: Locator = decode(&index_key, &index.value).ok()?;
    let key = node_key(&locator.account, &locator.region, instance_id);
    let item = env.store.get(&key).await.ok()??;
    Some((decode(&key, &item.value).ok()?, item.revision, key))
}

/// Records a heartbeat or a connection change on the node.
pub async fn touch(env: &Env, instance_id: &str, connected: bool, platform: Option<&Platform>) {
    for _ in 0..5 {
        let Some((mut node, revision, key)) = locate(env, instance_id).await else { return };
        node.last_ping = env.now();
        node.connected = connected;
        if connected {
            node.connected_via = env.agents.advertise_url.clone();
        } else if node.connected_via == env.agents.advertise_url {
            node.connected_via.clear();
        }
        if let Some(p) = platform {
            node.platform = p.clone();
        }
        match env.store.write(vec![Op::put(&key, encode(&node)).if_revision(revision)]).await {
            Ok(()) => return,
            Err(steward_store::StoreError::Conflict { .. }) => continue,
            Err(e) => {
                tracing::warn!(instance_id, error = %e, "Could not record the node's ping.");
                return;
            }
        }
    }
}

//! DescribeInstanceInformation, DeregisterManagedInstance, UpdateManagedInstanceRole.

use steward_api::ssm::fleet::*;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use super::*;
use crate::dispatch::Ctx;
use crate::state::{decode, encode, store_fault};

/// Online, ConnectionLost or Inactive, as the fleet sees a node now.
pub fn ping_status(ctx: &Ctx, node: &NodeRecord) -> &'static str {
    let fresh = ctx.state.now() - node.last_ping < 3 * ctx.state.fleet.heartbeat_seconds as i64 * 1000;
    if (node.connected && fresh) || ctx.state.fleet.is_connected(&node.instance_id) {
        "Online"
    } else {
        "ConnectionLost"
    }
}

fn invalid_instance(id: &str) -> ApiError {
    ApiError::new(
        "InvalidInstanceId",
        format!("Instance {id} is not registered or is not a managed node of this account."),
    )
}

/// Reads a node of the caller's account.
pub async fn load_node(ctx: &Ctx, id: &str) -> Result<Option<(NodeRecord, i64)>, ApiError> {
    let key = node_key(&ctx.principal.account, &ctx.principal.region, id);
    let item = ctx.state.store.get(&key).await.map_err(store_fault)?;
    item.map(|i| Ok((decode::<NodeRecord>(&key, &i.value)?, i.revision))).transpose()
}

/// Every node of the caller's account and region.
pub async fn all_nodes(ctx: &Ctx) -> Result<Vec<NodeRecord>, ApiError> {
    let prefix = format!("node/{}/{}/", ctx.principal.account, ctx.principal.region);
    let items =
        ctx.state.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    items.iter().map(|i| decode(&i.key, &i.value)).collect()
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

/// DeregisterManagedInstance: the records go, the channel is cut, the identity is dead.
pub async fn deregister_managed_instance(ctx: Ctx, req: DeregisterManagedInstanceRequest) -> Result<Empty, ApiError> {
    let p = &ctx.principal;
    let id = &req.instance_id;
    // The node's heartbeats write its record too: retry a lost race a few times.
    for _ in 0..5 {
        let Some((_, revision)) = load_node(&ctx, id).await? else {
            return Err(invalid_instance(id));
        };
        let mut batch = vec![
            Op::delete(node_key(&p.account, &p.region, id)).if_revision(revision),
            Op::delete(node_index(id)),
            Op::delete(crate::associations::dirty_key(&p.account, &p.region, id)),
        ];
        batch.extend(node_leftovers(&ctx, id).await?);
        match ctx.state.store.write(batch).await {
            Ok(()) => {
                ctx.state.fleet.disconnect(id, "The node was deregistered.");
                tracing::info!(instance_id = id, "Node deregistered.");
                return Ok(Empty {});
            }
            Err(steward_store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_fault(e)),
        }
    }
    Err(ApiError::new("TooManyUpdates", "The node is changing too often to deregister now; try again."))
}

/// What other capabilities keep about a node: association results and compliance items.
async fn node_leftovers(ctx: &Ctx, id: &str) -> Result<Vec<Op>, ApiError> {
    let p = &ctx.principal;
    let mut ops = Vec::new();
    let index = format!("assocnode/{}/{}/{id}/", p.account, p.region);
    for item in ctx.state.store.range(Start::At(&index), &prefix_end(&index), 100_000).await.map_err(store_fault)? {
        let association = &item.key[index.len()..];
        ops.push(Op::delete(crate::associations::node_status_key(&p.account, &p.region, association, id)));
        ops.push(Op::delete(item.key));
    }
    let compliance = format!("compliance/{}/{}/{id}/", p.account, p.region);
    for item in
        ctx.state.store.range(Start::At(&compliance), &prefix_end(&compliance), 100_000).await.map_err(store_fault)?
    {
        ops.push(Op::delete(item.key));
    }
    Ok(ops)
}

/// UpdateManagedInstanceRole.
pub async fn update_managed_instance_role(ctx: Ctx, req: UpdateManagedInstanceRoleRequest) -> Result<Empty, ApiError> {
    let p = &ctx.principal;
    let Some((mut node, revision)) = load_node(&ctx, &req.instance_id).await? else {
        return Err(invalid_instance(&req.instance_id));
    };
    crate::iam::authz::pass_role(&ctx, &req.iam_role).await?;
    node.iam_role = req.iam_role;
    ctx.state
        .store
        .write(vec![Op::put(node_key(&p.account, &p.region, &req.instance_id), encode(&node)).if_revision(revision)])
        .await
        .map_err(store_fault)?;
    Ok(Empty {})
}

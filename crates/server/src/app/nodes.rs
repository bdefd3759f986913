//! The node views: ListNodes, ListNodesSummary and DescribeInstanceProperties. Each is a
//! view of the fleet's node records with what inventory captured (ListNodes' CaptureTime)
//! and what State Manager recorded (DescribeInstanceProperties' association status), so
//! it lives above the capabilities it reads.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use steward_api::ssm::associations::{InstanceAssociationStatusInfo, InstanceAssociationsRequest};
use steward_api::ssm::nodes::*;
use steward_api::ApiError;

use crate::base::paging::{decode_token, encode_token};
use crate::base::Ctx;
use crate::fleet::{self, NodeRecord};

const AGENT_TYPE: &str = "steward-agent";
const RESOURCE_TYPE: &str = "ManagedInstance";

/// A node's attributes by the names ListNodes' filters and aggregators use.
fn attribute(ctx: &Ctx, n: &NodeRecord, key: &str) -> Option<String> {
    let p = &n.platform;
    Some(match key {
        "AgentType" => AGENT_TYPE.into(),
        "AgentVersion" => p.agent_version.clone(),
        "ComputerName" => p.computer_name.clone(),
        "InstanceId" => n.instance_id.clone(),
        "InstanceStatus" => instance_status(ctx, n).into(),
        "IpAddress" => p.ip_address.clone(),
        "ManagedStatus" => "Managed".into(),
        "PlatformName" => p.platform_name.clone(),
        "PlatformType" => p.platform_type.clone(),
        "PlatformVersion" => p.platform_version.clone(),
        "ResourceType" => RESOURCE_TYPE.into(),
        "Region" => n.region.clone(),
        "AccountId" => n.account.clone(),
        // No organizations here: a node is in no organizational unit.
        _ => return None,
    })
}

fn instance_status(ctx: &Ctx, n: &NodeRecord) -> &'static str {
    match fleet::ping_status(ctx, n) {
        "Online" => "Active",
        _ => "ConnectionLost",
    }
}

fn node_filter_matches(ctx: &Ctx, n: &NodeRecord, f: &NodeFilter) -> bool {
    let value = attribute(ctx, n, &f.key);
    match f.kind.as_deref().unwrap_or("Equal") {
        "NotEqual" => value.is_none_or(|v| !f.values.contains(&v)),
        "BeginWith" => value.is_some_and(|v| f.values.iter().any(|p| v.starts_with(p.as_str()))),
        _ => value.is_some_and(|v| f.values.contains(&v)),
    }
}

/// The caller's nodes that pass the filters, by id. A SyncName is a cross-account view
/// through AWS Organizations; Steward has none.
async fn filtered(ctx: &Ctx, sync_name: Option<&str>, filters: &[NodeFilter]) -> Result<Vec<NodeRecord>, ApiError> {
    if let Some(name) = sync_name {
        return Err(ApiError::new(
            "ResourceDataSyncNotFoundException",
            format!("The resource data sync {name} wasn't found: node views read this account and region only."),
        ));
    }
    let mut nodes = fleet::all_nodes(ctx).await?;
    nodes.retain(|n| filters.iter().all(|f| node_filter_matches(ctx, n, f)));
    Ok(nodes)
}

/// The page of `items` (ordered by `id_of`) after the id a token carries.
fn page_by_id<T>(
    items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    max: usize,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let after = token.map(|t| decode_token(t, "")).transpose()?;
    let mut rest: Vec<T> = items.into_iter().filter(|i| after.as_deref().is_none_or(|a| id_of(i) > a)).collect();
    let more = rest.len() > max;
    rest.truncate(max);
    let next = more.then(|| encode_token(id_of(rest.last().expect("a full page"))));
    Ok((rest, next))
}

/// ListNodes.
pub async fn list_nodes(ctx: Ctx, req: ListNodesRequest) -> Result<ListNodesResponse, ApiError> {
    let nodes = filtered(&ctx, req.sync_name.as_deref(), req.filters.as_deref().unwrap_or_default()).await?;
    let max = req.max_results.unwrap_or(50) as usize;
    let (page, next_token) = page_by_id(nodes, |n| n.instance_id.as_str(), max, req.next_token.as_deref())?;
    let mut out = Vec::new();
    for n in page {
        let captured = crate::inventory::captured_at(&ctx, &n.instance_id).await?.unwrap_or(n.last_ping);
        let at = |key: &str| attribute(&ctx, &n, key).unwrap_or_default();
        out.push(Node {
            capture_time: captured as f64 / 1000.0,
            id: n.instance_id.clone(),
            owner: NodeOwnerInfo { account_id: n.account.clone() },
            region: n.region.clone(),
            node_type: NodeType {
                instance: InstanceInfo {
                    agent_type: at("AgentType"),
                    agent_version: at("AgentVersion"),
                    computer_name: at("ComputerName"),
                    instance_status: at("InstanceStatus"),
                    ip_address: at("IpAddress"),
                    managed_status: at("ManagedStatus"),
                    platform_name: at("PlatformName"),
                    platform_type: at("PlatformType"),
                    platform_version: at("PlatformVersion"),
                    resource_type: at("ResourceType"),
                },
            },
        });
    }
    Ok(ListNodesResponse { nodes: out, next_token })
}

/// Rows of one aggregator (and its nested ones) over `nodes`, each with `Count`.
fn summarize(ctx: &Ctx, nodes: &[&NodeRecord], aggregator: &NodeAggregator) -> Vec<BTreeMap<String, String>> {
    let mut by_value: BTreeMap<String, Vec<&NodeRecord>> = BTreeMap::new();
    for n in nodes {
        let v = attribute(ctx, n, &aggregator.attribute_name).unwrap_or_default();
        by_value.entry(v).or_default().push(n);
    }
    let mut rows = Vec::new();
    for (value, members) in by_value {
        let nested = aggregator.aggregators.as_deref().unwrap_or_default();
        if nested.is_empty() {
            rows.push(BTreeMap::from([
                (aggregator.attribute_name.clone(), value.clone()),
                ("Count".to_owned(), members.len().to_string()),
            ]));
        }
        for inner in nested {
            for mut row in summarize(ctx, &members, inner) {
                row.insert(aggregator.attribute_name.clone(), value.clone());
                rows.push(row);
            }
        }
    }
    rows
}

fn check_aggregators(aggregators: &[NodeAggregator], depth: usize) -> Result<(), ApiError> {
    for a in aggregators {
        if depth > 1 {
            return Err(ApiError::new("InvalidAggregatorException", "Aggregators nest at most two deep."));
        }
        if a.aggregator_type != "Count" || a.type_name != "Instance" {
            return Err(ApiError::new(
                "InvalidAggregatorException",
                format!("The aggregator {} of {} isn't valid: use Count of Instance.", a.aggregator_type, a.type_name),
            ));
        }
        check_aggregators(a.aggregators.as_deref().unwrap_or_default(), depth + 1)?;
    }
    Ok(())
}

/// ListNodesSummary.
pub async fn list_nodes_summary(ctx: Ctx, req: ListNodesSummaryRequest) -> Result<ListNodesSummaryResponse, ApiError> {
    check_aggregators(&req.aggregators, 0)?;
    let nodes = filtered(&ctx, req.sync_name.as_deref(), req.filters.as_deref().unwrap_or_default()).await?;
    let refs: Vec<&NodeRecord> = nodes.iter().collect();
    let rows: Vec<BTreeMap<String, String>> = req.aggregators.iter().flat_map(|a| summarize(&ctx, &refs, a)).collect();
    let (summary, next_token) = crate::base::paging::page(rows, req.max_results, &req.next_token)?;
    Ok(ListNodesSummaryResponse { summary, next_token })
}

/// The last result of each association that ran on a node.
async fn association_results(ctx: &Ctx, node: &str) -> Result<Vec<InstanceAssociationStatusInfo>, ApiError> {
    let request =
        InstanceAssociationsRequest { instance_id: node.to_owned(), max_results: Some(i64::MAX), next_token: None };
    Ok(crate::associations::describe_instance_associations_status(ctx.clone(), request)
        .await?
        .instance_association_status_infos)
}

/// A node's associations in one word, as the console shows it, with the dates of its
/// last run and last successful run.
fn association_overview(infos: &[InstanceAssociationStatusInfo]) -> (Option<String>, Option<f64>, Option<f64>) {
    if infos.is_empty() {
        return (None, None, None);
    }
    let status = if infos.iter().any(|i| i.status == "Failed") {
        "Failed"
    } else if infos.iter().all(|i| i.status == "Success") {
        "Success"
    } else {
        "Pending"
    };
    let latest = |it: &mut dyn Iterator<Item = f64>| it.fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))));
    let last = latest(&mut infos.iter().map(|i| i.execution_date));
    let last_ok = latest(&mut infos.iter().filter(|i| i.status == "Success").map(|i| i.execution_date));
    (Some(status.to_owned()), last, last_ok)
}

const PROPERTY_KEYS: &[&str] = &[
    "InstanceIds",
    "AgentVersion",
    "PingStatus",
    "PlatformTypes",
    "DocumentName",
    "ActivationIds",
    "IamRole",
    "ResourceType",
    "AssociationStatus",
];

/// One DescribeInstanceProperties condition.
struct Condition {
    key: String,
    values: Vec<String>,
    operator: String,
}

impl Condition {
    fn accepts(&self, actual: &[String]) -> bool {
        let one = |a: &String| {
            self.values.iter().any(|v| match self.operator.as_str() {
                "BeginWith" => a.starts_with(v.as_str()),
                "LessThan" => crate::inventory::natural_order(a, v) == Ordering::Less,
                "GreaterThan" => crate::inventory::natural_order(a, v) == Ordering::Greater,
                _ => a == v,
            })
        };
        if self.operator == "NotEqual" {
            !actual.iter().any(|a| self.values.contains(a))
        } else {
            actual.iter().any(one)
        }
    }
}

fn conditions(req: &DescribeInstancePropertiesRequest) -> Result<Vec<Condition>, ApiError> {
    if req.instance_property_filter_list.is_some() && req.filters_with_operator.is_some() {
        return Err(ApiError::validation(
            "Use either InstancePropertyFilterList or FiltersWithOperator in a single request.",
        ));
    }
    let mut out = Vec::new();
    for f in req.instance_property_filter_list.iter().flatten() {
        out.push(Condition { key: f.key.clone(), values: f.value_set.clone(), operator: "Equal".into() });
    }
    for f in req.filters_with_operator.iter().flatten() {
        let known = PROPERTY_KEYS.contains(&f.key.as_str()) || f.key == "tag-key" || f.key.starts_with("tag:");
        if !known {
            return Err(ApiError::new("InvalidFilterKey", format!("The filter key {} isn't valid.", f.key)));
        }
        out.push(Condition {
            key: f.key.clone(),
            values: f.values.clone(),
            operator: f.operator.clone().unwrap_or_else(|| "Equal".into()),
        });
    }
    for c in &out {
        if c.values.iter().any(String::is_empty) {
            return Err(ApiError::new(
                "InvalidInstancePropertyFilterValue",
                format!("The filter {} has an empty value.", c.key),
            ));
        }
    }
    Ok(out)
}

/// DescribeInstanceProperties.
pub async fn describe_instance_properties(
    ctx: Ctx,
    req: DescribeInstancePropertiesRequest,
) -> Result<DescribeInstancePropertiesResponse, ApiError> {
    let conditions = conditions(&req)?;
    let needs_associations = conditions.iter().any(|c| c.key == "DocumentName" || c.key == "AssociationStatus");
    let mut matched = Vec::new();
    for n in fleet::all_nodes(&ctx).await? {
        let results = if needs_associations { association_results(&ctx, &n.instance_id).await? } else { Vec::new() };
        let documents: Vec<String> = results.iter().map(|r| r.name.clone()).collect();
        let overview = association_overview(&results).0;
        let ok = conditions.iter().all(|c| {
            let actual: Vec<String> = match c.key.as_str() {
                "InstanceIds" => vec![n.instance_id.clone()],
                "AgentVersion" => vec![n.platform.agent_version.clone()],
                "PingStatus" => vec![fleet::ping_status(&ctx, &n).to_owned()],
                "PlatformTypes" => vec![n.platform.platform_type.clone()],
                "ActivationIds" => vec![n.activation_id.clone()],
                "IamRole" => vec![n.iam_role.clone()],
                "ResourceType" => vec![RESOURCE_TYPE.to_owned()],
                "DocumentName" => documents.clone(),
                "AssociationStatus" => overview.iter().cloned().collect(),
                "tag-key" => n.tags.iter().map(|(k, _)| k.clone()).collect(),
                key => {
                    let tag = key.strip_prefix("tag:").unwrap_or_default();
                    n.tags.iter().filter(|(k, _)| k == tag).map(|(_, v)| v.clone()).collect()
                }
            };
            c.accepts(&actual)
        });
        if ok {
            matched.push(n);
        }
    }
    let max = req.max_results.unwrap_or(50) as usize;
    let (page, next_token) = page_by_id(matched, |n| n.instance_id.as_str(), max, req.next_token.as_deref())?;
    let mut out = Vec::new();
    for n in page {
        let (association_status, last_run, last_ok) =
            association_overview(&association_results(&ctx, &n.instance_id).await?);
        out.push(InstanceProperty {
            name: n.name.clone(),
            instance_id: n.instance_id.clone(),
            instance_role: n.iam_role.clone(),
            ip_address: n.platform.ip_address.clone(),
            ping_status: fleet::ping_status(&ctx, &n).into(),
            last_ping_date_time: n.last_ping as f64 / 1000.0,
            agent_version: n.platform.agent_version.clone(),
            platform_type: n.platform.platform_type.clone(),
            platform_name: n.platform.platform_name.clone(),
            platform_version: n.platform.platform_version.clone(),
            activation_id: n.activation_id.clone(),
            iam_role: n.iam_role.clone(),
            registration_date: n.registered as f64 / 1000.0,
            resource_type: RESOURCE_TYPE.into(),
            computer_name: n.platform.computer_name.clone(),
            association_status,
            last_association_execution_date: last_run,
            last_successful_association_execution_date: last_ok,
            source_id: n.instance_id.clone(),
            source_type: "AWS::SSM::ManagedInstance".into(),
        });
    }
    Ok(DescribeInstancePropertiesResponse { instance_properties: out, next_token })
}

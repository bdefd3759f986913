//! GetCommandInvocation, ListCommands, ListCommandInvocations, CancelCommand.

use steward_api::ssm::commands::*;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_protocol::ServerMessage;
use steward_store::{prefix_end, Op, Start};

use super::*;
use crate::base::paging::page;
use crate::base::Ctx;
use crate::base::{decode, encode, store_fault};

/// The wire form of a command.
pub fn to_wire(c: &CommandRecord) -> Command {
    Command {
        command_id: c.command_id.clone(),
        document_name: c.document_name.clone(),
        document_version: c.document_version.clone(),
        comment: c.comment.clone(),
        expires_after: (c.requested + c.timeout_seconds * 1000) as f64 / 1000.0,
        parameters: c.parameters.clone(),
        instance_ids: c.instance_ids.clone(),
        targets: c.targets.clone(),
        requested_date_time: c.requested as f64 / 1000.0,
        status: c.status.clone(),
        status_details: c.status.clone(),
        output_s3_bucket_name: c.output_bucket.clone(),
        output_s3_key_prefix: c.output_prefix.clone(),
        max_concurrency: c.max_concurrency.clone(),
        max_errors: c.max_errors.clone(),
        target_count: c.target_count,
        completed_count: c.completed_count,
        error_count: c.error_count,
        delivery_timed_out_count: c.delivery_timed_out_count,
        service_role: c.service_role.clone(),
        timeout_seconds: c.timeout_seconds,
    }
}

fn iso_millis(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => {
            let secs = steward_api::time::format_iso8601(ms.div_euclid(1000));
            format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms.rem_euclid(1000))
        }
        None => String::new(),
    }
}

async fn load_command(ctx: &Ctx, id: &str) -> Result<CommandRecord, ApiError> {
    let p = &ctx.principal;
    let key = command_key(&p.account, &p.region, id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?;
    let item = item.ok_or_else(|| ApiError::new("InvalidCommandId", format!("Command {id} does not exist.")))?;
    decode(&key, &item.value)
}

/// One command, or every command of the caller's account and region.
async fn load_commands(ctx: &Ctx, command_id: Option<&str>) -> Result<Vec<CommandRecord>, ApiError> {
    if let Some(id) = command_id {
        return Ok(vec![load_command(ctx, id).await?]);
    }
    let p = &ctx.principal;
    let prefix = format!("cmd/{}/{}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    let mut commands =
        items.iter().map(|i| decode::<CommandRecord>(&i.key, &i.value)).collect::<Result<Vec<_>, _>>()?;
    commands.retain(|c| !c.origin.as_ref().is_some_and(Origin::hidden_from_run_command));
    Ok(commands)
}

async fn load_invocations(ctx: &Ctx, command_id: &str) -> Result<Vec<(String, i64, InvocationRecord)>, ApiError> {
    let p = &ctx.principal;
    let prefix = format!("inv/{}/{}/{command_id}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    items.iter().map(|i| Ok((i.key.clone(), i.revision, decode(&i.key, &i.value)?))).collect()
}

/// GetCommandInvocation: one step (the first, or the one named) of one node.
pub async fn get_command_invocation(
    ctx: Ctx,
    req: GetCommandInvocationRequest,
) -> Result<GetCommandInvocationResponse, ApiError> {
    let p = &ctx.principal;
    let missing = || ApiError::new("InvocationDoesNotExist", "The command invocation does not exist.");
    let command = load_command(&ctx, &req.command_id).await.map_err(|_| missing())?;
    let key = invocation_key(&p.account, &p.region, &req.command_id, &req.instance_id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(missing)?;
    let inv: InvocationRecord = decode(&key, &item.value)?;
    let plugin = match &req.plugin_name {
        Some(name) => inv.plugins.iter().find(|pl| pl.name == *name).ok_or_else(|| {
            ApiError::new("InvalidPluginName", format!("The plugin {name} is not part of this command."))
        })?,
        None => inv.plugins.first().ok_or_else(missing)?,
    };
    let one = req.plugin_name.is_some() || inv.plugins.len() == 1;
    let (stdout_url, stderr_url) =
        if one { (plugin.stdout_url.clone(), plugin.stderr_url.clone()) } else { (String::new(), String::new()) };
    let (stdout, stderr, response_code) = if one {
        (plugin.stdout.clone(), plugin.stderr.clone(), plugin.response_code)
    } else {
        // Without a plugin name, SSM shows the whole invocation's output.
        let join = |f: fn(&PluginOutcome) -> &str| {
            inv.plugins.iter().map(f).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\n")
        };
        let code = inv.plugins.iter().map(|pl| pl.response_code).find(|c| *c != 0).unwrap_or(plugin.response_code);
        (truncate(&join(|pl| &pl.stdout), STDOUT_LIMIT), truncate(&join(|pl| &pl.stderr), STDERR_LIMIT), code)
    };
    let started = inv.plugins.iter().filter_map(|pl| pl.started).min();
    let ended = inv.plugins.iter().filter_map(|pl| pl.ended).max();
    let elapsed = match (started, ended) {
        (Some(s), Some(e)) => format!("PT{:.3}S", (e - s) as f64 / 1000.0),
        _ => String::new(),
    };
    Ok(GetCommandInvocationResponse {
        command_id: inv.command_id.clone(),
        instance_id: inv.instance_id.clone(),
        comment: command.comment.clone(),
        document_name: command.document_name.clone(),
        document_version: command.document_version.clone(),
        plugin_name: plugin.name.clone(),
        response_code: if steward_core::commands::is_terminal(&inv.status) { response_code } else { -1 },
        execution_start_date_time: iso_millis(started),
        execution_elapsed_time: elapsed,
        execution_end_date_time: iso_millis(ended),
        // With a plugin named, SSM reports that step's status; otherwise the invocation's.
        status: if req.plugin_name.is_some() { plugin.status.clone() } else { inv.status.clone() },
        status_details: if req.plugin_name.is_some() { plugin.status.clone() } else { inv.status_details.clone() },
        standard_output_content: stdout,
        standard_output_url: stdout_url,
        standard_error_content: stderr,
        standard_error_url: stderr_url,
    })
}

/// ListCommands: newest first.
pub async fn list_commands(ctx: Ctx, req: ListCommandsRequest) -> Result<ListCommandsResponse, ApiError> {
    let p = &ctx.principal;
    let mut commands = load_commands(&ctx, req.command_id.as_deref()).await?;
    if let Some(instance) = &req.instance_id {
        let mut kept = Vec::new();
        for c in commands {
            let key = invocation_key(&p.account, &p.region, &c.command_id, instance);
            if ctx.env.store.get(&key).await.map_err(store_fault)?.is_some() {
                kept.push(c);
            }
        }
        commands = kept;
    }
    for f in req.filters.iter().flatten() {
        commands.retain(|c| match f.key.as_str() {
            "Status" => c.status == f.value,
            "DocumentName" => c.document_name == f.value,
            _ => true,
        });
    }
    commands.sort_by(|a, b| (b.requested, &b.command_id).cmp(&(a.requested, &a.command_id)));
    let (page, next_token) = page(commands, req.max_results, &req.next_token)?;
    Ok(ListCommandsResponse { commands: page.iter().map(to_wire).collect(), next_token })
}

/// ListCommandInvocations.
pub async fn list_command_invocations(
    ctx: Ctx,
    req: ListCommandsRequest,
) -> Result<ListCommandInvocationsResponse, ApiError> {
    let commands = load_commands(&ctx, req.command_id.as_deref()).await?;
    let details = req.details.unwrap_or(false);
    let mut out = Vec::new();
    for c in &commands {
        for (_, _, inv) in load_invocations(&ctx, &c.command_id).await? {
            if req.instance_id.as_ref().is_some_and(|i| *i != inv.instance_id) {
                continue;
            }
            out.push((c.requested, invocation_wire(c, &inv, details)));
        }
    }
    out.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    let (page, next_token) = page(out.into_iter().map(|(_, i)| i).collect(), req.max_results, &req.next_token)?;
    Ok(ListCommandInvocationsResponse { command_invocations: page, next_token })
}

/// An invocation as ListCommandInvocations shows it, with each step's output when `details`.
fn invocation_wire(c: &CommandRecord, inv: &InvocationRecord, details: bool) -> CommandInvocation {
    let plugins = if details {
        inv.plugins
            .iter()
            .map(|pl| CommandPlugin {
                name: pl.name.clone(),
                status: pl.status.clone(),
                status_details: pl.status.clone(),
                response_code: pl.response_code,
                response_start_date_time: pl.started.map(|s| s as f64 / 1000.0),
                response_finish_date_time: pl.ended.map(|s| s as f64 / 1000.0),
                output: truncate(&format!("{}{}", pl.stdout, pl.stderr), 2500),
                standard_output_url: pl.stdout_url.clone(),
                standard_error_url: pl.stderr_url.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    CommandInvocation {
        command_id: c.command_id.clone(),
        instance_id: inv.instance_id.clone(),
        instance_name: inv.instance_name.clone(),
        comment: c.comment.clone(),
        document_name: c.document_name.clone(),
        document_version: c.document_version.clone(),
        requested_date_time: c.requested as f64 / 1000.0,
        status: inv.status.clone(),
        status_details: inv.status_details.clone(),
        trace_output: String::new(),
        standard_output_url: String::new(),
        standard_error_url: String::new(),
        command_plugins: plugins,
        service_role: c.service_role.clone(),
    }
}

/// What changed in a command since a watcher last looked: the command (when it changed) and
/// the invocations that changed, with their output. `seen` holds what the watcher has — each
/// record's stored revision and a hash of what it showed (the command's under its id) — and
/// is brought up to date. A record whose revision holds is not even decoded, so watching a
/// quiet 1,000-node command is cheap; one rewritten without a visible change (an agent's
/// acknowledgement) is not sent again.
pub async fn command_changes(
    ctx: &Ctx,
    command_id: &str,
    seen: &mut std::collections::HashMap<String, (i64, u64)>,
) -> Result<CommandChanges, ApiError> {
    let p = &ctx.principal;
    let key = command_key(&p.account, &p.region, command_id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?;
    let item =
        item.ok_or_else(|| ApiError::new("InvalidCommandId", format!("Command {command_id} does not exist.")))?;
    let record: CommandRecord = decode(&key, &item.value)?;
    let command = changed(seen, command_id, item.revision, || to_wire(&record));
    let prefix = format!("inv/{}/{}/{command_id}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    let mut invocations = Vec::new();
    for i in &items {
        let node = &i.key[prefix.len()..];
        if seen.get(node).is_some_and(|(revision, _)| *revision == i.revision) {
            continue;
        }
        let inv: InvocationRecord = decode(&i.key, &i.value)?;
        invocations.extend(changed(seen, node, i.revision, || invocation_wire(&record, &inv, true)));
    }
    // The command is read before its invocations, so an ended command's final results are in.
    let finished = steward_core::commands::is_terminal(&record.status);
    Ok(CommandChanges { command, invocations, finished })
}

/// The record's wire form when it shows something `seen` has not; notes it either way.
fn changed<T: serde::Serialize>(
    seen: &mut std::collections::HashMap<String, (i64, u64)>,
    key: &str,
    revision: i64,
    wire: impl FnOnce() -> T,
) -> Option<T> {
    use std::hash::{Hash, Hasher};
    let wire = wire();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&wire).unwrap_or_default().hash(&mut hasher);
    let hash = hasher.finish();
    let before = seen.insert(key.to_owned(), (revision, hash));
    (before.map(|(_, h)| h) != Some(hash)).then_some(wire)
}

/// See [`command_changes`].
pub struct CommandChanges {
    /// The command, when its record changed.
    pub command: Option<Command>,
    /// The invocations that changed.
    pub invocations: Vec<CommandInvocation>,
    /// The command has ended: nothing will change any more.
    pub finished: bool,
}

/// CancelCommand: pending invocations end Cancelled; running ones are told to stop.
pub async fn cancel_command(ctx: Ctx, req: CancelCommandRequest) -> Result<Empty, ApiError> {
    load_command(&ctx, &req.command_id).await?;
    let only = req.instance_ids.clone().unwrap_or_default();
    let mut batch = Vec::new();
    let mut running = Vec::new();
    for (key, revision, mut inv) in load_invocations(&ctx, &req.command_id).await? {
        if !only.is_empty() && !only.contains(&inv.instance_id) {
            continue;
        }
        match inv.status.as_str() {
            // A Delayed invocation cannot be reached; if the node had it, its late result
            // changes nothing, as for any final invocation.
            "Pending" | "Delayed" => {
                inv.status = "Cancelled".into();
                inv.status_details = "Cancelled".into();
            }
            "InProgress" => {
                inv.status = "Cancelling".into();
                inv.status_details = "Cancelling".into();
                running.push(inv.instance_id.clone());
            }
            _ => continue,
        }
        batch.push(Op::put(key, encode(&inv)).if_revision(revision));
    }
    if !batch.is_empty() {
        ctx.env.store.write(batch).await.map_err(|e| match e {
            steward_store::StoreError::Conflict { .. } => ApiError::new(
                "TooManyUpdates",
                "There are concurrent updates for a resource that supports one update at a time.",
            ),
            e => store_fault(e),
        })?;
    }
    for instance_id in running {
        // Nodes connected elsewhere hear it from their server's dispatcher.
        if ctx.env.agents.first_cancel(&req.command_id, &instance_id) {
            ctx.env.agents.send(
                &instance_id,
                ServerMessage::Cancel { invocation_id: invocation_id(&req.command_id, &instance_id) },
            );
        }
    }
    ctx.env.wake.dispatcher();
    Ok(Empty {})
}

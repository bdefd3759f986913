//! `aws:configurePackage` (AWS-ConfigureAWSPackage) and `aws:updateSsmAgent`
//! (AWS-UpdateSSMAgent). The package a step names is resolved
//! when the command is planned — as the sender, who needs `ssm:SendCommand` on the package
//! document too — and its manifest travels in the step's `package` input, so every node of
//! the command installs the same version. A node then downloads the file for its platform
//! over its control channel, and [`file_location`] lets it read only the files its own running
//! invocation names. An agent update step carries the agent release it installs, resolved the
//! same way.

use serde_json::{json, Map, Value};
use steward_api::ApiError;
use steward_core::documents::content::{self, Format};
use steward_protocol::PluginRun;

use super::{command_key, invocation_key, CommandRecord, InvocationRecord};
use crate::base::{decode, fault, store_fault, Ctx, Env};
use crate::documents;

/// The plugin.
pub const ACTION: &str = "aws:configurePackage";
/// AWS-UpdateSSMAgent's plugin.
pub const UPDATE_ACTION: &str = "aws:updateSsmAgent";

/// Where a file a node may download lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLocation {
    /// A package file of this account.
    Package {
        /// The package's owner.
        owner: String,
    },
    /// An agent build.
    AgentRelease,
}

fn invalid(step: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new("InvalidParameters", format!("Step {step} (aws:configurePackage): {message}"))
}

/// Checks a step's inputs and adds the resolved package: its ARN, owner, document version,
/// package version, platform table and files (name → SHA-256 and size). Uninstalling a
/// package that no longer exists is allowed: the node uninstalls what it has.
pub async fn resolve(ctx: &Ctx, step: &mut PluginRun) -> Result<(), ApiError> {
    let name = step.inputs["name"].as_str().unwrap_or_default().trim().to_owned();
    if name.is_empty() {
        return Err(invalid(&step.name, "name the package (its name or ARN)."));
    }
    let action = step.inputs["action"].as_str().unwrap_or_default().to_owned();
    if action != "Install" && action != "Uninstall" {
        return Err(invalid(&step.name, format!("action must be Install or Uninstall, not {action:?}.")));
    }
    let installation = step.inputs["installationType"].as_str().unwrap_or("Uninstall and reinstall");
    if !["Uninstall and reinstall", "In-place update", ""].contains(&installation) {
        return Err(invalid(
            &step.name,
            format!(
                "installationType must be \"Uninstall and reinstall\" or \"In-place update\", not {installation:?}."
            ),
        ));
    }
    let wanted = step.inputs["version"].as_str().unwrap_or_default().trim().to_owned();
    let found = match documents::find(ctx, &name).await {
        Ok(found) => found,
        Err(_) if action == "Uninstall" => return Ok(()),
        Err(_) => {
            return Err(invalid(&step.name, format!("the package {name} does not exist or is not shared with you.")))
        }
    };
    if found.head.doc_type != "Package" {
        return Err(invalid(&step.name, format!("{name} is a {} document, not a package.", found.head.doc_type)));
    }
    let number = if wanted.is_empty() {
        found.head.default_version
    } else {
        documents::select(&found.head, None, Some(&wanted))
            .map_err(|_| invalid(&step.name, format!("the package {name} has no version {wanted}.")))?
    };
    let arn = documents::arn(&ctx.principal.region, &found.head.owner, &found.head.name);
    ctx.authorize("ssm:SendCommand", std::slice::from_ref(&arn), |r| r).await?;
    let version = documents::load_version(ctx, &found.head, number).await?;
    let format = Format::parse(&version.format).unwrap_or(Format::Json);
    let manifest = content::parse(&version.content, format).map_err(fault)?;
    let files: Map<String, Value> =
        version.attachments.iter().map(|a| (a.name.clone(), json!({"sha256": a.sha256, "size": a.size}))).collect();
    step.inputs["package"] = json!({
        "arn": arn,
        "owner": found.head.owner,
        "documentVersion": number.to_string(),
        "version": manifest["version"],
        "publisher": manifest["publisher"],
        "packages": manifest["packages"],
        "files": files,
    });
    Ok(())
}

/// AWS-UpdateSSMAgent's step: the release to install (`targetVersion`, else the newest)
/// with every architecture's build, hash, size and signature.
pub async fn resolve_update(ctx: &Ctx, step: &mut PluginRun) -> Result<(), ApiError> {
    let target = step.inputs["targetVersion"].as_str().unwrap_or_default().trim().to_owned();
    let downgrade = step.inputs["allowDowngrade"].as_str().unwrap_or("false");
    if downgrade != "true" && downgrade != "false" {
        return Err(ApiError::new(
            "InvalidParameters",
            format!("allowDowngrade must be true or false, not {downgrade:?}."),
        ));
    }
    let releases = crate::fleet::find_releases(&ctx.env, &target).await.map_err(|why| {
        ApiError::new("InvalidParameters", format!("Step {} (aws:updateSsmAgent): {why}.", step.name))
    })?;
    let builds: Map<String, Value> = releases
        .iter()
        .map(|r| (r.arch.clone(), json!({"sha256": r.sha256, "size": r.size, "signature": r.signature})))
        .collect();
    step.inputs["release"] = json!({"version": releases[0].version, "builds": builds});
    Ok(())
}

/// Where the file with `sha256` is, if `steps` (nested `aws:runDocument` steps included)
/// name it: a package's file or an agent build.
fn location_in(steps: &[PluginRun], sha256: &str) -> Option<FileLocation> {
    steps.iter().find_map(|step| {
        if step.action == ACTION {
            let package = &step.inputs["package"];
            let holds = package["files"].as_object()?.values().any(|f| f["sha256"] == sha256);
            let owner = package["owner"].as_str()?.to_owned();
            return holds.then_some(FileLocation::Package { owner });
        }
        if step.action == UPDATE_ACTION {
            let builds = step.inputs["release"]["builds"].as_object()?;
            return builds.values().any(|b| b["sha256"] == sha256).then_some(FileLocation::AgentRelease);
        }
        let nested: Vec<PluginRun> = serde_json::from_value(step.inputs.get("steps")?.clone()).ok()?;
        location_in(&nested, sha256)
    })
}

/// Where the file `sha256` is that the node `instance_id` (of `account` and `region`) may
/// download for `command_id`: only while its invocation of that command is running, and only
/// a file one of the command's steps names.
pub async fn file_location(
    env: &Env,
    account: &str,
    region: &str,
    instance_id: &str,
    command_id: &str,
    sha256: &str,
) -> Result<FileLocation, ApiError> {
    let refused = || ApiError::new("AccessDeniedException", "No running invocation of this node names that file.");
    let key = invocation_key(account, region, command_id, instance_id);
    let Some(item) = env.store.get(&key).await.map_err(store_fault)? else { return Err(refused()) };
    let invocation: InvocationRecord = decode(&key, &item.value)?;
    if !matches!(invocation.status.as_str(), "Pending" | "InProgress" | "Delayed") {
        return Err(refused());
    }
    let key = command_key(account, region, command_id);
    let Some(item) = env.store.get(&key).await.map_err(store_fault)? else { return Err(refused()) };
    let command: CommandRecord = decode(&key, &item.value)?;
    location_in(&command.plugins, sha256).ok_or_else(refused)
}

//! LabelParameterVersion, UnlabelParameterVersion.

use steward_api::ssm::parameters::*;
use steward_api::ApiError;
use steward_core::parameters::labels::{is_valid_label, MAX_LABELS_PER_VERSION};

use super::*;

fn version_not_found(name: &str, version: i64) -> ApiError {
    ApiError::new(
        "ParameterVersionNotFound",
        format!("Systems Manager could not find version {version} of {name}. Verify the version and try again."),
    )
}

/// LabelParameterVersion: valid labels move to the version; invalid ones are reported.
pub async fn label_parameter_version(
    ctx: Ctx,
    req: LabelParameterVersionRequest,
) -> Result<LabelParameterVersionResponse, ApiError> {
    let name = lookup_name(&ctx, &req.name)?;
    let (version, invalid) = update_head(&ctx, name, |head| {
        let version = req.parameter_version.unwrap_or(head.current.version);
        if version < head.first_version || version > head.current.version {
            return Err(version_not_found(&req.name, version));
        }
        let (valid, invalid): (Vec<String>, Vec<String>) = req.labels.iter().cloned().partition(|l| is_valid_label(l));
        let mut moved = false;
        for label in &valid {
            moved |= head.labels.insert(label.clone(), version) != Some(version);
        }
        if head.labels_of(version).len() > MAX_LABELS_PER_VERSION {
            return Err(ApiError::new(
                "ParameterVersionLabelLimitExceeded",
                "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.",
            ));
        }
        // Only a label that actually moved is a change worth an event.
        let event = moved.then(|| {
            super::change_event(&ctx.env.events, &ctx.principal, &head.current, "LabelParameterVersion", ctx.env.now())
        });
        Ok(((version, invalid), event))
    })
    .await?;
    Ok(LabelParameterVersionResponse { invalid_labels: invalid, parameter_version: version })
}

/// UnlabelParameterVersion.
pub async fn unlabel_parameter_version(
    ctx: Ctx,
    req: UnlabelParameterVersionRequest,
) -> Result<UnlabelParameterVersionResponse, ApiError> {
    let name = lookup_name(&ctx, &req.name)?;
    let (removed, invalid) = update_head(&ctx, name, |head| {
        let version = req.parameter_version;
        if version < head.first_version || version > head.current.version {
            return Err(version_not_found(&req.name, version));
        }
        let (mut removed, mut invalid) = (Vec::new(), Vec::new());
        for label in &req.labels {
            if head.labels.get(label) == Some(&version) {
                head.labels.remove(label);
                removed.push(label.clone());
            } else {
                invalid.push(label.clone());
            }
        }
        Ok(((removed, invalid), None))
    })
    .await?;
    Ok(UnlabelParameterVersionResponse { removed_labels: removed, invalid_labels: invalid })
}

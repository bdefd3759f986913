//! Resource queries: `TAG_FILTERS_1_0` (a JSON text: resource types and tag filters) parsed,
//! checked as Resource Groups checks it, and matched against a resource's type and tags.
//! `CLOUDFORMATION_STACK_1_0` is refused: there are no stacks here.

use serde_json::Value;
use steward_api::ApiError;

/// The resource type of a managed node (what targets can run on).
pub const NODE_TYPE: &str = "AWS::SSM::ManagedInstance";
/// The resource types Steward holds and can group.
pub const SUPPORTED_TYPES: &[&str] =
    &["AWS::SSM::ManagedInstance", "AWS::SSM::Document", "AWS::SSM::Parameter", "AWS::SSM::MaintenanceWindow"];
/// Every supported type.
pub const ALL_SUPPORTED: &str = "AWS::AllSupported";

/// A parsed tag query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagQuery {
    /// `AWS::AllSupported` or types.
    pub resource_types: Vec<String>,
    /// Key → accepted values (empty: any value). Every key must match.
    pub tag_filters: Vec<(String, Vec<String>)>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new("BadRequestException", message)
}

fn invalid_query(message: &str) -> ApiError {
    bad(format!("Invalid query: {message}"))
}

/// Parses a ResourceQuery of `kind` with its `query` text.
pub fn parse(kind: &str, query: &str) -> Result<TagQuery, ApiError> {
    match kind {
        "TAG_FILTERS_1_0" => {}
        "CLOUDFORMATION_STACK_1_0" => {
            return Err(bad("Query type CLOUDFORMATION_STACK_1_0 is not supported: Steward has no CloudFormation stacks; use TAG_FILTERS_1_0."))
        }
        other => return Err(bad(format!("Query type {other} is not valid; use TAG_FILTERS_1_0."))),
    }
    if query.len() > 4096 {
        return Err(invalid_query("The query is longer than 4096 characters."));
    }
    let v: Value = serde_json::from_str(query).map_err(|_| invalid_query("Invalid query format: check JSON syntax"))?;
    let Value::Object(map) = &v else { return Err(invalid_query("Invalid query format: check JSON syntax")) };
    if let Some(extra) = map.keys().find(|k| *k != "ResourceTypeFilters" && *k != "TagFilters") {
        return Err(invalid_query(&format!("Unknown query field {extra}.")));
    }
    let types: Vec<String> = match &v["ResourceTypeFilters"] {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|t| t.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid_query("ResourceTypeFilters must be strings."))?,
        _ => return Err(invalid_query("ResourceTypeFilters must list at least one resource type.")),
    };
    if types.len() > 20 {
        return Err(invalid_query("A query names at most 20 resource types."));
    }
    for t in &types {
        let shaped = t == ALL_SUPPORTED || {
            let parts: Vec<&str> = t.split("::").collect();
            parts.len() == 3
                && parts[0] == "AWS"
                && parts[1..].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        };
        if !shaped {
            return Err(invalid_query(&format!("{t} is not a resource type (AWS::Service::Type).")));
        }
    }
    if types.iter().any(|t| t == ALL_SUPPORTED) && types.len() > 1 {
        return Err(invalid_query("AWS::AllSupported cannot be combined with other resource types."));
    }
    let filters = match &v["TagFilters"] {
        Value::Array(items) => items,
        _ => return Err(invalid_query("The TagFilters list must contain between 1 and 50 elements")),
    };
    if filters.is_empty() || filters.len() > 50 {
        return Err(invalid_query("The TagFilters list must contain between 1 and 50 elements"));
    }
    let mut tag_filters = Vec::new();
    for f in filters {
        let key = f["Key"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| invalid_query("The TagFilter element cannot have empty or null Key field"))?;
        if key.chars().count() > 128 {
            return Err(invalid_query("The maximum length for a tag Key is 128"));
        }
        let values: Vec<String> = match &f["Values"] {
            Value::Null => Vec::new(),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid_query("TagFilter Values must be strings."))?,
            _ => return Err(invalid_query("TagFilter Values must be a list.")),
        };
        if values.len() > 20 {
            return Err(invalid_query("The TagFilter Values list must contain between 0 and 20 elements"));
        }
        if values.iter().any(|v| v.chars().count() > 256) {
            return Err(invalid_query("The maximum length for a tag Value is 256"));
        }
        tag_filters.push((key.to_owned(), values));
    }
    Ok(TagQuery { resource_types: types, tag_filters })
}

impl TagQuery {
    /// Whether the query covers resources of `resource_type`.
    pub fn covers(&self, resource_type: &str) -> bool {
        self.resource_types
            .iter()
            .any(|t| t == resource_type || (t == ALL_SUPPORTED && SUPPORTED_TYPES.contains(&resource_type)))
    }

    /// Whether a resource of `resource_type` with `tags` is a member.
    pub fn matches(&self, resource_type: &str, tags: &[(String, String)]) -> bool {
        self.covers(resource_type)
            && self
                .tag_filters
                .iter()
                .all(|(key, values)| tags.iter().any(|(k, v)| k == key && (values.is_empty() || values.contains(v))))
    }

    /// Types the query names that Steward holds none of.
    pub fn unsupported_types(&self) -> Vec<&str> {
        self.resource_types
            .iter()
            .map(String::as_str)
            .filter(|t| *t != ALL_SUPPORTED && !SUPPORTED_TYPES.contains(t))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn keys_and_values_combine_as_resource_groups_does() {
        let q = parse(
            "TAG_FILTERS_1_0",
            r#"{"ResourceTypeFilters":["AWS::AllSupported"],"TagFilters":[{"Key":"Stage","Values":["Test","Beta"]},{"Key":"Storage"}]}"#,
        )
        .unwrap();
        let node = "AWS::SSM::ManagedInstance";
        assert!(q.matches(node, &tags(&[("Stage", "Beta"), ("Storage", "")])));
        assert!(!q.matches(node, &tags(&[("Stage", "Beta")])));
        assert!(!q.matches(node, &tags(&[("Stage", "Prod"), ("Storage", "x")])));
        assert!(!q.matches("AWS::EC2::Instance", &tags(&[("Stage", "Beta"), ("Storage", "")])));
        let only_docs =
            parse("TAG_FILTERS_1_0", r#"{"ResourceTypeFilters":["AWS::SSM::Document"],"TagFilters":[{"Key":"a"}]}"#)
                .unwrap();
        assert!(!only_docs.matches(node, &tags(&[("a", "1")])));
    }

    #[test]
    fn bad_queries_are_bad_requests() {
        for (kind, query) in [
            ("CLOUDFORMATION_STACK_1_0", "{}"),
            ("SQL", "{}"),
            ("TAG_FILTERS_1_0", "not json"),
            ("TAG_FILTERS_1_0", r#"{"ResourceTypeFilters":[],"TagFilters":[{"Key":"a"}]}"#),
            ("TAG_FILTERS_1_0", r#"{"ResourceTypeFilters":["AWS::AllSupported"],"TagFilters":[]}"#),
            ("TAG_FILTERS_1_0", r#"{"ResourceTypeFilters":["AWS::AllSupported"],"TagFilters":[{"Key":""}]}"#),
            ("TAG_FILTERS_1_0", r#"{"ResourceTypeFilters":["EC2"],"TagFilters":[{"Key":"a"}]}"#),
            (
                "TAG_FILTERS_1_0",
                r#"{"ResourceTypeFilters":["AWS::AllSupported","AWS::SSM::Document"],"TagFilters":[{"Key":"a"}]}"#,
            ),
        ] {
            let e = parse(kind, query).unwrap_err();
            assert_eq!(e.code(), "BadRequestException", "{kind} {query}");
        }
    }
}

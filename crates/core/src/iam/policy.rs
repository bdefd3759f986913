//! The IAM policy grammar: parsing and validating a JSON policy document.
//!
//! Accepted: `Version` (`2012-10-17` or `2008-10-17`, optional), `Id`, `Statement` (one
//! object or a list) with `Sid`, `Effect`, exactly one of `Action`/`NotAction`, exactly one
//! of `Resource`/`NotResource` (identity policies need one), `Condition`, and for trust
//! policies `Principal`/`NotPrincipal`. Anything else is `MalformedPolicyDocument`, with
//! IAM's wording where it has one.

use serde_json::Value;

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, above any Allow.
    Deny,
}

/// A list that matches what it names, or everything it does not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// `Action` / `Resource` / `Principal`.
    Is(Vec<String>),
    /// `NotAction` / `NotResource` / `NotPrincipal`.
    IsNot(Vec<String>),
}

/// How a condition combines a multi-valued request key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// No qualifier: a single-valued key (or any of several values).
    Single,
    /// `ForAnyValue:`: at least one request value matches.
    AnyValue,
    /// `ForAllValues:`: every request value matches (true when there are none).
    AllValues,
}

/// One `operator: {key: values}` test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator without qualifier or `IfExists`, e.g. `StringLike`.
    pub operator: String,
    /// `…IfExists`: a missing key passes.
    pub if_exists: bool,
    /// `ForAnyValue:` / `ForAllValues:`.
    pub set: SetQualifier,
    /// The context key, e.g. `aws:SourceIp` (keys compare case-insensitively).
    pub key: String,
    /// The policy's values (any one may match).
    pub values: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Optional id.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// Which actions.
    pub action: Matcher,
    /// Which resources (`None` in trust policies).
    pub resource: Option<Matcher>,
    /// Which principals (trust policies only).
    pub principal: Option<Matcher>,
    /// Every condition must hold.
    pub conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `2012-10-17` (policy variables work) or `2008-10-17`.
    pub version: String,
    /// Statements in order.
    pub statements: Vec<Statement>,
}

/// Which kind of policy a document is parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Attached to users, groups and roles: needs Resource, forbids Principal.
    Identity,
    /// A role's trust policy: needs Principal, forbids Resource.
    Trust,
}

/// Condition operators this engine evaluates.
pub const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

fn malformed(message: impl Into<String>) -> String {
    message.into()
}

fn string_list(value: &Value, what: &str) -> Result<Vec<String>, String> {
    let list = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => Err(malformed(format!("{what} must hold strings."))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(malformed(format!("{what} must be a string or a list of strings."))),
    };
    if list.is_empty() {
        return Err(malformed(format!("{what} must not be empty.")));
    }
    Ok(list)
}

fn condition_values(value: &Value) -> Result<Vec<String>, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(malformed("Condition values must be strings, numbers or booleans.")),
    };
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

fn check_action(action: &str) -> Result<(), String> {
    if action == "*" {
        return Ok(());
    }
    match action.split_once(':') {
        Some((service, name))
            if !service.is_empty()
                && !name.is_empty()
                && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Ok(())
        }
        _ => Err(malformed(format!(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. ({action})"
        ))),
    }
}

fn check_resource(resource: &str) -> Result<(), String> {
    if resource == "*" || resource.starts_with("arn:") && resource.split(':').count() >= 6 {
        Ok(())
    } else {
        Err(malformed(format!("Resource {resource} must be in ARN format or \"*\".")))
    }
}

fn principal_matcher(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) if s == "*" => Ok(vec!["*".into()]),
        Value::Object(map) => {
            let mut out = Vec::new();
            for (kind, ids) in map {
                if !matches!(kind.as_str(), "AWS" | "Service" | "Federated" | "CanonicalUser") {
                    return Err(malformed(format!("Invalid principal type {kind}.")));
                }
                for id in string_list(ids, "Principal")? {
                    out.push(format!("{kind}:{id}"));
                }
            }
            Ok(out)
        }
        _ => Err(malformed("Principal must be \"*\" or an object.")),
    }
}

fn parse_conditions(value: &Value) -> Result<Vec<Condition>, String> {
    let map = value.as_object().ok_or_else(|| malformed("Condition must be an object."))?;
    let mut out = Vec::new();
    for (raw_operator, tests) in map {
        let (set, rest) = if let Some(r) = raw_operator.strip_prefix("ForAnyValue:") {
            (SetQualifier::AnyValue, r)
        } else if let Some(r) = raw_operator.strip_prefix("ForAllValues:") {
            (SetQualifier::AllValues, r)
        } else {
            (SetQualifier::Single, raw_operator.as_str())
        };
        let (operator, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) if base != "Null" => (base, true),
            _ => (rest, false),
        };
        if !OPERATORS.contains(&operator) {
            return Err(malformed(format!("Invalid Condition type : {raw_operator}.")));
        }
        let tests =
            tests.as_object().ok_or_else(|| malformed(format!("Condition {raw_operator} must be an object.")))?;
        for (key, values) in tests {
            if !key.contains(':') {
                return Err(malformed(format!("Condition key {key} must be prefaced by a vendor, e.g. aws:.")));
            }
            out.push(Condition {
                operator: operator.to_owned(),
                if_exists,
                set,
                key: key.clone(),
                values: condition_values(values)?,
            });
        }
    }
    Ok(out)
}

fn parse_statement(value: &Value, kind: Kind) -> Result<Statement, String> {
    let map = value.as_object().ok_or_else(|| malformed("Each Statement must be an object."))?;
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
                | "Principal"
                | "NotPrincipal"
        ) {
            return Err(malformed(format!("Statement contains an unknown element {key}.")));
        }
    }
    let effect = match map.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => return Err(malformed(format!("Invalid effect: {other}"))),
        None => return Err(malformed("Missing required field Effect")),
    };
    let action = match (map.get("Action"), map.get("NotAction")) {
        (Some(a), None) => Matcher::Is(string_list(a, "Action")?),
        (None, Some(a)) => Matcher::IsNot(string_list(a, "NotAction")?),
        (None, None) => return Err(malformed("Policy statement must contain actions.")),
        (Some(_), Some(_)) => return Err(malformed("Statement cannot contain both Action and NotAction.")),
    };
    let actions = match &action {
        Matcher::Is(v) | Matcher::IsNot(v) => v,
    };
    for a in actions {
        check_action(a)?;
    }
    let resource = match (map.get("Resource"), map.get("NotResource")) {
        (Some(r), None) => Some(Matcher::Is(string_list(r, "Resource")?)),
        (None, Some(r)) => Some(Matcher::IsNot(string_list(r, "NotResource")?)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(malformed("Statement cannot contain both Resource and NotResource.")),
    };
    let principal = match (map.get("Principal"), map.get("NotPrincipal")) {
        (Some(p), None) => Some(Matcher::Is(principal_matcher(p)?)),
        (None, Some(p)) => Some(Matcher::IsNot(principal_matcher(p)?)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(malformed("Statement cannot contain both Principal and NotPrincipal.")),
    };
    match kind {
        Kind::Identity => {
            let Some(r) = &resource else {
                return Err(malformed("Policy statement must contain resources."));
            };
            if principal.is_some() {
                return Err(malformed("Policy document should not specify a principal."));
            }
            let (Matcher::Is(list) | Matcher::IsNot(list)) = r;
            for item in list {
                check_resource(item)?;
            }
        }
        Kind::Trust => {
            if principal.is_none() {
                return Err(malformed("Has prohibited field Resource or missing Principal in a trust policy."));
            }
        }
    }
    let conditions = match map.get("Condition") {
        Some(c) => parse_conditions(c)?,
        None => Vec::new(),
    };
    Ok(Statement {
        sid: map.get("Sid").and_then(Value::as_str).map(str::to_owned),
        effect,
        action,
        resource,
        principal,
        conditions,
    })
}

/// Parses a policy document; the error is the `MalformedPolicyDocument` message.
pub fn parse(text: &str, kind: Kind) -> Result<Policy, String> {
    let doc: Value = serde_json::from_str(text).map_err(|_| malformed("Syntax errors in policy."))?;
    let map = doc.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
    for key in map.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(malformed(format!("Policy document contains an unknown element {key}.")));
        }
    }
    let version = match map.get("Version") {
        None => "2008-10-17".to_owned(),
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => v.clone(),
        Some(_) => return Err(malformed("The policy failed legacy parsing")),
    };
    let statements = match map.get("Statement") {
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().map(|s| parse_statement(s, kind)).collect::<Result<Vec<_>, _>>()?
        }
        Some(single @ Value::Object(_)) => vec![parse_statement(single, kind)?],
        _ => return Err(malformed("Missing required field Statement")),
    };
    Ok(Policy { version, statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identity_policies() {
        let p = parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:Get*","Resource":"*",
               "Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*"]},"Bool":{"aws:SecureTransport":true}}}}"#,
            Kind::Identity,
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        let s = &p.statements[0];
        assert_eq!(s.effect, Effect::Allow);
        assert_eq!(s.action, Matcher::Is(vec!["ssm:Get*".into()]));
        assert_eq!(s.conditions.len(), 2);
        let c = s.conditions.iter().find(|c| c.key == "aws:TagKeys").unwrap();
        assert_eq!((c.operator.as_str(), c.if_exists, c.set), ("StringLike", true, SetQualifier::AnyValue));
        let b = s.conditions.iter().find(|c| c.key == "aws:SecureTransport").unwrap();
        assert_eq!(b.values, vec!["true".to_owned()]);
    }

    #[test]
    fn refuses_malformed_documents() {
        for (doc, why) in [
            ("not json", "Syntax errors"),
            ("[]", "Syntax errors"),
            (r#"{"Version":"2012-10-17"}"#, "Missing required field Statement"),
            (r#"{"Version":"2020-01-01","Statement":[]}"#, "legacy parsing"),
            (r#"{"Statement":[{"Action":"ssm:*","Resource":"*"}]}"#, "Missing required field Effect"),
            (r#"{"Statement":[{"Effect":"Maybe","Action":"ssm:*","Resource":"*"}]}"#, "Invalid effect"),
            (r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#, "must contain actions"),
            (r#"{"Statement":[{"Effect":"Allow","Action":"ssm:*"}]}"#, "must contain resources"),
            (r#"{"Statement":[{"Effect":"Allow","Action":"GetParameter","Resource":"*"}]}"#, "prefaced by a vendor"),
            (r#"{"Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"param"}]}"#, "ARN format"),
            (r#"{"Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"*","Bogus":1}]}"#, "unknown element"),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"*","Condition":{"Sometimes":{"a:b":"c"}}}]}"#,
                "Invalid Condition type",
            ),
            (r#"{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#, "must not be empty"),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"ssm:*","NotAction":"kms:*","Resource":"*"}]}"#,
                "both Action and NotAction",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ssm:*","Resource":"*"}]}"#,
                "should not specify a principal",
            ),
        ] {
            let err = parse(doc, Kind::Identity).unwrap_err();
            assert!(err.contains(why), "{doc}: {err}");
        }
    }

    #[test]
    fn trust_policies_need_a_principal() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
        let p = parse(ok, Kind::Trust).unwrap();
        assert_eq!(p.statements[0].principal, Some(Matcher::Is(vec!["AWS:arn:aws:iam::123456789012:root".into()])));
        assert!(parse(r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#, Kind::Trust).is_err());
    }
}

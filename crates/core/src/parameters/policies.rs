//! Parameter policies: Expiration, ExpirationNotification, NoChangeNotification.
//!
//! A policy set arrives as a JSON array in text. Each element is
//! `{"Type": T, "Version": "1.0", "Attributes": {...}}`; an empty array (or `[{}]`) clears
//! the policies of a parameter.

use serde_json::Value;
use steward_api::time::days_from_civil;

use crate::Fault;

/// Most policies one parameter may carry.
pub const MAX_POLICIES: usize = 10;

/// Days or hours, as the notification policies count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 24 hours.
    Days,
    /// 60 minutes.
    Hours,
}

impl Unit {
    fn millis(self) -> i64 {
        match self {
            Unit::Days => 86_400_000,
            Unit::Hours => 3_600_000,
        }
    }
}

/// What one policy does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Delete the parameter at this time (epoch ms).
    Expiration {
        /// When.
        at_millis: i64,
    },
    /// Notify this long before the expiration.
    ExpirationNotification {
        /// How long before.
        before_millis: i64,
    },
    /// Notify when unchanged this long.
    NoChangeNotification {
        /// How long after the last change.
        after_millis: i64,
    },
}

/// One policy, with the text it was given in (returned by DescribeParameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The rule.
    pub rule: Rule,
    /// The policy's JSON text.
    pub text: String,
}

impl Policy {
    /// `Expiration`, `ExpirationNotification` or `NoChangeNotification`.
    pub fn type_name(&self) -> &'static str {
        match self.rule {
            Rule::Expiration { .. } => "Expiration",
            Rule::ExpirationNotification { .. } => "ExpirationNotification",
            Rule::NoChangeNotification { .. } => "NoChangeNotification",
        }
    }

    /// When this policy next acts, given the expiration time (if any) and the parameter's
    /// last modification, both epoch ms.
    pub fn due_at(&self, expiration: Option<i64>, last_modified: i64) -> Option<i64> {
        match self.rule {
            Rule::Expiration { at_millis } => Some(at_millis),
            Rule::ExpirationNotification { before_millis } => expiration.map(|e| e - before_millis),
            Rule::NoChangeNotification { after_millis } => Some(last_modified + after_millis),
        }
    }
}

fn attribute<'a>(attrs: &'a Value, name: &str) -> Result<&'a str, Fault> {
    attrs.get(name).and_then(Value::as_str).ok_or_else(|| {
        Fault::InvalidPolicyAttribute(format!(
            "A policy attribute or its value is invalid: {name} is required and must be a string."
        ))
    })
}

fn duration(attrs: &Value, name: &str) -> Result<i64, Fault> {
    let amount: i64 = attribute(attrs, name)?.parse().ok().filter(|n: &i64| *n > 0).ok_or_else(|| {
        Fault::InvalidPolicyAttribute(format!(
            "A policy attribute or its value is invalid: {name} must be a positive whole number."
        ))
    })?;
    let unit = match attribute(attrs, "Unit")? {
        "Days" => Unit::Days,
        "Hours" => Unit::Hours,
        other => {
            return Err(Fault::InvalidPolicyAttribute(format!(
                "A policy attribute or its value is invalid: Unit {other} must be Days or Hours."
            )))
        }
    };
    amount.checked_mul(unit.millis()).ok_or_else(|| Fault::InvalidPolicyAttribute(format!("{name} is too large.")))
}

/// Parses ISO-8601 instants with `Z` or an offset (`+10:30` or `+10:30:00`), fractions allowed.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let parts: Vec<&str> = rest[1..].split(':').collect();
            if parts.len() < 2
                || parts.len() > 3
                || parts.iter().any(|p| p.len() != 2 || !p.bytes().all(|c| c.is_ascii_digit()))
            {
                return None;
            }
            let v: Vec<i64> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
            sign * (v[0] * 3600 + v[1] * 60 + v.get(2).copied().unwrap_or(0))
        }
    };
    let secs = days_from_civil(y, mo as u32, d as u32) * 86400 + h * 3600 + mi * 60 + s - offset_secs;
    Some(secs * 1000 + millis)
}

/// Parses and checks a policy set. `Ok(vec![])` clears the policies.
pub fn parse_policies(text: &str) -> Result<Vec<Policy>, Fault> {
    let invalid = || {
        Fault::InvalidPolicyAttribute(
            "A policy attribute or its value is invalid: Policies must be a JSON array of policy objects.".into(),
        )
    };
    let list: Vec<Value> =
        serde_json::from_str::<Value>(text).ok().and_then(|v| v.as_array().cloned()).ok_or_else(invalid)?;
    if list.len() > MAX_POLICIES {
        return Err(Fault::PoliciesLimit(format!(
            "You specified more than the maximum number of allowed policies for the parameter. The maximum is {MAX_POLICIES}."
        )));
    }
    let mut policies = Vec::new();
    for item in &list {
        let Some(object) = item.as_object() else {
            return Err(invalid());
        };
        if object.is_empty() {
            continue; // `[{}]` is the console's way of saying "no policies".
        }
        let kind = object.get("Type").and_then(Value::as_str).unwrap_or_default();
        if let Some(version) = object.get("Version") {
            if version.as_str() != Some("1.0") {
                return Err(Fault::InvalidPolicyAttribute(
                    "A policy attribute or its value is invalid: Version must be \"1.0\".".into(),
                ));
            }
        }
        let attrs = object.get("Attributes").filter(|a| a.is_object()).ok_or_else(|| {
            Fault::InvalidPolicyAttribute(
                "A policy attribute or its value is invalid: Attributes must be an object.".into(),
            )
        })?;
        let rule = match kind {
            "Expiration" => Rule::Expiration {
                at_millis: parse_timestamp(attribute(attrs, "Timestamp")?).ok_or_else(|| {
                    Fault::InvalidPolicyAttribute("A policy attribute or its value is invalid: Timestamp must be an ISO-8601 date and time, e.g. 2030-12-02T21:34:33.000Z.".into())
                })?,
            },
            "ExpirationNotification" => Rule::ExpirationNotification { before_millis: duration(attrs, "Before")? },
            "NoChangeNotification" => Rule::NoChangeNotification { after_millis: duration(attrs, "After")? },
            other => {
                return Err(Fault::InvalidPolicyType(format!(
                    "The policy type {other} isn't supported. Parameter Store supports the following policy types: Expiration, ExpirationNotification, and NoChangeNotification."
                )))
            }
        };
        policies.push(Policy { rule, text: item.to_string() });
    }
    let expirations = policies.iter().filter(|p| matches!(p.rule, Rule::Expiration { .. })).count();
    if expirations > 1 {
        return Err(Fault::IncompatiblePolicy("A parameter can have only one Expiration policy.".into()));
    }
    if expirations == 0 && policies.iter().any(|p| matches!(p.rule, Rule::ExpirationNotification { .. })) {
        return Err(Fault::IncompatiblePolicy(
            "An ExpirationNotification policy needs an Expiration policy on the same parameter.".into(),
        ));
    }
    Ok(policies)
}

/// The expiration time of a policy set, if it has one.
pub fn expiration_of(policies: &[Policy]) -> Option<i64> {
    policies.iter().find_map(|p| match p.rule {
        Rule::Expiration { at_millis } => Some(at_millis),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_timestamp("1970-01-01T10:30:00+10:30"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T10:30:00+10:30:00"), Some(0));
        for bad in ["", "1970-01-01", "1970-13-01T00:00:00Z", "1970-01-01T00:00:00", "1970-01-01T00:00:00+1"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn policy_sets() {
        let ok = r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-01-01T00:00:00.000Z"}},
                     {"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}},
                     {"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2","Unit":"Hours"}}]"#;
        let policies = parse_policies(ok).unwrap();
        assert_eq!(policies.len(), 3);
        let exp = expiration_of(&policies).unwrap();
        assert_eq!(policies[1].due_at(Some(exp), 0), Some(exp - 15 * 86_400_000));
        assert_eq!(policies[2].due_at(Some(exp), 1000), Some(1000 + 7_200_000));
        assert_eq!(parse_policies("[]").unwrap(), vec![]);
        assert_eq!(parse_policies("[{}]").unwrap(), vec![]);
        let cases: &[(&str, &str)] = &[
            ("{}", "attr"),
            ("not json", "attr"),
            (r#"[{"Type":"Rotate","Attributes":{}}]"#, "type"),
            (r#"[{"Type":"Expiration","Attributes":{}}]"#, "attr"),
            (r#"[{"Type":"Expiration","Attributes":{"Timestamp":"tomorrow"}}]"#, "attr"),
            (r#"[{"Type":"NoChangeNotification","Attributes":{"After":"-1","Unit":"Days"}}]"#, "attr"),
            (r#"[{"Type":"NoChangeNotification","Attributes":{"After":"1","Unit":"Weeks"}}]"#, "attr"),
            (
                r#"[{"Type":"Expiration","Attributes":{"Timestamp":"2030-01-01T00:00:00Z"}},{"Type":"Expiration","Attributes":{"Timestamp":"2031-01-01T00:00:00Z"}}]"#,
                "incompatible",
            ),
            (r#"[{"Type":"ExpirationNotification","Attributes":{"Before":"1","Unit":"Days"}}]"#, "incompatible"),
        ];
        for (text, kind) in cases {
            let got = match parse_policies(text).unwrap_err() {
                Fault::InvalidPolicyAttribute(_) => "attr",
                Fault::InvalidPolicyType(_) => "type",
                Fault::IncompatiblePolicy(_) => "incompatible",
                other => panic!("{other:?}"),
            };
            assert_eq!(got, *kind, "{text}");
        }
        let eleven = format!(
            "[{}]",
            [r#"{"Type":"NoChangeNotification","Attributes":{"After":"1","Unit":"Days"}}"#; 11].join(",")
        );
        assert!(matches!(parse_policies(&eleven), Err(Fault::PoliciesLimit(_))));
    }
}

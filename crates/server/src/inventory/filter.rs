//! Inventory filters: `TYPE.Attribute` with an operator and values, as GetInventory and
//! ListInventoryEntries take them.

use std::cmp::Ordering;

use steward_api::ssm::inventory::{InventoryEntry, InventoryFilter};
use steward_api::ApiError;

use super::schema;

/// How a value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Any of the values.
    Equal,
    /// None of the values.
    NotEqual,
    /// Starts with any of the values.
    BeginWith,
    /// Below the value.
    LessThan,
    /// Above the value.
    GreaterThan,
    /// The attribute (or, with key `TypeName`, the type) is there.
    Exists,
}

/// A parsed filter.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The type.
    pub type_name: String,
    /// The attribute; empty for a `TypeName` condition.
    pub attribute: String,
    /// The operator.
    pub operator: Operator,
    /// The values.
    pub values: Vec<String>,
}

fn invalid(message: String) -> ApiError {
    ApiError::new("InvalidFilter", message)
}

/// Parses a filter whose key is `TYPE.Attribute`; `custom` says whether a custom type
/// exists and has the attribute (`None`: no such type).
pub fn parse(filter: &InventoryFilter, custom: impl Fn(&str) -> Option<Vec<String>>) -> Result<Condition, ApiError> {
    let operator = operator(filter.kind.as_deref())?;
    let Some((type_name, attribute)) = filter.key.rsplit_once('.') else {
        return Err(invalid(format!(
            "The filter key {} isn't valid; use TYPE.Attribute, e.g. AWS:Application.Name.",
            filter.key
        )));
    };
    let known = match schema::built_in(type_name) {
        Some(b) => b.attributes.iter().any(|(a, _, _)| *a == attribute),
        None => match custom(type_name) {
            Some(attributes) => attributes.iter().any(|a| a == attribute),
            None => return Err(invalid(format!("The filter key {} names an unknown type {type_name}.", filter.key))),
        },
    };
    if !known {
        return Err(invalid(format!("{attribute} is not an attribute of {type_name}.")));
    }
    if matches!(operator, Operator::LessThan | Operator::GreaterThan) && filter.values.len() != 1 {
        return Err(invalid(format!("The filter {} takes exactly one value with {:?}.", filter.key, operator)));
    }
    Ok(Condition { type_name: type_name.into(), attribute: attribute.into(), operator, values: filter.values.clone() })
}

/// Parses the operator (Equal when absent).
pub fn operator(kind: Option<&str>) -> Result<Operator, ApiError> {
    Ok(match kind.unwrap_or("Equal") {
        "Equal" => Operator::Equal,
        "NotEqual" => Operator::NotEqual,
        "BeginWith" => Operator::BeginWith,
        "LessThan" => Operator::LessThan,
        "GreaterThan" => Operator::GreaterThan,
        "Exists" => Operator::Exists,
        other => return Err(invalid(format!("The filter type {other} isn't valid."))),
    })
}

/// Orders values as people read versions and numbers: runs of digits by their number,
/// the rest by text (`3.0.2` < `3.0.13`; `9` < `10`).
pub fn natural_order(a: &str, b: &str) -> Ordering {
    if let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) {
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (run(a), run(b));
                let trim = |s: &[u8]| {
                    let z = s.iter().take_while(|c| **c == b'0').count();
                    s[z..].to_vec()
                };
                let (da, db) = (trim(&a[..na]), trim(&b[..nb]));
                let order = da.len().cmp(&db.len()).then_with(|| da.cmp(&db));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

impl Condition {
    /// Whether one value meets the condition.
    pub fn accepts(&self, value: &str) -> bool {
        match self.operator {
            Operator::Equal => self.values.iter().any(|v| v == value),
            Operator::NotEqual => self.values.iter().all(|v| v != value),
            Operator::BeginWith => self.values.iter().any(|v| value.starts_with(v.as_str())),
            Operator::LessThan => natural_order(value, &self.values[0]) == Ordering::Less,
            Operator::GreaterThan => natural_order(value, &self.values[0]) == Ordering::Greater,
            Operator::Exists => true,
        }
    }

    /// Whether an entry meets the condition.
    pub fn accepts_entry(&self, entry: &InventoryEntry) -> bool {
        entry.get(&self.attribute).is_some_and(|v| self.accepts(v))
    }

    /// Whether the attribute is indexed (so the index answers the condition).
    pub fn indexed(&self) -> bool {
        schema::indexed(&self.type_name, &self.attribute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(key: &str, values: &[&str], kind: &str) -> InventoryFilter {
        InventoryFilter {
            key: key.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            kind: Some(kind.into()),
        }
    }

    #[test]
    fn keys_operators_and_versions() {
        let none = |_: &str| None;
        let c = parse(&filter("AWS:Application.Version", &["3.0.13"], "LessThan"), none).unwrap();
        assert!(c.accepts("3.0.2") && !c.accepts("3.0.13") && !c.accepts("3.1"));
        assert!(parse(&filter("AWS:Application", &["x"], "Equal"), none).is_err());
        assert!(parse(&filter("AWS:Nope.Name", &["x"], "Equal"), none).is_err());
        assert!(parse(&filter("AWS:Application.Colour", &["x"], "Equal"), none).is_err());
        assert!(parse(&filter("AWS:Application.Name", &["a", "b"], "GreaterThan"), none).is_err());
        let custom = |t: &str| (t == "Custom:Rack").then(|| vec!["Row".to_owned()]);
        assert!(parse(&filter("Custom:Rack.Row", &["1"], "Equal"), custom).is_ok());
        assert_eq!(natural_order("10", "9"), Ordering::Greater);
        assert_eq!(natural_order("1.10-1", "1.9-2"), Ordering::Greater);
        assert_eq!(natural_order("abc", "abd"), Ordering::Less);
    }
}

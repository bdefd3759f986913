//! `aws:branch`: the first choice whose condition holds names the next step, else
//! `Default`. Conditions compare a `Variable` (already interpolated) with one operator, or
//! combine conditions with `And`, `Or` and `Not`.

use serde_json::Value;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn boolean(v: &Value) -> Option<bool> {
    v.as_bool().or_else(|| match v.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    })
}

const OPERATORS: &[&str] = &[
    "StringEquals",
    "EqualsIgnoreCase",
    "StartsWith",
    "EndsWith",
    "Contains",
    "NumericEquals",
    "NumericGreater",
    "NumericLesser",
    "NumericGreaterOrEquals",
    "NumericLesserOrEquals",
    "BooleanEquals",
];

/// Whether `condition` holds; why not, when it cannot be evaluated.
pub fn holds(condition: &Value) -> Result<bool, String> {
    if let Some(all) = condition.get("And") {
        let parts = all.as_array().ok_or("And must be a list of conditions.")?;
        for part in parts {
            if !holds(part)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = condition.get("Or") {
        let parts = any.as_array().ok_or("Or must be a list of conditions.")?;
        for part in parts {
            if holds(part)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(inner) = condition.get("Not") {
        return Ok(!holds(inner)?);
    }
    let variable = condition.get("Variable").ok_or("A choice needs a Variable, or And, Or or Not.")?;
    let (op, expected) = OPERATORS
        .iter()
        .find_map(|op| condition.get(*op).map(|v| (*op, v)))
        .ok_or("A choice needs one operator (StringEquals, NumericGreater, BooleanEquals, …).")?;
    let numeric = |f: fn(f64, f64) -> bool| -> Result<bool, String> {
        let (a, b) = (number(variable), number(expected));
        match (a, b) {
            (Some(a), Some(b)) => Ok(f(a, b)),
            _ => Err(format!("{op} compares numbers; got {} and {}.", text(variable), text(expected))),
        }
    };
    let (value, wanted) = (text(variable), text(expected));
    Ok(match op {
        "StringEquals" => value == wanted,
        "EqualsIgnoreCase" => value.to_lowercase() == wanted.to_lowercase(),
        "StartsWith" => value.starts_with(&wanted),
        "EndsWith" => value.ends_with(&wanted),
        "Contains" => match variable {
            Value::Array(items) => items.iter().any(|i| text(i) == wanted),
            _ => value.contains(&wanted),
        },
        "NumericEquals" => numeric(|a, b| a == b)?,
        "NumericGreater" => numeric(|a, b| a > b)?,
        "NumericLesser" => numeric(|a, b| a < b)?,
        "NumericGreaterOrEquals" => numeric(|a, b| a >= b)?,
        "NumericLesserOrEquals" => numeric(|a, b| a <= b)?,
        _ => match (boolean(variable), boolean(expected)) {
            (Some(a), Some(b)) => a == b,
            _ => return Err(format!("BooleanEquals compares booleans; got {value} and {wanted}.")),
        },
    })
}

/// The step an `aws:branch` step goes to: the first choice that holds, else `Default`.
pub fn choose(inputs: &Value) -> Result<String, String> {
    let choices = inputs["Choices"].as_array().ok_or("aws:branch needs Choices.")?;
    for choice in choices {
        if holds(choice)? {
            return choice["NextStep"].as_str().map(str::to_owned).ok_or_else(|| "A choice has no NextStep.".into());
        }
    }
    inputs["Default"].as_str().map(str::to_owned).ok_or_else(|| "No choice held and there is no Default.".into())
}

/// Every step a branch may go to.
pub fn targets(inputs: &Value) -> Vec<String> {
    let mut out: Vec<String> = inputs["Choices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["NextStep"].as_str())
        .map(str::to_owned)
        .collect();
    out.extend(inputs["Default"].as_str().map(str::to_owned));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_first_choice_that_holds_wins() {
        let inputs = json!({"Choices": [
            {"NextStep": "big", "Variable": "12", "NumericGreater": 10},
            {"NextStep": "never", "Variable": "12", "NumericGreater": 1},
        ], "Default": "small"});
        assert_eq!(choose(&inputs).unwrap(), "big");
        let inputs = json!({"Choices": [{"NextStep": "big", "Variable": 3, "NumericGreater": 10}], "Default": "small"});
        assert_eq!(choose(&inputs).unwrap(), "small");
    }

    #[test]
    fn conditions_combine() {
        let c = json!({"And": [
            {"Variable": "Prod-Web", "StartsWith": "Prod"},
            {"Not": {"Variable": "Prod-Web", "EqualsIgnoreCase": "prod-db"}},
            {"Or": [{"Variable": true, "BooleanEquals": false}, {"Variable": ["a", "b"], "Contains": "b"}]},
        ]});
        assert!(holds(&c).unwrap());
        assert!(holds(&json!({"Variable": "x", "NumericEquals": 1})).is_err());
        assert!(holds(&json!({"Variable": "x"})).is_err());
        assert!(choose(&json!({"Choices": [{"NextStep": "a", "Variable": "x", "StringEquals": "y"}]})).is_err());
    }
}

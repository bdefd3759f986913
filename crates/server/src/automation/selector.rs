//! The JSONPath subset runbooks select outputs with: `$`, `.Name`, `[N]` and `[*]` (every
//! item; later parts apply to each, and the matches make a list), as in
//! `$.Payload.a.b[0]` or `$.InstanceInformationList[*].PingStatus`.

use serde_json::Value;

/// What `selector` picks out of `root`: one value, or a list when `[*]` was used; none
/// when the path leads nowhere or the selector is not one this subset reads.
pub fn select(root: &Value, selector: &str) -> Option<Value> {
    let rest = selector.trim().strip_prefix('$')?;
    let mut spread = false;
    let mut at = vec![root.clone()];
    let mut rest = rest;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() {
                return None;
            }
            at = at.iter().filter_map(|v| v.get(name).cloned()).collect();
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let index = after[..end].trim();
            at = if index == "*" {
                spread = true;
                at.iter().filter_map(Value::as_array).flatten().cloned().collect()
            } else {
                let i = index.parse::<usize>().ok()?;
                at.iter().filter_map(|v| v.get(i).cloned()).collect()
            };
            rest = &after[end + 1..];
        } else {
            return None;
        }
        if at.is_empty() && !spread {
            return None;
        }
    }
    if spread {
        Some(Value::Array(at))
    } else {
        at.into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selectors_read_paths() {
        let v = json!({"Payload": {"a": {"b": [10, {"c": "x"}]}}});
        assert_eq!(select(&v, "$.Payload.a.b[0]"), Some(json!(10)));
        assert_eq!(select(&v, "$.Payload.a.b[1].c"), Some(json!("x")));
        assert_eq!(select(&v, "$"), Some(v.clone()));
        assert_eq!(select(&v, "$.Payload.z"), None);
        assert_eq!(select(&v, "Payload"), None);
        assert_eq!(select(&v, "$..a"), None);
    }

    #[test]
    fn a_star_spreads_a_list() {
        let v = json!({"L": [{"S": "Online"}, {"S": "ConnectionLost"}, {"T": 1}]});
        assert_eq!(select(&v, "$.L[*].S"), Some(json!(["Online", "ConnectionLost"])));
        assert_eq!(select(&v, "$.L[*].Z"), Some(json!([])));
        assert_eq!(select(&v, "$.Q[*]"), None);
    }
}

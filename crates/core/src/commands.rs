//! Run Command rules: rate control and status aggregation.

/// Turns MaxConcurrency / MaxErrors text (`10` or `25%`) into a count for `targets` targets.
/// A percentage rounds down but a non-zero percentage of a non-empty set is at least 1.
pub fn limit(text: &str, targets: usize) -> Option<usize> {
    match text.strip_suffix('%') {
        Some(pct) => {
            let pct: usize = pct.parse().ok().filter(|p| *p <= 100)?;
            let n = targets * pct / 100;
            Some(if pct > 0 && targets > 0 { n.max(1) } else { n })
        }
        None => text.parse().ok(),
    }
}

/// Final statuses of an invocation.
pub fn is_terminal(status: &str) -> bool {
    matches!(status, "Success" | "Failed" | "TimedOut" | "Cancelled" | "Undeliverable" | "Terminated")
}

/// Whether an invocation counts as an error (ErrorCount, MaxErrors): failed or timed out
/// while running. Delivery timeouts are counted apart and never stop a fan-out.
pub fn is_error(status: &str, details: &str) -> bool {
    matches!(status, "Failed" | "TimedOut" | "Undeliverable" | "Terminated") && details != "DeliveryTimedOut"
}

/// The command's status from its invocations' statuses (SSM's aggregation): in progress
/// while any is not final; otherwise Success if all succeeded, else the "worst" outcome.
pub fn command_status<'a>(statuses: impl IntoIterator<Item = &'a str>) -> &'static str {
    let all: Vec<&str> = statuses.into_iter().collect();
    if all.iter().any(|s| !is_terminal(s)) {
        return if all.iter().all(|s| *s == "Pending") { "Pending" } else { "InProgress" };
    }
    if all.iter().all(|s| *s == "Success") {
        "Success"
    } else if all.iter().any(|s| *s == "Failed" || *s == "Undeliverable" || *s == "Terminated") {
        "Failed"
    } else if all.contains(&"TimedOut") {
        "TimedOut"
    } else {
        "Cancelled"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        for (text, targets, expected) in [
            ("50", 10, Some(50)),
            ("50%", 10, Some(5)),
            ("1%", 10, Some(1)),
            ("0", 3, Some(0)),
            ("0%", 3, Some(0)),
            ("100%", 7, Some(7)),
            ("x", 1, None),
            ("101%", 1, None),
        ] {
            assert_eq!(limit(text, targets), expected, "{text} of {targets}");
        }
    }

    #[test]
    fn errors() {
        assert!(is_error("Failed", "Failed"));
        assert!(is_error("TimedOut", "ExecutionTimedOut"));
        assert!(!is_error("TimedOut", "DeliveryTimedOut"));
        assert!(!is_error("Success", "Success"));
    }

    #[test]
    fn aggregation() {
        assert_eq!(command_status(["Pending", "Pending"]), "Pending");
        assert_eq!(command_status(["Success", "InProgress"]), "InProgress");
        assert_eq!(command_status(["Success", "Success"]), "Success");
        assert_eq!(command_status(["Success", "Failed"]), "Failed");
        assert_eq!(command_status(["Success", "TimedOut"]), "TimedOut");
        assert_eq!(command_status(["Cancelled", "Success"]), "Cancelled");
        assert_eq!(command_status([]), "Success");
    }
}

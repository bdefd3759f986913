//! Version labels.

/// Most labels one version may carry.
pub const MAX_LABELS_PER_VERSION: usize = 10;

/// Whether a label obeys SSM's rules: at most 100 characters of letters, digits, `.`, `-`,
/// `_`; not starting with a digit, nor with `aws` or `ssm` in any case. Labels that break
/// them are reported back in `InvalidLabels`, not as an error.
pub fn is_valid_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    !label.is_empty()
        && label.chars().count() <= 100
        && label.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !label.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_rules() {
        for (label, ok) in [
            ("prod", true),
            ("Release-1.2_b", true),
            ("9abc", false),
            ("awsabc", false),
            ("SSMabc", false),
            ("abc/123", false),
            ("a b", false),
            ("", false),
        ] {
            assert_eq!(super::is_valid_label(label), ok, "{label}");
        }
        assert!(!super::is_valid_label(&"a".repeat(101)));
    }
}

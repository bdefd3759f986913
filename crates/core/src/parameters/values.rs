//! Values: tiers and their size limits, AllowedPattern, DataType, and what a value may hold.

use crate::Fault;

/// Value limit of the Standard tier, in characters.
pub const STANDARD_MAX_CHARS: usize = 4096;
/// Value limit of the Advanced tier, in characters.
pub const ADVANCED_MAX_CHARS: usize = 8192;

/// A storage tier. Intelligent-Tiering is a request, never a stored tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Up to 4 KB, no policies.
    Standard,
    /// Up to 8 KB, policies allowed.
    Advanced,
}

impl Tier {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "Standard",
            Tier::Advanced => "Advanced",
        }
    }

    /// Parses a stored tier name.
    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "Standard" => Some(Tier::Standard),
            "Advanced" => Some(Tier::Advanced),
            _ => None,
        }
    }
}

/// Decides the tier of a put: the one requested (`Standard`, `Advanced`,
/// `Intelligent-Tiering`) or, when none is, the current one (Standard for a new parameter).
/// An Advanced parameter never goes back to Standard.
pub fn resolve_tier(
    requested: Option<&str>,
    current: Option<Tier>,
    value: &str,
    has_policies: bool,
) -> Result<Tier, Fault> {
    let chars = value.chars().count();
    let needs_advanced = chars > STANDARD_MAX_CHARS || has_policies;
    let tier = match requested {
        Some("Advanced") => Tier::Advanced,
        Some("Intelligent-Tiering") if needs_advanced || current == Some(Tier::Advanced) => Tier::Advanced,
        Some("Intelligent-Tiering") => Tier::Standard,
        Some("Standard") => Tier::Standard,
        Some(other) => return Err(Fault::Invalid(format!("The tier {other} is not valid."))),
        None => current.unwrap_or(Tier::Standard),
    };
    if tier == Tier::Standard && current == Some(Tier::Advanced) {
        return Err(Fault::Invalid("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter. Be aware that standard parameters have a value limit of 4096 characters.".into()));
    }
    match tier {
        Tier::Standard if chars > STANDARD_MAX_CHARS => Err(Fault::Invalid(format!(
            "Standard tier parameters support a maximum parameter value of {STANDARD_MAX_CHARS} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier."
        ))),
        Tier::Standard if has_policies => Err(Fault::Invalid(
            "Parameter policies are supported only for the advanced-parameter tier. Upgrade the parameter to the advanced-parameter tier to use policies.".into(),
        )),
        Tier::Advanced if chars > ADVANCED_MAX_CHARS => Err(Fault::Invalid(format!(
            "Advanced tier parameters support a maximum parameter value of {ADVANCED_MAX_CHARS} characters."
        ))),
        tier => Ok(tier),
    }
}

/// Checks what any value may hold: not empty, no nested `{{ }}` references.
pub fn check_value(value: &str) -> Result<(), Fault> {
    if value.is_empty() {
        return Err(Fault::Invalid(
            "1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
        ));
    }
    if let Some(start) = value.find("{{") {
        if value[start..].contains("}}") {
            return Err(Fault::Invalid(
                "Parameter value can't nest another parameter. Do not use \"{{}}\" in the value.".into(),
            ));
        }
    }
    Ok(())
}

/// Compiles an AllowedPattern.
pub fn compile_pattern(pattern: &str) -> Result<regex::Regex, Fault> {
    regex::Regex::new(pattern).map_err(|_| {
        Fault::InvalidAllowedPattern(format!("The allowed pattern {pattern} is not a valid regular expression."))
    })
}

/// Checks a value against an AllowedPattern (the whole value must match, as in Java).
pub fn check_pattern(pattern: &str, value: &str) -> Result<(), Fault> {
    let re = compile_pattern(&format!("^(?:{pattern})$"))?;
    if re.is_match(value) {
        Ok(())
    } else {
        Err(Fault::PatternMismatch(format!("Parameter value, cannot be validated against allowedPattern: {pattern}")))
    }
}

/// Checks a DataType and the value's format for it; returns the data type to store.
pub fn check_data_type(data_type: Option<&str>, kind: &str, value: &str) -> Result<String, Fault> {
    let data_type = data_type.filter(|d| !d.is_empty()).unwrap_or("text");
    match data_type {
        "text" => Ok(data_type.to_owned()),
        "aws:ec2:image" if kind != "String" => {
            Err(Fault::Invalid(format!("The data type {data_type} is supported only for parameters of type String.")))
        }
        // Integrations hold a webhook's URL and headers (often a token): always encrypted.
        "aws:ssm:integration" if kind != "SecureString" => Err(Fault::Invalid(format!(
            "The data type {data_type} is supported only for parameters of type SecureString."
        ))),
        "aws:ec2:image" => {
            let ok = value
                .strip_prefix("ami-")
                .is_some_and(|id| (8..=17).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric()));
            if ok {
                Ok(data_type.to_owned())
            } else {
                Err(Fault::Invalid(format!(
                    "Parameter value {value} is not a valid image id for data type aws:ec2:image. Image ids look like ami-12345678."
                )))
            }
        }
        "aws:ssm:integration" => Ok(data_type.to_owned()),
        other => Err(Fault::Invalid(format!(
            "The following data type is not supported: {other} (Data type names are all lowercase.)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers() {
        let big = "x".repeat(5000);
        let huge = "x".repeat(9000);
        assert_eq!(resolve_tier(None, None, "v", false), Ok(Tier::Standard));
        assert_eq!(resolve_tier(Some("Advanced"), None, &big, false), Ok(Tier::Advanced));
        assert_eq!(resolve_tier(Some("Intelligent-Tiering"), None, &big, false), Ok(Tier::Advanced));
        assert_eq!(resolve_tier(Some("Intelligent-Tiering"), None, "v", false), Ok(Tier::Standard));
        assert_eq!(resolve_tier(Some("Intelligent-Tiering"), None, "v", true), Ok(Tier::Advanced));
        assert_eq!(resolve_tier(None, Some(Tier::Advanced), "v", false), Ok(Tier::Advanced));
        assert!(resolve_tier(None, None, &big, false).is_err());
        assert!(resolve_tier(Some("Standard"), Some(Tier::Advanced), "v", false).is_err());
        assert!(resolve_tier(Some("Advanced"), None, &huge, false).is_err());
        assert!(resolve_tier(Some("Standard"), None, "v", true).is_err());
        assert_eq!(resolve_tier(None, None, &"é".repeat(4096), false), Ok(Tier::Standard), "limits count characters");
    }

    #[test]
    fn patterns_and_values() {
        assert!(check_pattern("^\\d+$", "123").is_ok());
        assert!(matches!(check_pattern("\\d+", "12a"), Err(Fault::PatternMismatch(_))));
        assert!(matches!(check_pattern("(", "x"), Err(Fault::InvalidAllowedPattern(_))));
        assert!(check_value("{{ssm:/x}}").is_err());
        assert!(check_value("{ not nested }").is_ok());
        assert!(check_value("").is_err());
    }

    #[test]
    fn data_types() {
        assert_eq!(check_data_type(None, "String", "x").unwrap(), "text");
        assert!(check_data_type(Some("aws:ec2:image"), "String", "ami-12345678").is_ok());
        assert!(check_data_type(Some("aws:ec2:image"), "String", "ami-1").is_err());
        assert!(check_data_type(Some("aws:ec2:image"), "SecureString", "ami-12345678").is_err());
        assert!(check_data_type(Some("aws:ssm:integration"), "SecureString", "{}").is_ok());
        assert!(check_data_type(Some("aws:ssm:integration"), "String", "{}").is_err());
        assert!(check_data_type(Some("Text"), "String", "x").is_err());
    }
}

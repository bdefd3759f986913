//! Parameter names, paths and selectors.
//!
//! `foo` and `/foo` name the same parameter: [`key_of`] strips the leading slash to form
//! the storage key, and ARNs never contain `parameter//`.

use crate::Fault;

/// Most levels a name may have.
pub const MAX_LEVELS: usize = 15;
/// Most characters of the ARN up to and including the name.
pub const MAX_ARN_LENGTH: usize = 1011;

const BAD_PATH_NAME: &str = "Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn reserved(segment: &str) -> bool {
    let lower = segment.get(..3).map(str::to_ascii_lowercase);
    matches!(lower.as_deref(), Some("aws") | Some("ssm"))
}

/// Whether a name is reserved for AWS-published parameters (`/aws/...`), which callers may
/// read but never write.
pub fn is_reserved_aws_path(name: &str) -> bool {
    name.strip_prefix('/').is_some_and(|rest| rest.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("aws")))
}

/// Checks a name for creation or lookup (no selector).
pub fn check_name(name: &str) -> Result<(), Fault> {
    let body = name.strip_prefix('/').unwrap_or(name);
    let hierarchical = name.starts_with('/');
    if body.is_empty() || body.contains(char::is_whitespace) {
        return Err(Fault::Invalid(BAD_PATH_NAME.into()));
    }
    if !hierarchical && body.contains('/') {
        return Err(Fault::Invalid(
            "Parameter name must be a fully qualified name: a name with a hierarchy must begin with a forward slash (/).".into(),
        ));
    }
    let segments: Vec<&str> = body.split('/').collect();
    if segments.iter().any(|s| s.is_empty() || !s.chars().all(valid_char)) {
        return Err(Fault::Invalid(BAD_PATH_NAME.into()));
    }
    if reserved(segments[0]) {
        let text = if hierarchical {
            BAD_PATH_NAME
        } else {
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive)."
        };
        return Err(Fault::Invalid(text.into()));
    }
    if segments.len() > MAX_LEVELS {
        return Err(Fault::HierarchyTooDeep(format!(
            "A hierarchy can have a maximum of {MAX_LEVELS} levels. The name {name} has {} levels.",
            segments.len()
        )));
    }
    Ok(())
}

/// Checks the name's length once its ARN prefix is known.
pub fn check_arn_length(arn: &str) -> Result<(), Fault> {
    if arn.chars().count() > MAX_ARN_LENGTH {
        return Err(Fault::Invalid(format!(
            "Parameter name is too long: with its ARN prefix it may have at most {MAX_ARN_LENGTH} characters."
        )));
    }
    Ok(())
}

/// The storage key of a name: `foo` and `/foo` are one parameter.
pub fn key_of(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

/// The ARN of a parameter.
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:ssm:{region}:{account}:parameter/{}", key_of(name))
}

/// Accepts a name or a parameter ARN of this account and region, returning the name.
pub fn strip_arn<'a>(name: &'a str, region: &str, account: &str) -> Option<&'a str> {
    match name.strip_prefix("arn:") {
        None => Some(name),
        Some(_) => {
            let prefix = format!("arn:aws:ssm:{region}:{account}:parameter");
            let rest = name.strip_prefix(&prefix)?;
            // `…:parameter/a/b` names `/a/b`; a single-level name keeps its slash-less form.
            let body = rest.strip_prefix('/')?;
            if body.contains('/') {
                Some(rest)
            } else {
                Some(body)
            }
        }
    }
}

/// What a `name:selector` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The latest version.
    Latest,
    /// A version number.
    Version(i64),
    /// The version carrying a label.
    Label(String),
}

/// Splits `name`, `name:3` or `name:label`. A name with more than one `:` selector, or an
/// empty selector, is not found rather than invalid, as in SSM.
pub fn parse_selector(input: &str) -> Option<(&str, Selector)> {
    let Some((name, selector)) = input.split_once(':') else {
        return Some((input, Selector::Latest));
    };
    if selector.is_empty() || selector.contains(':') {
        return None;
    }
    if selector.bytes().all(|b| b.is_ascii_digit()) {
        return selector.parse().ok().map(|v| (name, Selector::Version(v)));
    }
    Some((name, Selector::Label(selector.to_owned())))
}

/// Splits a lookup — a name or a parameter ARN of this account and region, either with an
/// optional `:version` or `:label` — into the name, the selector and the selector's text
/// (`":3"`, or `""` for none). `None` when it cannot name any parameter.
pub fn parse_lookup<'a>(input: &'a str, region: &str, account: &str) -> Option<(&'a str, Selector, &'a str)> {
    let (name_part, selector_text) = match input.strip_prefix("arn:") {
        None => input.find(':').map_or((input, ""), |i| (&input[..i], &input[i..])),
        Some(_) => {
            let prefix = format!("arn:aws:ssm:{region}:{account}:parameter");
            let rest = input.strip_prefix(&prefix)?;
            let (path, sel) = rest.find(':').map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
            let body = path.strip_prefix('/')?;
            (if body.contains('/') { path } else { body }, sel)
        }
    };
    let selector = match selector_text.strip_prefix(':') {
        None => Selector::Latest,
        Some(text) => parse_selector(&format!("x:{text}"))?.1,
    };
    Some((name_part, selector, selector_text))
}

/// Checks a GetParametersByPath path and returns its storage prefix (`""` for `/`, else `a/b/`).
pub fn path_prefix(path: &str) -> Result<String, Fault> {
    const BAD_PATH: &str = "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \\\"aws\\\" or \\\"ssm\\\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.";
    let Some(body) = path.strip_prefix('/') else {
        return Err(Fault::Invalid(BAD_PATH.into()));
    };
    if body.starts_with('/') {
        return Err(Fault::Invalid(BAD_PATH.into()));
    }
    let body = body.strip_suffix('/').unwrap_or(body);
    if body.is_empty() {
        return Ok(String::new());
    }
    let segments: Vec<&str> = body.split('/').collect();
    if segments.iter().any(|s| s.is_empty() || !s.chars().all(valid_char)) {
        return Err(Fault::Invalid(BAD_PATH.into()));
    }
    if segments.len() > MAX_LEVELS {
        return Err(Fault::HierarchyTooDeep(format!("A hierarchy can have a maximum of {MAX_LEVELS} levels.")));
    }
    Ok(format!("{body}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str) -> Result<(), &'static str> {
        check_name(name).map_err(|f| match f {
            Fault::HierarchyTooDeep(_) => "deep",
            _ => "invalid",
        })
    }

    #[test]
    fn names() {
        let deep15 = format!("/{}", (1..=15).map(|i| format!("l{i}")).collect::<Vec<_>>().join("/"));
        let deep16 = format!("/{}", (1..=16).map(|i| format!("l{i}")).collect::<Vec<_>>().join("/"));
        let cases: &[(&str, Result<(), &str>)] = &[
            ("foo", Ok(())),
            ("/foo", Ok(())),
            ("/app/prod/db-password_1.x", Ok(())),
            ("My.Param-1", Ok(())),
            (&deep15, Ok(())),
            (&deep16, Err("deep")),
            ("", Err("invalid")),
            ("/", Err("invalid")),
            ("a/b", Err("invalid")),
            ("/a//b", Err("invalid")),
            ("/a/b/", Err("invalid")),
            ("/a b", Err("invalid")),
            ("/a$b", Err("invalid")),
            ("awsThing", Err("invalid")),
            ("SSM-thing", Err("invalid")),
            ("/ssm/x", Err("invalid")),
            ("/AWS/x", Err("invalid")),
            ("/app/aws", Ok(())),
        ];
        for (name, expected) in cases {
            assert_eq!(&check(name), expected, "{name}");
        }
    }

    #[test]
    fn selectors() {
        assert_eq!(parse_selector("/a"), Some(("/a", Selector::Latest)));
        assert_eq!(parse_selector("/a:3"), Some(("/a", Selector::Version(3))));
        assert_eq!(parse_selector("/a:prod"), Some(("/a", Selector::Label("prod".into()))));
        assert_eq!(parse_selector("/a:1:2"), None);
        assert_eq!(parse_selector("/a:"), None);
    }

    #[test]
    fn lookups() {
        let (r, a) = ("us-east-1", "123456789012");
        assert_eq!(parse_lookup("/a/b:3", r, a), Some(("/a/b", Selector::Version(3), ":3")));
        assert_eq!(parse_lookup("foo", r, a), Some(("foo", Selector::Latest, "")));
        let arn = "arn:aws:ssm:us-east-1:123456789012:parameter/a/b:prod";
        assert_eq!(parse_lookup(arn, r, a), Some(("/a/b", Selector::Label("prod".into()), ":prod")));
        let single = "arn:aws:ssm:us-east-1:123456789012:parameter/foo";
        assert_eq!(parse_lookup(single, r, a), Some(("foo", Selector::Latest, "")));
        assert_eq!(parse_lookup("arn:aws:ssm:eu-west-1:123456789012:parameter/foo", r, a), None);
        assert_eq!(parse_lookup("/a:1:2", r, a), None);
    }

    #[test]
    fn keys_and_arns() {
        assert_eq!(key_of("/a/b"), "a/b");
        assert_eq!(key_of("foo"), "foo");
        assert_eq!(arn("us-east-1", "123456789012", "/a/b"), "arn:aws:ssm:us-east-1:123456789012:parameter/a/b");
        assert_eq!(arn("us-east-1", "123456789012", "foo"), "arn:aws:ssm:us-east-1:123456789012:parameter/foo");
        let a = "arn:aws:ssm:us-east-1:123456789012:parameter/a/b";
        assert_eq!(strip_arn(a, "us-east-1", "123456789012"), Some("/a/b"));
        assert_eq!(
            strip_arn("arn:aws:ssm:us-east-1:123456789012:parameter/foo", "us-east-1", "123456789012"),
            Some("foo")
        );
        assert_eq!(strip_arn(a, "eu-west-1", "123456789012"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(path_prefix("/").unwrap(), "");
        assert_eq!(path_prefix("/app").unwrap(), "app/");
        assert_eq!(path_prefix("/app/prod/").unwrap(), "app/prod/");
        for bad in ["app", "//", "/a//b", "/a$"] {
            assert!(path_prefix(bad).is_err(), "{bad}");
        }
    }
}

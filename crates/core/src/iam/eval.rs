//! Policy evaluation as IAM does it for identity policies: an explicit Deny wins, then an
//! Allow, otherwise the request is implicitly denied.
//!
//! Actions match case-insensitively, resources case-sensitively, both with `*` and `?`.
//! `${…}` policy variables (2012-10-17 policies only) are replaced from the request
//! context in resources and condition values; an unknown variable matches nothing.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::policy::{Condition, Effect, Matcher, Policy, SetQualifier, Statement};

/// What is being asked.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `service:Operation`.
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    /// Context keys (lower-cased) and their values; multi-valued keys have several.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    /// A request for `action` on `resource` with no context.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Request { action: action.into(), resource: resource.into(), context: BTreeMap::new() }
    }

    /// Adds a context key (stored lower-cased: keys compare case-insensitively).
    pub fn with(mut self, key: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.context.insert(key.to_ascii_lowercase(), values.into_iter().map(Into::into).collect());
        self
    }

    fn get(&self, key: &str) -> Option<&Vec<String>> {
        self.context.get(&key.to_ascii_lowercase())
    }
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows and none denies.
    Allow,
    /// A statement denies.
    ExplicitDeny,
    /// No statement allows.
    ImplicitDeny,
}

/// Evaluates `request` against every policy that applies to the caller.
pub fn evaluate<'a>(policies: impl IntoIterator<Item = &'a Policy>, request: &Request) -> Decision {
    let applicable = policies.into_iter().flat_map(|policy| {
        let variables = policy.version == "2012-10-17";
        policy.statements.iter().filter(move |statement| {
            // Actions first: they are short and rule out most statements.
            if !matches_list(&statement.action, |pattern| wildcard(pattern, &request.action, true)) {
                return false;
            }
            let resource_ok = match &statement.resource {
                Some(matcher) => matches_list(matcher, |pattern| {
                    let pattern = if variables { substitute(pattern, request) } else { Some(pattern.to_owned()) };
                    pattern.is_some_and(|p| wildcard(&p, &request.resource, false))
                }),
                None => true,
            };
            resource_ok && applies(statement, request, variables)
        })
    });
    decide(applicable)
}

/// Evaluates a trust policy: may a caller known by `principals` (e.g. `AWS:arn:…:user/x`,
/// `AWS:arn:aws:iam::123456789012:root`, `AWS:123456789012`) do `request` (e.g. assume)?
pub fn evaluate_trust(policy: &Policy, principals: &[String], request: &Request) -> Decision {
    let variables = policy.version == "2012-10-17";
    decide(policy.statements.iter().filter(|statement| {
        let named = statement.principal.as_ref().is_some_and(|principal| {
            matches_list(principal, |p| {
                p == "*" || p == "AWS:*" || principals.iter().any(|candidate| wildcard(p, candidate, false))
            })
        });
        named && applies(statement, request, variables)
    }))
}

/// Whether a statement's actions and conditions cover the request.
fn applies(statement: &Statement, request: &Request, variables: bool) -> bool {
    matches_list(&statement.action, |pattern| wildcard(pattern, &request.action, true))
        && statement.conditions.iter().all(|c| condition_holds(c, request, variables))
}

/// Any applicable Deny denies; otherwise any Allow allows; otherwise the implicit deny.
fn decide<'a>(applicable: impl IntoIterator<Item = &'a Statement>) -> Decision {
    let mut allowed = false;
    for statement in applicable {
        match statement.effect {
            Effect::Deny => return Decision::ExplicitDeny,
            Effect::Allow => allowed = true,
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn matches_list(matcher: &Matcher, matches: impl Fn(&str) -> bool) -> bool {
    match matcher {
        Matcher::Is(list) => list.iter().any(|p| matches(p)),
        Matcher::IsNot(list) => !list.iter().any(|p| matches(p)),
    }
}

/// `*` matches any run of characters, `?` any one.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    // Every request checks many patterns: ASCII (the usual case) is matched in place.
    if pattern.is_ascii() && text.is_ascii() {
        return wildcard_in(pattern.as_bytes(), text.as_bytes(), ignore_case);
    }
    let norm = |s: &str| if ignore_case { s.to_lowercase() } else { s.to_owned() };
    let (p, t): (Vec<char>, Vec<char>) = (norm(pattern).chars().collect(), norm(text).chars().collect());
    wildcard_in(&p, &t, false)
}

trait Glyph: Copy + PartialEq {
    fn is(self, c: char) -> bool;
    fn same(self, other: Self, ignore_case: bool) -> bool;
}

impl Glyph for u8 {
    fn is(self, c: char) -> bool {
        self == c as u8
    }
    fn same(self, other: Self, ignore_case: bool) -> bool {
        if ignore_case {
            self.eq_ignore_ascii_case(&other)
        } else {
            self == other
        }
    }
}

impl Glyph for char {
    fn is(self, c: char) -> bool {
        self == c
    }
    fn same(self, other: Self, _: bool) -> bool {
        self == other
    }
}

fn wildcard_in<G: Glyph>(p: &[G], t: &[G], ignore_case: bool) -> bool {
    // Iterative matching with backtracking to the last star: linear in practice.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi].is('?') || p[pi].same(t[ti], ignore_case)) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi].is('*') {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| c.is('*'))
}

/// Replaces `${key}` (and `${*}`, `${?}`, `${$}`) from the context; `None` when a key has
/// no single value, so the pattern matches nothing.
fn substitute(pattern: &str, request: &Request) -> Option<String> {
    if !pattern.contains("${") {
        return Some(pattern.to_owned());
    }
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        match name {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            key => match request.get(key).map(Vec::as_slice) {
                Some([single]) => out.push_str(single),
                _ => return None,
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn parse_ip_net(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match text.split_once('/') {
        Some((a, b)) => (a, b.parse().ok()?),
        None => (text, if text.contains(':') { 128 } else { 32 }),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_network(ip: &str, net: &str) -> bool {
    let (Ok(ip), Some((base, bits))) = (ip.parse::<IpAddr>(), parse_ip_net(net)) else { return false };
    match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Epoch seconds from an ISO 8601 date (`2026-01-02`, `2026-01-02T03:04:05Z`) or a number.
fn parse_date(text: &str) -> Option<f64> {
    if let Ok(n) = text.parse::<f64>() {
        return Some(n);
    }
    let text = text.trim_end_matches('Z');
    let (date, time) = text.split_once('T').unwrap_or((text, "00:00:00"));
    let d: Vec<i64> = date.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let t: Vec<f64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let ([y, m, day], [hh, mm, ss]) = (d.as_slice(), t.as_slice()) else { return None };
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if *m <= 2 { (y - 1, m + 9) } else { (*y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + hh * 3600.0 + mm * 60.0 + ss)
}

/// Whether one request value satisfies the operator against one policy value.
fn test_one(operator: &str, actual: &str, expected: &str) -> bool {
    let number = |s: &str| s.parse::<f64>().ok();
    let compare =
        |parse: &dyn Fn(&str) -> Option<f64>, test: fn(f64, f64) -> bool| match (parse(actual), parse(expected)) {
            (Some(a), Some(e)) => test(a, e),
            _ => false,
        };
    match operator {
        "StringEquals" | "ArnEquals" => actual == expected,
        "StringEqualsIgnoreCase" => actual.eq_ignore_ascii_case(expected),
        "StringLike" | "ArnLike" => wildcard(expected, actual, false),
        "NumericEquals" => compare(&number, |a, e| a == e),
        "NumericLessThan" => compare(&number, |a, e| a < e),
        "NumericLessThanEquals" => compare(&number, |a, e| a <= e),
        "NumericGreaterThan" => compare(&number, |a, e| a > e),
        "NumericGreaterThanEquals" => compare(&number, |a, e| a >= e),
        "DateEquals" => compare(&parse_date, |a, e| a == e),
        "DateLessThan" => compare(&parse_date, |a, e| a < e),
        "DateLessThanEquals" => compare(&parse_date, |a, e| a <= e),
        "DateGreaterThan" => compare(&parse_date, |a, e| a > e),
        "DateGreaterThanEquals" => compare(&parse_date, |a, e| a >= e),
        "Bool" => actual.eq_ignore_ascii_case(expected),
        "IpAddress" => in_network(actual, expected),
        _ => false,
    }
}

/// Negated operators are the positive test inverted over the whole value list.
fn positive_of(operator: &str) -> Option<&'static str> {
    Some(match operator {
        "StringNotEquals" => "StringEquals",
        "StringNotEqualsIgnoreCase" => "StringEqualsIgnoreCase",
        "StringNotLike" => "StringLike",
        "NumericNotEquals" => "NumericEquals",
        "DateNotEquals" => "DateEquals",
        "NotIpAddress" => "IpAddress",
        "ArnNotEquals" => "ArnEquals",
        "ArnNotLike" => "ArnLike",
        _ => return None,
    })
}

fn condition_holds(condition: &Condition, request: &Request, variables: bool) -> bool {
    let actual = request.get(&condition.key);
    if condition.operator == "Null" {
        let absent = actual.is_none_or(|v| v.is_empty());
        return condition.values.iter().any(|v| v.eq_ignore_ascii_case("true") == absent);
    }
    let expected: Vec<String> = condition
        .values
        .iter()
        .filter_map(|v| if variables { substitute(v, request) } else { Some(v.clone()) })
        .collect();
    let actual = match actual {
        Some(values) if !values.is_empty() => values,
        _ => {
            // A missing key: IfExists passes; ForAllValues passes (vacuous truth); negated
            // operators pass (nothing equals); everything else fails.
            return condition.if_exists
                || condition.set == SetQualifier::AllValues
                || (condition.set == SetQualifier::Single && positive_of(&condition.operator).is_some());
        }
    };
    let (operator, negated) = match positive_of(&condition.operator) {
        Some(p) => (p, true),
        None => (condition.operator.as_str(), false),
    };
    let value_matches = |a: &String| expected.iter().any(|e| test_one(operator, a, e));
    match condition.set {
        // A negated operator holds when no request value matches any policy value.
        SetQualifier::Single | SetQualifier::AnyValue if negated => !actual.iter().any(value_matches),
        SetQualifier::Single | SetQualifier::AnyValue => actual.iter().any(value_matches),
        SetQualifier::AllValues if negated => actual.iter().all(|a| !value_matches(a)),
        SetQualifier::AllValues => actual.iter().all(value_matches),
    }
}

#[cfg(test)]
mod tests {
    use super::super::policy::{parse, Kind};
    use super::*;

    fn policy(statements: &str) -> Policy {
        parse(&format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#), Kind::Identity).unwrap()
    }

    const PARAM: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/app/dev/db";

    #[test]
    fn wildcards() {
        for (pattern, text, ignore_case, expected) in [
            ("*", "", false, true),
            ("ssm:Get*", "ssm:GetParameter", true, true),
            ("ssm:get*", "ssm:GetParameter", true, true),
            ("ssm:get*", "ssm:GetParameter", false, false),
            ("ssm:GetParameter?", "ssm:GetParameters", true, true),
            ("ssm:GetParameter?", "ssm:GetParameter", true, false),
            ("arn:*:parameter/app/*", PARAM, false, true),
            ("arn:*:parameter/app/prod/*", PARAM, false, false),
            ("a*b*c", "aXbYbZc", false, true),
            ("a*b*c", "aXbYbZ", false, false),
        ] {
            assert_eq!(wildcard(pattern, text, ignore_case), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn deny_wins_allow_grants_default_denies() {
        let allow = policy(r#"[{"Effect":"Allow","Action":"ssm:*","Resource":"*"}]"#);
        let deny = policy(r#"[{"Effect":"Deny","Action":"ssm:DeleteParameter","Resource":"*"}]"#);
        let get = Request::new("ssm:GetParameter", PARAM);
        let delete = Request::new("ssm:DeleteParameter", PARAM);
        assert_eq!(evaluate([&allow], &get), Decision::Allow);
        assert_eq!(evaluate([&allow, &deny], &delete), Decision::ExplicitDeny);
        assert_eq!(evaluate([&deny, &allow], &delete), Decision::ExplicitDeny);
        assert_eq!(evaluate([&deny], &get), Decision::ImplicitDeny);
        assert_eq!(evaluate([], &get), Decision::ImplicitDeny);
        assert_eq!(evaluate([&allow], &Request::new("kms:Decrypt", "*")), Decision::ImplicitDeny);
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = policy(
            r#"[{"Effect":"Allow","NotAction":"ssm:Delete*","NotResource":"arn:aws:ssm:*:*:parameter/secret/*"}]"#,
        );
        assert_eq!(evaluate([&p], &Request::new("ssm:GetParameter", PARAM)), Decision::Allow);
        assert_eq!(evaluate([&p], &Request::new("ssm:DeleteParameter", PARAM)), Decision::ImplicitDeny);
        let secret = "arn:aws:ssm:us-east-1:123456789012:parameter/secret/x";
        assert_eq!(evaluate([&p], &Request::new("ssm:GetParameter", secret)), Decision::ImplicitDeny);
    }

    #[test]
    fn policy_variables() {
        let p = policy(
            r#"[{"Effect":"Allow","Action":"ssm:*","Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}/*"}]"#,
        );
        let mine = Request::new("ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/home/alice/x")
            .with("aws:username", ["alice"]);
        let theirs = Request::new("ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/home/bob/x")
            .with("aws:username", ["alice"]);
        let anonymous = Request::new("ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/home/alice/x");
        assert_eq!(evaluate([&p], &mine), Decision::Allow);
        assert_eq!(evaluate([&p], &theirs), Decision::ImplicitDeny);
        assert_eq!(evaluate([&p], &anonymous), Decision::ImplicitDeny, "a missing variable matches nothing");
        // 2008-10-17 policies take ${…} literally.
        let old = parse(
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"arn:aws:ssm:*:*:parameter/home/${aws:username}/*"}]}"#,
            Kind::Identity,
        )
        .unwrap();
        assert_eq!(evaluate([&old], &mine), Decision::ImplicitDeny);
    }

    fn with_condition(condition: &str) -> Policy {
        policy(&format!(r#"[{{"Effect":"Allow","Action":"ssm:*","Resource":"*","Condition":{condition}}}]"#))
    }

    #[test]
    fn conditions() {
        let req = |pairs: &[(&str, &[&str])]| {
            pairs.iter().fold(Request::new("ssm:GetParameter", PARAM), |r, (k, v)| r.with(k, v.iter().copied()))
        };
        for (condition, context, expected) in [
            (r#"{"StringEquals":{"aws:username":"alice"}}"#, vec![("aws:username", &["alice"][..])], true),
            (r#"{"StringEquals":{"aws:username":["bob","alice"]}}"#, vec![("aws:username", &["alice"][..])], true),
            (r#"{"StringEquals":{"aws:username":"alice"}}"#, vec![("aws:username", &["Alice"][..])], false),
            (r#"{"StringEqualsIgnoreCase":{"aws:username":"alice"}}"#, vec![("aws:username", &["Alice"][..])], true),
            (r#"{"StringNotEquals":{"aws:username":"alice"}}"#, vec![("aws:username", &["bob"][..])], true),
            (r#"{"StringNotEquals":{"aws:username":"alice"}}"#, vec![], true),
            (r#"{"StringLike":{"aws:username":"a*"}}"#, vec![("aws:username", &["alice"][..])], true),
            (r#"{"StringLike":{"aws:username":"a*"}}"#, vec![], false),
            (r#"{"StringLikeIfExists":{"aws:username":"a*"}}"#, vec![], true),
            (r#"{"StringNotLike":{"aws:username":"a*"}}"#, vec![("aws:username", &["alice"][..])], false),
            (r#"{"Bool":{"aws:SecureTransport":"true"}}"#, vec![("aws:SecureTransport", &["true"][..])], true),
            (r#"{"Bool":{"aws:SecureTransport":true}}"#, vec![("aws:SecureTransport", &["false"][..])], false),
            (r#"{"NumericLessThan":{"ssm:x":"10"}}"#, vec![("ssm:x", &["9"][..])], true),
            (r#"{"NumericLessThan":{"ssm:x":"10"}}"#, vec![("ssm:x", &["10"][..])], false),
            (r#"{"NumericGreaterThanEquals":{"ssm:x":"10"}}"#, vec![("ssm:x", &["10"][..])], true),
            (r#"{"NumericLessThan":{"ssm:x":"10"}}"#, vec![("ssm:x", &["ten"][..])], false),
            (
                r#"{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}"#,
                vec![("aws:CurrentTime", &["2026-11-28T10:00:00Z"][..])],
                true,
            ),
            (
                r#"{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01"}}"#,
                vec![("aws:CurrentTime", &["2026-11-28T10:00:00Z"][..])],
                false,
            ),
            (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, vec![("aws:SourceIp", &["10.1.2.3"][..])], true),
            (
                r#"{"IpAddress":{"aws:SourceIp":["192.168.0.0/16","127.0.0.1/32"]}}"#,
                vec![("aws:SourceIp", &["127.0.0.1"][..])],
                true,
            ),
            (r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, vec![("aws:SourceIp", &["11.0.0.1"][..])], false),
            (r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, vec![("aws:SourceIp", &["11.0.0.1"][..])], true),
            (r#"{"IpAddress":{"aws:SourceIp":"::1/128"}}"#, vec![("aws:SourceIp", &["::1"][..])], true),
            (
                r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/dev/*"}}"#,
                vec![("aws:PrincipalArn", &["arn:aws:iam::1:user/dev/alice"][..])],
                true,
            ),
            (r#"{"Null":{"aws:username":"true"}}"#, vec![], true),
            (r#"{"Null":{"aws:username":"false"}}"#, vec![], false),
            (r#"{"Null":{"aws:username":"false"}}"#, vec![("aws:username", &["x"][..])], true),
            (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}"#, vec![("aws:TagKeys", &["c", "b"][..])], true),
            (r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}"#, vec![("aws:TagKeys", &["c"][..])], false),
            (
                r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
                vec![("aws:TagKeys", &["a", "b"][..])],
                true,
            ),
            (
                r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
                vec![("aws:TagKeys", &["a", "c"][..])],
                false,
            ),
            (r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}"#, vec![], true),
            (
                r#"{"StringEquals":{"aws:PrincipalTag/team":"${aws:username}"}}"#,
                vec![("aws:PrincipalTag/team", &["alice"][..]), ("aws:username", &["alice"][..])],
                true,
            ),
            (r#"{"StringEquals":{"AWS:USERNAME":"alice"}}"#, vec![("aws:username", &["alice"][..])], true),
            (
                r#"{"StringEquals":{"aws:username":"alice"},"Bool":{"ssm:Recursive":"true"}}"#,
                vec![("aws:username", &["alice"][..]), ("ssm:Recursive", &["false"][..])],
                false,
            ),
        ] {
            let p = with_condition(condition);
            let got = evaluate([&p], &req(&context)) == Decision::Allow;
            assert_eq!(got, expected, "{condition} with {context:?}");
        }
    }

    #[test]
    fn trust_policies() {
        let trust = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:user/alice","arn:aws:iam::2:root"]},"Action":"sts:AssumeRole"}]}"#,
            Kind::Trust,
        )
        .unwrap();
        let assume = Request::new("sts:AssumeRole", "arn:aws:iam::1:role/r");
        let alice = ["AWS:arn:aws:iam::1:user/alice".to_owned(), "AWS:arn:aws:iam::1:root".to_owned()];
        let bob = ["AWS:arn:aws:iam::1:user/bob".to_owned(), "AWS:arn:aws:iam::1:root".to_owned()];
        let other = ["AWS:arn:aws:iam::2:user/carol".to_owned(), "AWS:arn:aws:iam::2:root".to_owned()];
        assert_eq!(evaluate_trust(&trust, &alice, &assume), Decision::Allow);
        assert_eq!(evaluate_trust(&trust, &bob, &assume), Decision::ImplicitDeny);
        assert_eq!(evaluate_trust(&trust, &other, &assume), Decision::Allow, "account root trusts the account");
        assert_eq!(evaluate_trust(&trust, &alice, &Request::new("sts:TagSession", "x")), Decision::ImplicitDeny);
    }

    #[test]
    fn dates_parse() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_date("2000-03-01"), Some(951_868_800.0));
        assert_eq!(parse_date("nope"), None);
    }
}

//! AWS Signature Version 4: verifying what clients sign, and signing for our own clients.
//!
//! The server parses the `Authorization` header with [`parse_authorization`], checks the
//! clock with [`check_clock`], looks up the secret of the access key, derives (and may
//! cache) the [`signing_key`], and compares with [`verify`]. The bench and the CLI sign with
//! [`sign`]. Failures carry the codes AWS uses: `MissingAuthenticationTokenException`,
//! `IncompleteSignatureException`, `InvalidSignatureException`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::time::{format_amz_date, parse_amz_date};
use crate::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm SigV4 defines for header signing.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The clock skew AWS tolerates between client and server, in seconds.
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// The parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The raw path, e.g. `/`.
    pub path: &'a str,
    /// The raw query string without `?`, possibly empty.
    pub query: &'a str,
    /// Every header as (name, value); names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body exactly as received.
    pub body: &'a [u8],
    /// The body's SHA-256 (hex) when the body is not at hand — an upload streamed to disk
    /// and checked against this hash once it has all arrived; `None`: hash `body`.
    pub payload_hash: Option<&'a str>,
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id from the credential.
    pub access_key_id: String,
    /// The scope date, `YYYYMMDD`.
    pub date: String,
    /// The scope region, which is the region the request acts in.
    pub region: String,
    /// The scope service (signing name).
    pub service: String,
    /// Lower-case signed header names, in the order given.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

impl Authorization {
    /// The credential scope `DATE/REGION/SERVICE/aws4_request`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

fn header<'a>(req: &Request<'a>, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
}

/// Parses the `Authorization` header of `req`.
pub fn parse_authorization(req: &Request<'_>) -> Result<Authorization, ApiError> {
    let Some(value) = header(req, "authorization") else {
        return Err(ApiError::new("MissingAuthenticationTokenException", "Missing Authentication Token"));
    };
    let incomplete = |what: &str| ApiError::new("IncompleteSignatureException", what.to_owned());
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| incomplete(&format!("Unsupported signing algorithm; only {ALGORITHM} is accepted.")))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some((k, v)) = part.split_once('=') {
            match k.trim() {
                "Credential" => credential = Some(v.trim()),
                "SignedHeaders" => signed = Some(v.trim()),
                "Signature" => signature = Some(v.trim()),
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    for (name, v) in [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed)] {
        if v.is_none() {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    if !missing.is_empty() {
        return Err(incomplete(&missing.join(" ")));
    }
    let credential = credential.unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts[4] != "aws4_request" || parts.iter().any(|p| p.is_empty()) {
        return Err(incomplete(&format!(
            "Credential should have the form ACCESS_KEY/DATE/REGION/SERVICE/aws4_request, got '{credential}'."
        )));
    }
    let signed_headers: Vec<String> = signed.unwrap_or_default().split(';').map(|h| h.to_ascii_lowercase()).collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(ApiError::new(
            "InvalidSignatureException",
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(Authorization {
        access_key_id: parts[0].to_owned(),
        date: parts[1].to_owned(),
        region: parts[2].to_owned(),
        service: parts[3].to_owned(),
        signed_headers,
        signature: signature.unwrap_or_default().to_ascii_lowercase(),
    })
}

/// The request time from `X-Amz-Date`, checked against `now` (epoch seconds) and the scope date.
pub fn check_clock(req: &Request<'_>, auth: &Authorization, now: i64) -> Result<String, ApiError> {
    let Some(amz_date) = header(req, "x-amz-date") else {
        return Err(ApiError::new(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let Some(when) = parse_amz_date(amz_date) else {
        return Err(ApiError::new(
            "IncompleteSignatureException",
            format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'."),
        ));
    };
    if !amz_date.starts_with(&auth.date) {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'", auth.date, &amz_date[..8]),
        ));
    }
    if when < now - MAX_SKEW_SECONDS {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                format_amz_date(now - MAX_SKEW_SECONDS),
                format_amz_date(now)
            ),
        ));
    }
    if when > now + MAX_SKEW_SECONDS {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
                format_amz_date(now + MAX_SKEW_SECONDS),
                format_amz_date(now)
            ),
        ));
    }
    Ok(amz_date.to_owned())
}

/// RFC 3986 encoding as SigV4 wants it: everything but unreserved characters escaped.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XX` escapes (a `%` not followed by two hex digits stays as it is; bytes
/// that are not UTF-8 become U+FFFD). Reads bytes, never slices the text: a `%` before
/// a multi-byte character must not split it.
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k), false), uri_encode(&percent_decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The SigV4 string to sign for `req` under `auth`.
pub fn string_to_sign(req: &Request<'_>, auth: &Authorization, amz_date: &str) -> String {
    let mut canonical = String::with_capacity(256);
    canonical.push_str(req.method);
    canonical.push('\n');
    let path = if req.path.is_empty() { "/" } else { req.path };
    // Every service but S3 encodes the path as sent once more (`%3A` → `%253A`), as the
    // SDKs sign it: REST paths such as `/resources/{Arn}/tags` carry encoded ARNs.
    canonical.push_str(&uri_encode(path, true));
    canonical.push('\n');
    canonical.push_str(&canonical_query(req.query));
    canonical.push('\n');
    for name in &auth.signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_header_value(v))
            .collect();
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&values.join(","));
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&auth.signed_headers.join(";"));
    canonical.push('\n');
    let payload_hash = match (header(req, "x-amz-content-sha256"), req.payload_hash) {
        (Some("UNSIGNED-PAYLOAD"), _) => "UNSIGNED-PAYLOAD".to_owned(),
        (_, Some(hash)) => hash.to_owned(),
        _ => hex::encode(Sha256::digest(req.body)),
    };
    canonical.push_str(&payload_hash);
    format!("{ALGORITHM}\n{amz_date}\n{}\n{}", auth.scope(), hex::encode(Sha256::digest(canonical.as_bytes())))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key for a secret and scope; stable for a day, so callers may cache it.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Whether `signature` (hex) is the signature of `string_to_sign` under `key`, in constant time.
pub fn verify(key: &[u8; 32], string_to_sign: &str, signature: &str) -> bool {
    let expected = hex::encode(hmac(key, string_to_sign.as_bytes()));
    expected.as_bytes().ct_eq(signature.as_bytes()).into()
}

/// Credentials to sign with.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

/// Signs requests for one identity, region and service, caching the day's signing key.
#[derive(Debug, Clone)]
pub struct Signer {
    creds: Credentials,
    region: String,
    service: String,
    cached: Option<(String, [u8; 32])>,
}

impl Signer {
    /// A signer for `creds` in `region` for `service`.
    pub fn new(creds: Credentials, region: &str, service: &str) -> Self {
        Signer { creds, region: region.to_owned(), service: service.to_owned(), cached: None }
    }

    /// Signs `req` at `now` (epoch seconds): returns the `X-Amz-Date` and `Authorization`
    /// header values to add. `req.headers` must already hold every header to be signed,
    /// including `host`.
    pub fn sign(&mut self, req: &Request<'_>, now: i64) -> (String, String) {
        let amz_date = format_amz_date(now);
        let date = &amz_date[..8];
        let key = match &self.cached {
            Some((d, k)) if d == date => *k,
            _ => {
                let k = signing_key(&self.creds.secret_access_key, date, &self.region, &self.service);
                self.cached = Some((date.to_owned(), k));
                k
            }
        };
        let mut signed: Vec<String> = req.headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
        signed.push("x-amz-date".into());
        signed.sort();
        signed.dedup();
        let auth = Authorization {
            access_key_id: self.creds.access_key_id.clone(),
            date: date.to_owned(),
            region: self.region.clone(),
            service: self.service.clone(),
            signed_headers: signed,
            signature: String::new(),
        };
        let mut headers: Vec<(&str, &str)> = req.headers.to_vec();
        headers.push(("x-amz-date", &amz_date));
        let with_date = Request { headers: &headers, ..*req };
        let sts = string_to_sign(&with_date, &auth, &amz_date);
        let signature = hex::encode(hmac(&key, sts.as_bytes()));
        let authorization = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
            self.creds.access_key_id,
            auth.scope(),
            auth.signed_headers.join(";")
        );
        (amz_date, authorization)
    }
}

/// Signs one request; see [`Signer::sign`].
pub fn sign(req: &Request<'_>, creds: &Credentials, region: &str, service: &str, now: i64) -> (String, String) {
    Signer::new(creds.clone(), region, service).sign(req, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_never_splits_a_character() {
        assert_eq!(percent_decode("%\u{e9}%41%4"), "%\u{e9}A%4");
        assert_eq!(percent_decode("arn%3Aaws%2Fg"), "arn:aws/g");
    }

    // The "get-vanilla" case of AWS's published SigV4 test suite: fixed inputs, known output.
    #[test]
    fn matches_the_published_vanilla_vector() {
        let headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")];
        let req = Request { method: "GET", path: "/", query: "", headers: &headers, body: b"", payload_hash: None };
        let auth = Authorization {
            access_key_id: "AKIDEXAMPLE".into(),
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "service".into(),
            signed_headers: vec!["host".into(), "x-amz-date".into()],
            signature: String::new(),
        };
        let sts = string_to_sign(&req, &auth, "20150830T123600Z");
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service");
        assert!(verify(&key, &sts, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
        // A REST path with an encoded ARN is encoded once more, as the SDKs sign it.
        let rest = Request { path: "/resources/arn%3Aaws%3Agroup%2Fg/tags", ..req };
        let canonical_path = string_to_sign(&rest, &auth, "20150830T123600Z");
        assert_ne!(canonical_path, sts);
        let hashed = |path: &str| {
            let canonical = format!(
                "GET\n{path}\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{}",
                hex::encode(Sha256::digest(b""))
            );
            hex::encode(Sha256::digest(canonical.as_bytes()))
        };
        assert!(canonical_path.ends_with(&hashed("/resources/arn%253Aaws%253Agroup%252Fg/tags")));
    }

    fn signed_request(body: &'static [u8]) -> (Vec<(String, String)>, Credentials) {
        let creds = Credentials { access_key_id: "AKIAEXAMPLE".into(), secret_access_key: "secret".into() };
        let headers = [("host", "127.0.0.1:7717"), ("x-amz-target", "AmazonSSM.GetParameter")];
        let req = Request { method: "POST", path: "/", query: "", headers: &headers, body, payload_hash: None };
        let (date, authz) = sign(&req, &creds, "us-east-1", "ssm", 1_700_000_000);
        let mut all: Vec<(String, String)> = headers.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        all.push(("X-Amz-Date".into(), date));
        all.push(("Authorization".into(), authz));
        (all, creds)
    }

    #[test]
    fn sign_then_verify_round_trips_and_detects_tampering() {
        let (headers, creds) = signed_request(b"{}");
        let refs: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let req = Request { method: "POST", path: "/", query: "", headers: &refs, body: b"{}", payload_hash: None };
        let auth = parse_authorization(&req).unwrap();
        assert_eq!((auth.region.as_str(), auth.service.as_str()), ("us-east-1", "ssm"));
        let date = check_clock(&req, &auth, 1_700_000_100).unwrap();
        let key = signing_key(&creds.secret_access_key, &auth.date, &auth.region, &auth.service);
        assert!(verify(&key, &string_to_sign(&req, &auth, &date), &auth.signature));
        let tampered = Request { body: b"{\"Name\":\"x\"}", ..req };
        assert!(!verify(&key, &string_to_sign(&tampered, &auth, &date), &auth.signature));
        let wrong = signing_key("other", &auth.date, &auth.region, &auth.service);
        assert!(!verify(&wrong, &string_to_sign(&req, &auth, &date), &auth.signature));
    }

    #[test]
    fn stale_and_future_dates_are_refused() {
        let (headers, _) = signed_request(b"{}");
        let refs: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let req = Request { method: "POST", path: "/", query: "", headers: &refs, body: b"{}", payload_hash: None };
        let auth = parse_authorization(&req).unwrap();
        let stale = check_clock(&req, &auth, 1_700_000_000 + 16 * 60).unwrap_err();
        assert_eq!(stale.code(), "InvalidSignatureException");
        assert!(stale.message().starts_with("Signature expired"));
        assert!(check_clock(&req, &auth, 1_700_000_000 - 16 * 60).is_err());
    }

    #[test]
    fn malformed_headers_get_aws_codes() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[], "MissingAuthenticationTokenException"),
            (&[("Authorization", "Bearer x")], "IncompleteSignatureException"),
            (&[("Authorization", "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request")], "IncompleteSignatureException"),
            (
                &[("Authorization", "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00")],
                "IncompleteSignatureException",
            ),
        ];
        for (headers, code) in cases {
            let req = Request { method: "POST", path: "/", query: "", headers, body: b"", payload_hash: None };
            assert_eq!(parse_authorization(&req).unwrap_err().code(), code, "{headers:?}");
        }
    }

    #[test]
    fn query_strings_are_sorted_and_encoded() {
        assert_eq!(canonical_query("b=2&a=1&c=x%20y"), "a=1&b=2&c=x%20y");
        assert_eq!(uri_encode("a b/c", true), "a%20b/c");
    }
}

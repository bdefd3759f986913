//! One HTTP request made for someone (a package file from a SourceUrl, a runbook's
//! webhook): `https://` to anywhere the outbound rules allow, proven against the system's
//! authorities or `--outbound-ca-file`; plain `http://` only to a loopback address, since
//! it carries no protection. Every connection goes through the outbound rules.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use super::events::Events;

/// Why the server does not call `url` for someone, or None when it may: `https://`, or
/// `http://` to a loopback address.
pub fn url_refusal(url: &str) -> Option<String> {
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority.rsplit_once('@').map(|(_, host)| host).unwrap_or(authority);
        let host = match authority.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        return (!loopback).then(|| format!("{url}: plain http:// is allowed only to a loopback address."));
    }
    if url.starts_with("https://") {
        return None;
    }
    Some(format!("{url} is not an https:// URL."))
}

/// Sends `method` to `url` with `headers` and `body`; the answer's head (the body is read
/// by the caller). The error is a sentence: refused by the outbound rules, not trusted,
/// unreachable.
pub async fn send(
    events: &Events,
    tls: &Arc<ClientConfig>,
    method: http::Method,
    url: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<http::Response<Incoming>, String> {
    if let Some(why) = url_refusal(url) {
        return Err(why);
    }
    let uri: http::Uri = url.parse().map_err(|_| format!("{url} is not a usable URL"))?;
    let host = uri.host().ok_or_else(|| format!("{url} has no host"))?.trim_start_matches('[').trim_end_matches(']');
    let mut request = http::Request::builder().method(method);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if !url.starts_with("https://") {
        let request =
            request.uri(uri.clone()).body(Full::new(body)).map_err(|_| format!("{url}: a header is not usable"))?;
        return events.client().request(request).await.map_err(|e| match super::events::outbound_refusal(&e) {
            Some(why) => format!("{url} cannot be reached: {why}"),
            None => format!("{url} cannot be reached"),
        });
    }
    let port = uri.port_u16().unwrap_or(443);
    let tcp = super::outbound::connect(events.rules(), host, port)
        .await
        .map_err(|e| format!("{url} cannot be reached: {e}"))?;
    let name = ServerName::try_from(host.to_owned()).map_err(|_| format!("{url}: {host} is not a TLS name"))?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("{url}: the TLS handshake failed ({e})"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{url} cannot be reached: {e}"))?;
    tokio::spawn(connection);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or(host);
    let request = request
        .uri(path)
        .header("host", authority)
        .body(Full::new(body))
        .map_err(|_| format!("{url}: a header is not usable"))?;
    sender.send_request(request).await.map_err(|e| format!("{url} broke off: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_goes_to_loopback_only() {
        for ok in ["https://example.com/x", "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/"] {
            assert_eq!(url_refusal(ok), None, "{ok}");
        }
        for bad in ["http://10.0.0.1/x", "http://example.com", "http://127.0.0.1@evil.example/", "ftp://x", "s3://b/k"]
        {
            assert!(url_refusal(bad).is_some(), "{bad}");
        }
    }
}

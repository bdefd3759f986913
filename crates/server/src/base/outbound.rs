//! Where the server may connect on someone's behalf (webhooks, notifications). A URL is
//! given by a caller, so it must not reach what only the server can: the cloud metadata
//! service and the rest of link-local space, the unspecified address, multicast, the
//! server's own listener. The name is resolved once, here, and the connection goes to the
//! address that was checked (no second lookup a DNS answer could change). Operators refine
//! the rules: `--outbound-allow CIDR` exempts ranges, `--outbound-deny CIDR` adds refusals
//! (and wins over an allow).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An IP range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `fe80::/10`, or a bare address (one host).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let net: IpAddr = addr.trim().parse().map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{text:?}: bad prefix length"))?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }

    /// Whether `ip` is in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = ((bits / 8) as usize, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// `::ffff:a.b.c.d` as `a.b.c.d`, so a mapped address cannot slip past an IPv4 rule.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Ranges refused by default, and why.
const REFUSED: &[(&str, &str)] = &[
    ("169.254.0.0/16", "link-local (cloud metadata services live here)"),
    ("fe80::/10", "link-local"),
    ("fd00:ec2::254/128", "a cloud metadata service"),
    ("100.100.100.200/32", "a cloud metadata service"),
    ("0.0.0.0/8", "the unspecified network"),
    ("::/128", "the unspecified address"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("255.255.255.255/32", "broadcast"),
];

/// The rules one server applies to every outbound connection.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
    own: Vec<SocketAddr>,
}

impl Rules {
    /// Rules with the operator's `allow` and `deny` ranges; `own` are the addresses this
    /// server can be reached at (every local address when it listens on all of them).
    pub fn new(allow: Vec<Cidr>, deny: Vec<Cidr>, own: Vec<SocketAddr>) -> Rules {
        Rules { allow, deny, own }
    }

    /// Why a connection to `addr` is refused, or None when it may go.
    pub fn refusal(&self, addr: SocketAddr) -> Option<String> {
        let ip = canonical(addr.ip());
        if self.deny.iter().any(|c| c.contains(ip)) {
            return Some(format!("{ip} is in a range the operator denies (--outbound-deny)"));
        }
        let own = self.own.iter().any(|o| {
            o.port() == addr.port() && (canonical(o.ip()) == ip || (o.ip().is_loopback() && ip.is_loopback()))
        });
        if own {
            return Some(format!("{addr} is this server's own listener"));
        }
        if self.allow.iter().any(|c| c.contains(ip)) {
            return None;
        }
        REFUSED
            .iter()
            .find(|(range, _)| Cidr::parse(range).expect("built-in ranges parse").contains(ip))
            .map(|(_, why)| format!("{ip} is {why}"))
    }
}

/// A connector for hyper's client that resolves once, checks every address against the
/// [`Rules`], and connects to the first allowed one.
#[derive(Clone)]
pub struct GuardedConnector {
    rules: Arc<Rules>,
}

impl GuardedConnector {
    /// A connector applying `rules`.
    pub fn new(rules: Arc<Rules>) -> GuardedConnector {
        GuardedConnector { rules }
    }
}

/// Resolves `host:port` and connects to the first address the rules allow.
pub async fn connect(rules: &Rules, host: &str, port: u16) -> io::Result<TcpStream> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port)).await?.collect(),
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
    for addr in addrs {
        if let Some(why) = rules.refusal(addr) {
            last = io::Error::new(io::ErrorKind::PermissionDenied, format!("outbound connection refused: {why}"));
            continue;
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, format!("{addr} did not answer in time")),
        }
    }
    Err(last)
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let rules = self.rules.clone();
        Box::pin(async move {
            if uri.scheme_str() != Some("http") {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "only http:// URLs are delivered to"));
            }
            let host = uri.host().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the URL has no host"))?;
            let stream = connect(&rules, host, uri.port_u16().unwrap_or(80)).await?;
            Ok(TokioIo::new(stream))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn metadata_link_local_and_the_unspecified_are_refused() {
        let rules = Rules::default();
        for refused in [
            "169.254.169.254:80",
            "[::ffff:169.254.169.254]:80",
            "[fe80::1]:80",
            "[fd00:ec2::254]:80",
            "100.100.100.200:80",
            "0.0.0.0:80",
            "[::]:80",
            "224.0.0.1:80",
        ] {
            assert!(rules.refusal(addr(refused)).is_some(), "{refused}");
        }
        for allowed in ["127.0.0.1:8080", "10.1.2.3:80", "[2001:db8::1]:443", "93.184.216.34:80"] {
            assert!(rules.refusal(addr(allowed)).is_none(), "{allowed}");
        }
    }

    #[test]
    fn operators_refine_and_the_own_listener_is_refused() {
        let rules = Rules::new(
            vec![Cidr::parse("169.254.10.0/24").unwrap()],
            vec![Cidr::parse("10.0.0.0/8").unwrap(), Cidr::parse("169.254.10.5").unwrap()],
            vec![addr("127.0.0.1:7717")],
        );
        assert!(rules.refusal(addr("169.254.10.1:80")).is_none(), "allowed by the operator");
        assert!(rules.refusal(addr("169.254.10.5:80")).is_some(), "deny wins over allow");
        assert!(rules.refusal(addr("169.254.169.254:80")).is_some());
        assert!(rules.refusal(addr("10.9.9.9:80")).is_some());
        assert!(rules.refusal(addr("127.0.0.1:7717")).is_some(), "the server itself");
        assert!(rules.refusal(addr("127.0.0.2:7717")).is_some(), "the server itself, another loopback address");
        assert!(rules.refusal(addr("127.0.0.1:7718")).is_none());
        let everywhere = Rules::new(vec![], vec![], vec![addr("192.168.1.20:7717"), addr("127.0.0.1:7717")]);
        assert!(everywhere.refusal(addr("192.168.1.20:7717")).is_some());
        assert!(everywhere.refusal(addr("192.168.1.21:7717")).is_none(), "another host on that port");
    }

    #[test]
    fn cidrs_parse_and_match() {
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        let c = Cidr::parse("192.168.0.0/23").unwrap();
        assert!(c.contains("192.168.1.255".parse().unwrap()));
        assert!(!c.contains("192.168.2.0".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
    }
}

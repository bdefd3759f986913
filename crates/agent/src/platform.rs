//! What this machine is: OS name and version, address, host name.

use steward_protocol::Platform;

/// The agent's version, as built.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version this agent reports. Test builds (`--features test-version`) report the
/// version a line `STEWARD_TEST_VERSION=…` at the very end of their own file names, so a
/// test can publish "newer builds" that are copies of one binary with such a line appended.
pub fn agent_version() -> String {
    #[cfg(feature = "test-version")]
    if let Some(v) = test_version() {
        return v;
    }
    AGENT_VERSION.to_owned()
}

#[cfg(feature = "test-version")]
fn test_version() -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    static VERSION: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            let mut file = std::fs::File::open(std::env::current_exe().ok()?).ok()?;
            file.seek(SeekFrom::End(-64)).ok()?;
            let mut tail = Vec::new();
            file.read_to_end(&mut tail).ok()?;
            let text = String::from_utf8_lossy(&tail);
            let at = text.rfind("STEWARD_TEST_VERSION=")?;
            Some(text[at + "STEWARD_TEST_VERSION=".len()..].trim().to_owned()).filter(|v| !v.is_empty())
        })
        .clone()
}

pub fn os_release(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).map(|v| v.trim_matches('"').to_owned())
}

/// The address this machine would use to reach the outside (no packet is sent).
fn primary_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

/// Reads the platform now, reporting `ip` (the address this node reaches the server from)
/// when known.
pub fn detect_with_ip(ip: Option<String>) -> Platform {
    let mut p = detect();
    if let Some(ip) = ip {
        p.ip_address = ip;
    }
    p
}

/// Reads the platform now.
pub fn detect() -> Platform {
    let platform_type = match std::env::consts::OS {
        "macos" => "MacOS",
        "windows" => "Windows",
        _ => "Linux",
    };
    Platform {
        platform_name: os_release("NAME").unwrap_or_else(|| std::env::consts::OS.to_owned()),
        platform_version: os_release("VERSION_ID").unwrap_or_default(),
        platform_type: platform_type.into(),
        agent_version: agent_version(),
        ip_address: primary_ip(),
        computer_name: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into()),
    }
}

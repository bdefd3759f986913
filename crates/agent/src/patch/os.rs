//! Which operating system and product patch baselines see this node as, from os-release.

/// The node as patching names it.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOs {
    /// `DEBIAN`, `UBUNTU`, `REDHAT_ENTERPRISE_LINUX`, …
    pub operating_system: &'static str,
    /// `Debian12`, `Ubuntu22.04`, `RedhatEnterpriseLinux9.4`, …
    pub product: String,
    /// The package tooling.
    pub family: Family,
}

/// Package tooling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    /// dpkg and apt.
    Apt,
    /// rpm and dnf or yum.
    Rpm,
}

/// Reads `/etc/os-release`.
pub fn detect() -> Option<PatchOs> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    from_os_release(&text)
}

/// The patching view of an os-release file.
pub fn from_os_release(text: &str) -> Option<PatchOs> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    let (id, version) = (field("ID"), field("VERSION_ID"));
    let (operating_system, product) = steward_patching::platform::classify(&id, &version)?;
    let family = match operating_system {
        "DEBIAN" | "UBUNTU" | "RASPBIAN" => Family::Apt,
        _ => Family::Rpm,
    };
    Some(PatchOs { operating_system, product, family })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_products_as_patch_baselines_do() {
        let debian = from_os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!(debian.unwrap().product, "Debian12");
        let ubuntu = from_os_release("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n").unwrap();
        assert_eq!((ubuntu.operating_system, ubuntu.product.as_str()), ("UBUNTU", "Ubuntu22.04"));
        assert_eq!(from_os_release("ID=amzn\nVERSION_ID=\"2023\"\n").unwrap().operating_system, "AMAZON_LINUX_2023");
        assert!(from_os_release("ID=plan9\n").is_none());
    }
}

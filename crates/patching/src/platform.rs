//! Which operating system and product patch baselines see a node as. The agent knows its
//! os-release `ID` and `VERSION_ID`; the server knows what the agent registered with, the
//! os-release `NAME` (`Debian GNU/Linux`) and version, and maps the name to the `ID` first.

/// `(OperatingSystem, Product)` for an os-release `ID` and `VERSION_ID`: `("DEBIAN",
/// "Debian12")`, `("UBUNTU", "Ubuntu22.04")`, … `None` for systems Patch Manager has no
/// baselines for.
pub fn classify(id: &str, version: &str) -> Option<(&'static str, String)> {
    let major = version.split('.').next().unwrap_or_default();
    Some(match id {
        "debian" => ("DEBIAN", format!("Debian{major}")),
        "ubuntu" => ("UBUNTU", format!("Ubuntu{version}")),
        "raspbian" => ("RASPBIAN", format!("Raspbian{major}")),
        "rhel" => ("REDHAT_ENTERPRISE_LINUX", format!("RedhatEnterpriseLinux{version}")),
        "centos" => ("CENTOS", format!("CentOS{version}")),
        "rocky" => ("ROCKY_LINUX", format!("RockyLinux{version}")),
        "almalinux" => ("ALMA_LINUX", format!("AlmaLinux{version}")),
        "ol" => ("ORACLE_LINUX", format!("OracleLinux{version}")),
        "amzn" if version == "2" => ("AMAZON_LINUX_2", "AmazonLinux2".into()),
        "amzn" => ("AMAZON_LINUX_2023", "AmazonLinux2023".into()),
        "sles" => ("SUSE", format!("Suse{version}")),
        _ => return None,
    })
}

/// The os-release `ID` of a system by its `NAME`, for the systems [`classify`] knows.
pub fn id_from_name(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    let known: &[(&str, &str)] = &[
        ("debian", "debian"),
        ("ubuntu", "ubuntu"),
        ("raspbian", "raspbian"),
        ("red hat enterprise linux", "rhel"),
        ("centos", "centos"),
        ("rocky", "rocky"),
        ("almalinux", "almalinux"),
        ("oracle linux", "ol"),
        ("amazon linux", "amzn"),
        ("sles", "sles"),
        ("suse linux enterprise", "sles"),
    ];
    known.iter().find(|(prefix, _)| name.starts_with(prefix)).map(|(_, id)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_map_to_baseline_systems() {
        let of = |name: &str, version: &str| id_from_name(name).and_then(|id| classify(id, version));
        assert_eq!(of("Debian GNU/Linux", "12"), Some(("DEBIAN", "Debian12".into())));
        assert_eq!(of("Ubuntu", "22.04"), Some(("UBUNTU", "Ubuntu22.04".into())));
        assert_eq!(of("Red Hat Enterprise Linux", "9.4").unwrap().0, "REDHAT_ENTERPRISE_LINUX");
        assert_eq!(of("Amazon Linux", "2").unwrap().0, "AMAZON_LINUX_2");
        assert_eq!(of("Oracle Linux Server", "8.9").unwrap().1, "OracleLinux8.9");
        assert_eq!(of("Plan 9", "4"), None);
    }
}

//! The machine itself: `AWS:InstanceInformation`, `AWS:InstanceDetailedInformation`,
//! `AWS:Network` and `AWS:AWSComponent`, from /proc, /sys, getifaddrs(3) and the agent.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Entry;
use crate::platform;

fn entry<const N: usize>(fields: [(&str, String); N]) -> Entry {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// What the node is, as SSM's instance information.
pub fn instance_information(instance_id: &str) -> Vec<Entry> {
    let p = platform::detect();
    vec![entry([
        ("AgentType", "steward-agent".to_owned()),
        ("AgentVersion", p.agent_version),
        ("ComputerName", p.computer_name),
        ("InstanceId", instance_id.to_owned()),
        ("InstanceStatus", "Active".to_owned()),
        ("IpAddress", p.ip_address),
        ("PlatformName", p.platform_name),
        ("PlatformType", p.platform_type),
        ("PlatformVersion", p.platform_version),
        ("ResourceType", "ManagedInstance".to_owned()),
    ])]
}

/// The agent as a component of the node.
pub fn components() -> Vec<Entry> {
    vec![entry([
        ("Name", "steward-agent".to_owned()),
        ("ApplicationType", "Component".to_owned()),
        ("Publisher", "Steward".to_owned()),
        ("Version", platform::agent_version()),
        ("Architecture", std::env::consts::ARCH.to_owned()),
    ])]
}

/// CPU, memory and kernel.
pub fn detailed_information() -> Vec<Entry> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    vec![detailed_from(&cpuinfo, &meminfo, kernel.trim())]
}

fn detailed_from(cpuinfo: &str, meminfo: &str, kernel: &str) -> Entry {
    let mut processors = 0usize;
    let (mut model, mut mhz) = (String::new(), String::new());
    let mut sockets = std::collections::BTreeSet::new();
    let mut cores = std::collections::BTreeSet::new();
    let mut physical_id = String::new();
    let mut flags_ht = false;
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => processors += 1,
            "model name" if model.is_empty() => model = value.to_owned(),
            "cpu MHz" if mhz.is_empty() => mhz = value.split('.').next().unwrap_or_default().to_owned(),
            "physical id" => {
                physical_id = value.to_owned();
                sockets.insert(value.to_owned());
            }
            "core id" => {
                cores.insert(format!("{physical_id}/{value}"));
            }
            "flags" => flags_ht |= value.split_whitespace().any(|f| f == "ht"),
            _ => {}
        }
    }
    let core_count = if cores.is_empty() { processors } else { cores.len() };
    let memory_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    entry([
        ("CPUModel", model),
        ("CPUCores", core_count.to_string()),
        ("CPUs", processors.to_string()),
        ("CPUSpeedMHz", mhz),
        ("CPUSockets", sockets.len().max(1).to_string()),
        ("CPUHyperThreadEnabled", (flags_ht && processors > core_count).to_string()),
        ("OSServicePack", String::new()),
        ("KernelVersion", kernel.to_owned()),
        ("TotalMemoryMB", (memory_kb / 1024).to_string()),
    ])
}

/// One address of an interface.
struct Address {
    interface: String,
    ip: IpAddr,
    mask: Option<IpAddr>,
}

fn sockaddr_ip(addr: *const libc::sockaddr) -> Option<IpAddr> {
    if addr.is_null() {
        return None;
    }
    // SAFETY: getifaddrs gives valid sockaddrs whose family says which struct they are.
    unsafe {
        match i32::from((*addr).sa_family) {
            libc::AF_INET => {
                let v4 = &*(addr as *const libc::sockaddr_in);
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))))
            }
            libc::AF_INET6 => {
                let v6 = &*(addr as *const libc::sockaddr_in6);
                Some(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}

fn addresses() -> Vec<Address> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates the list; it is walked read-only and freed once.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cursor = head;
        while !cursor.is_null() {
            let ifa = &*cursor;
            if let Some(ip) = sockaddr_ip(ifa.ifa_addr) {
                let interface = std::ffi::CStr::from_ptr(ifa.ifa_name).to_string_lossy().into_owned();
                out.push(Address { interface, ip, mask: sockaddr_ip(ifa.ifa_netmask) });
            }
            cursor = ifa.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// Default gateways per interface, from the kernel's routing table.
fn gateways(route: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in route.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            if let Ok(gw) = u32::from_str_radix(f[2], 16) {
                // The table holds the address in host (little-endian) byte order.
                out.insert(f[0].to_owned(), Ipv4Addr::from(gw.swap_bytes()).to_string());
            }
        }
    }
    out
}

/// Each interface with an address.
pub fn network() -> Vec<Entry> {
    let route = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let gateways = gateways(&route);
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let dns: Vec<&str> = resolv.lines().filter_map(|l| l.trim().strip_prefix("nameserver")).map(str::trim).collect();
    let mut by_interface: BTreeMap<String, Vec<Address>> = BTreeMap::new();
    for a in addresses() {
        by_interface.entry(a.interface.clone()).or_default().push(a);
    }
    let mut out = Vec::new();
    for (name, addrs) in by_interface {
        let list = |v6: bool| {
            addrs.iter().filter(|a| a.ip.is_ipv6() == v6).map(|a| a.ip.to_string()).collect::<Vec<_>>().join(",")
        };
        let mask = addrs.iter().find(|a| a.ip.is_ipv4()).and_then(|a| a.mask).map(|m| m.to_string());
        let mac = std::fs::read_to_string(format!("/sys/class/net/{name}/address")).unwrap_or_default();
        out.push(entry([
            ("Name", name.clone()),
            ("SubnetMask", mask.unwrap_or_default()),
            ("Gateway", gateways.get(&name).cloned().unwrap_or_default()),
            ("DHCPServer", String::new()),
            ("DNSServer", dns.join(",")),
            ("MacAddress", mac.trim().to_owned()),
            ("IPV4", list(false)),
            ("IPV6", list(true)),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_memory_from_proc() {
        let cpu = "processor\t: 0\nmodel name\t: Xeon\ncpu MHz\t\t: 2199.998\nphysical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu ht\n\nprocessor\t: 1\nmodel name\t: Xeon\nphysical id\t: 0\ncore id\t\t: 0\n";
        let e = detailed_from(cpu, "MemTotal:       24576000 kB\n", "6.1.0");
        assert_eq!(e["CPUModel"], "Xeon");
        assert_eq!(e["CPUs"], "2");
        assert_eq!(e["CPUCores"], "1");
        assert_eq!(e["CPUSpeedMHz"], "2199");
        assert_eq!(e["CPUHyperThreadEnabled"], "true");
        assert_eq!(e["TotalMemoryMB"], "24000");
    }

    #[test]
    fn default_routes() {
        let table =
            "Iface\tDestination\tGateway\tFlags\neth0\t00000000\t0100A8C0\t0003\neth0\t0000A8C0\t00000000\t0001\n";
        assert_eq!(gateways(table)["eth0"], "192.168.0.1");
    }
}

//! The schemas of inventory types: SSM's built-in `AWS:` types (here in code), and custom
//! types, whose schema is what their items brought.

use steward_api::ssm::inventory::{InventoryItemAttribute, InventoryItemSchema};

use super::records::SchemaRecord;

/// A built-in type: its name, schema versions accepted (the first is current), display
/// name, and attributes as (name, `string`|`number`, indexed). Free text and times are not
/// indexed: filters on them read the items of the nodes the other filters left.
pub struct BuiltIn {
    /// `AWS:…`.
    pub type_name: &'static str,
    /// Versions PutInventory accepts, current first.
    pub versions: &'static [&'static str],
    /// For people.
    pub display_name: &'static str,
    /// (name, data type, indexed).
    pub attributes: &'static [(&'static str, &'static str, bool)],
}

// AWS answers in capitals, whatever the model's enum says.
const S: &str = "STRING";
const N: &str = "NUMBER";

/// SSM's types that mean something on the platforms Steward manages.
pub const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        type_name: "AWS:AWSComponent",
        versions: &["1.0"],
        display_name: "AWS Components",
        attributes: &[
            ("Name", S, true),
            ("ApplicationType", S, true),
            ("Publisher", S, true),
            ("Version", S, true),
            ("InstalledTime", S, false),
            ("Architecture", S, true),
            ("URL", S, false),
        ],
    },
    BuiltIn {
        type_name: "AWS:Application",
        versions: &["1.1", "1.0"],
        display_name: "Applications",
        attributes: &[
            ("Name", S, true),
            ("ApplicationType", S, true),
            ("Publisher", S, true),
            ("Version", S, true),
            ("Release", S, true),
            ("Epoch", S, true),
            ("InstalledTime", S, false),
            ("Architecture", S, true),
            ("URL", S, false),
            ("Summary", S, false),
            ("PackageId", S, false),
        ],
    },
    BuiltIn {
        type_name: "AWS:File",
        versions: &["1.0"],
        display_name: "Files",
        attributes: &[
            ("Name", S, true),
            ("Size", N, true),
            ("Description", S, false),
            ("FileVersion", S, true),
            ("InstalledDate", S, false),
            ("ModificationTime", S, false),
            ("LastAccessTime", S, false),
            ("ProductName", S, true),
            ("InstalledDir", S, true),
            ("ProductLanguage", S, true),
            ("CompanyName", S, true),
            ("ProductVersion", S, true),
        ],
    },
    BuiltIn {
        type_name: "AWS:InstanceDetailedInformation",
        versions: &["1.0"],
        display_name: "Instance Detailed Information",
        attributes: &[
            ("CPUModel", S, true),
            ("CPUCores", N, true),
            ("CPUs", N, true),
            ("CPUSpeedMHz", N, true),
            ("CPUSockets", N, true),
            ("CPUHyperThreadEnabled", S, true),
            ("OSServicePack", S, true),
            ("KernelVersion", S, true),
            ("TotalMemoryMB", N, true),
        ],
    },
    BuiltIn {
        type_name: "AWS:InstanceInformation",
        versions: &["1.0"],
        display_name: "Instance Information",
        attributes: &[
            ("AgentType", S, true),
            ("AgentVersion", S, true),
            ("ComputerName", S, true),
            ("InstanceId", S, true),
            ("InstanceStatus", S, true),
            ("IpAddress", S, true),
            ("PlatformName", S, true),
            ("PlatformType", S, true),
            ("PlatformVersion", S, true),
            ("ResourceType", S, true),
        ],
    },
    BuiltIn {
        type_name: "AWS:Network",
        versions: &["1.0"],
        display_name: "Network",
        attributes: &[
            ("Name", S, true),
            ("SubnetMask", S, true),
            ("Gateway", S, true),
            ("DHCPServer", S, true),
            ("DNSServer", S, true),
            ("MacAddress", S, true),
            ("IPV4", S, true),
            ("IPV6", S, true),
        ],
    },
    BuiltIn {
        type_name: "AWS:Service",
        versions: &["1.0"],
        display_name: "Services",
        attributes: &[
            ("Name", S, true),
            ("DisplayName", S, false),
            ("ServiceType", S, true),
            ("Status", S, true),
            ("DependentServices", S, false),
            ("ServicesDependedOn", S, false),
            ("StartType", S, true),
        ],
    },
    BuiltIn {
        type_name: "AWS:Tag",
        versions: &["1.0"],
        display_name: "Tags",
        attributes: &[("Key", S, true), ("Value", S, true)],
    },
];

/// The built-in type of this name.
pub fn built_in(type_name: &str) -> Option<&'static BuiltIn> {
    BUILT_IN.iter().find(|b| b.type_name == type_name)
}

/// Whether an attribute of a type is indexed (every attribute of a custom type is).
pub fn indexed(type_name: &str, attribute: &str) -> bool {
    match built_in(type_name) {
        Some(b) => b.attributes.iter().any(|(name, _, indexed)| *name == attribute && *indexed),
        None => true,
    }
}

/// A built-in schema as GetInventorySchema shows it.
pub fn shown(b: &BuiltIn, aggregatable_only: bool) -> InventoryItemSchema {
    InventoryItemSchema {
        type_name: b.type_name.to_owned(),
        version: Some(b.versions[0].to_owned()),
        attributes: b
            .attributes
            .iter()
            .filter(|(_, _, indexed)| !aggregatable_only || *indexed)
            .map(|(name, kind, _)| InventoryItemAttribute { name: (*name).into(), data_type: (*kind).into() })
            .collect(),
        // As SSM, the display name comes with the aggregation view only.
        display_name: aggregatable_only.then(|| b.display_name.to_owned()),
    }
}

/// A custom schema as GetInventorySchema shows it.
pub fn shown_custom(s: &SchemaRecord) -> InventoryItemSchema {
    InventoryItemSchema {
        type_name: s.type_name.clone(),
        version: Some(s.version.clone()),
        attributes: s
            .attributes
            .iter()
            .map(|name| InventoryItemAttribute { name: name.clone(), data_type: S.into() })
            .collect(),
        display_name: None,
    }
}

/// Compares schema versions (`major.minor`) as numbers.
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> (u64, u64) {
        let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
        (major.parse().unwrap_or(0), minor.parse().unwrap_or(0))
    };
    parts(a).cmp(&parts(b))
}

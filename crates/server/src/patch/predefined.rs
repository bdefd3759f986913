//! The baselines the service owns: one default per operating system, with the rules SSM's
//! predefined baselines have. They are never stored; their ids are ARNs without an account,
//! as the service's own documents' are.

use steward_patching::{Baseline, Filter, FilterGroup, Rule, RuleGroup};

use super::BaselineRecord;

/// (operating system, name, id, description)
const CATALOGUE: &[(&str, &str, &str, &str)] = &[
    ("WINDOWS", "AWS-DefaultPatchBaseline", "pb-09ca3fb51f0412ec3", "Default Patch Baseline Provided by AWS."),
    (
        "AMAZON_LINUX",
        "AWS-AmazonLinuxDefaultPatchBaseline",
        "pb-0c10e657807c7a700",
        "Default Patch Baseline for Amazon Linux Provided by AWS.",
    ),
    (
        "AMAZON_LINUX_2",
        "AWS-AmazonLinux2DefaultPatchBaseline",
        "pb-0be8c61cde3be63f3",
        "Baseline containing all Security and Bugfix updates approved for Amazon Linux 2 instances",
    ),
    (
        "AMAZON_LINUX_2022",
        "AWS-AmazonLinux2022DefaultPatchBaseline",
        "pb-0028ca011460d5eaf",
        "Default Patch Baseline for Amazon Linux 2022 Provided by AWS.",
    ),
    (
        "AMAZON_LINUX_2023",
        "AWS-AmazonLinux2023DefaultPatchBaseline",
        "pb-05c9c9bf778d4c4d0",
        "Default Patch Baseline for Amazon Linux 2023 Provided by AWS.",
    ),
    (
        "UBUNTU",
        "AWS-UbuntuDefaultPatchBaseline",
        "pb-0c7e89f711c3095f4",
        "Default Patch Baseline for Ubuntu Provided by AWS.",
    ),
    (
        "DEBIAN",
        "AWS-DebianDefaultPatchBaseline",
        "pb-09a5f8eb62bde80b1",
        "Default Patch Baseline for Debian Provided by AWS.",
    ),
    (
        "RASPBIAN",
        "AWS-DefaultRaspbianPatchBaseline",
        "pb-0ec16280999c5c75e",
        "Default Patch Baseline for Raspbian Provided by AWS.",
    ),
    (
        "REDHAT_ENTERPRISE_LINUX",
        "AWS-RedHatDefaultPatchBaseline",
        "pb-0cbb3a633de00f07c",
        "Default Patch Baseline for Redhat Enterprise Linux Provided by AWS.",
    ),
    (
        "CENTOS",
        "AWS-CentOSDefaultPatchBaseline",
        "pb-03e3f588eec25344c",
        "Default Patch Baseline for CentOS Provided by AWS.",
    ),
    (
        "ROCKY_LINUX",
        "AWS-RockyLinuxDefaultPatchBaseline",
        "pb-03ec98bc512aa3ac0",
        "Default Patch Baseline for Rocky Linux Provided by AWS.",
    ),
    (
        "ALMA_LINUX",
        "AWS-AlmaLinuxDefaultPatchBaseline",
        "pb-0cb0c4966f86b059b",
        "Default Patch Baseline for Alma Linux Provided by AWS.",
    ),
    (
        "ORACLE_LINUX",
        "AWS-OracleLinuxDefaultPatchBaseline",
        "pb-06bff38e95fe85c02",
        "Default Patch Baseline for Oracle Linux Server Provided by AWS.",
    ),
    (
        "SUSE",
        "AWS-SuseDefaultPatchBaseline",
        "pb-07d8884178197b66b",
        "Default Patch Baseline for Suse Provided by AWS.",
    ),
    (
        "MACOS",
        "AWS-MacOSDefaultPatchBaseline",
        "pb-0ee4f94581368c0d4",
        "Default Patch Baseline for MacOS Provided by AWS.",
    ),
];

/// The ARN a predefined baseline is known by.
fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:ssm:{region}::patchbaseline/{id}")
}

fn group(filters: &[(&str, &[&str])]) -> FilterGroup {
    FilterGroup {
        patch_filters: filters
            .iter()
            .map(|(key, values)| Filter { key: (*key).into(), values: values.iter().map(|v| (*v).into()).collect() })
            .collect(),
    }
}

fn rule(filters: &[(&str, &[&str])], days: u32, non_security: bool) -> Rule {
    Rule {
        patch_filter_group: group(filters),
        compliance_level: "UNSPECIFIED".into(),
        approve_after_days: Some(days),
        approve_until_date: None,
        enable_non_security: non_security,
    }
}

fn rules_for(os: &str) -> Vec<Rule> {
    const SECURITY: &[&str] = &["Security"];
    match os {
        "UBUNTU" | "DEBIAN" | "RASPBIAN" => {
            vec![rule(&[("PRIORITY", &["Required", "Important", "Standard", "Optional", "Extra"])], 0, false)]
        }
        "WINDOWS" => vec![rule(
            &[
                ("CLASSIFICATION", &["CriticalUpdates", "SecurityUpdates"]),
                ("MSRC_SEVERITY", &["Critical", "Important"]),
            ],
            7,
            false,
        )],
        "ORACLE_LINUX" => vec![
            rule(&[("CLASSIFICATION", SECURITY), ("SEVERITY", &["Important", "Moderate"])], 7, false),
            rule(&[("CLASSIFICATION", &["Bugfix"])], 7, false),
        ],
        "SUSE" => vec![rule(&[("CLASSIFICATION", SECURITY), ("SEVERITY", &["Critical", "Important"])], 7, false)],
        "CENTOS" => vec![rule(&[("PRODUCT", &["*"])], 7, true)],
        "MACOS" => vec![rule(&[("CLASSIFICATION", &["*"])], 0, true)],
        _ => vec![
            rule(&[("CLASSIFICATION", SECURITY), ("SEVERITY", &["Critical", "Important"])], 7, false),
            rule(&[("CLASSIFICATION", &["Bugfix"])], 7, false),
        ],
    }
}

fn record(region: &str, (os, name, id, description): (&str, &str, &str, &str)) -> BaselineRecord {
    BaselineRecord {
        baseline: Baseline {
            baseline_id: arn(region, id),
            name: name.into(),
            operating_system: os.into(),
            global_filters: group(&[("PRODUCT", &["*"])]),
            approval_rules: RuleGroup { patch_rules: rules_for(os) },
            approved_patches_compliance_level: "UNSPECIFIED".into(),
            rejected_patches_action: "ALLOW_AS_DEPENDENCY".into(),
            ..Default::default()
        },
        description: Some(description.into()),
        available_security_updates_compliance_status: None,
        created: 1_525_194_800_000,
        modified: 1_525_194_800_000,
        tags: vec![],
        client_token: None,
        predefined: true,
    }
}

/// Every predefined baseline, as seen from `region`.
pub fn all(region: &str) -> Vec<BaselineRecord> {
    CATALOGUE.iter().map(|entry| record(region, *entry)).collect()
}

/// The predefined default baseline of `os`.
pub fn default_for(region: &str, os: &str) -> Option<BaselineRecord> {
    CATALOGUE.iter().find(|(o, ..)| *o == os).map(|entry| record(region, *entry))
}

/// The predefined baseline `id` names (its ARN, or its `pb-` id alone).
pub fn find(region: &str, id: &str) -> Option<BaselineRecord> {
    let short = id.rsplit('/').next().unwrap_or(id);
    CATALOGUE
        .iter()
        .find(|(_, _, pb, _)| *pb == short && (id == *pb || id == arn(region, pb)))
        .map(|e| record(region, *e))
}

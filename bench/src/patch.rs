//! Patch Manager's figures: baseline evaluation over 5,000 installed packages and their
//! updates (in process), the real agent's scan of this machine against a Debian baseline
//! (`steward-agent patch --no-update`: apt's indexes as they are), and patch-state queries
//! over a fleet of simulated nodes that each ran AWS-RunPatchBaseline through the server
//! (snapshot asked, report of 100 packages stored with its compliance items).

use std::time::{Duration, Instant};

use serde_json::json;
use steward_patching::report::{assess, InstalledPackage, NodeReport, PatchEntry, PatchState};
use steward_patching::{debversion, Baseline, Filter, FilterGroup, Patch, Rule, RuleGroup, Snapshot};

use crate::{fleet, rss_kb, start_server, Args, Client};

const PACKAGES: usize = 5_000;
const ENTRIES_PER_NODE: usize = 100;
const MISSING_PER_NODE: usize = 5;
const PER_ACTIVATION: usize = 1_000;
const GROUP: &str = "bench-web";

fn debian_baseline() -> Baseline {
    let rule = |key: &str, values: &[&str]| Rule {
        patch_filter_group: FilterGroup {
            patch_filters: vec![Filter { key: key.into(), values: values.iter().map(|v| (*v).into()).collect() }],
        },
        compliance_level: "HIGH".into(),
        approve_after_days: Some(0),
        approve_until_date: None,
        enable_non_security: false,
    };
    Baseline {
        baseline_id: "pb-0bench0000000000".into(),
        operating_system: "DEBIAN".into(),
        global_filters: FilterGroup { patch_filters: vec![Filter { key: "PRODUCT".into(), values: vec!["*".into()] }] },
        approval_rules: RuleGroup {
            patch_rules: vec![
                rule("PRIORITY", &["Required", "Important", "Standard", "Optional", "Extra"]),
                rule("SECTION", &["admin", "net", "libs"]),
            ],
        },
        rejected_patches: vec!["pkg-00*=9.*".into(), "telnet".into()],
        rejected_patches_action: "BLOCK".into(),
        ..Default::default()
    }
}

/// Baseline evaluation: `assess` of 5,000 installed packages, each with two candidate
/// updates (one from a security pocket), in milliseconds.
fn evaluation_ms() -> (f64, usize) {
    let baseline = debian_baseline();
    let sections = ["admin", "net", "libs", "utils", "web"];
    let installed: Vec<InstalledPackage> = (0..PACKAGES)
        .map(|i| InstalledPackage {
            name: format!("pkg-{i:05}"),
            arch: "amd64".into(),
            version: format!("1.{}.0-1", i % 7),
            section: sections[i % 5].into(),
            priority: "optional".into(),
            installed_time: Some(1_700_000_000),
        })
        .collect();
    let available: Vec<Patch> = installed
        .iter()
        .flat_map(|p| {
            [("2.0.0-1+deb12u1", "bookworm-security", true), ("2.1.0-1", "bookworm-updates", false)].map(
                |(v, repo, security)| Patch {
                    name: p.name.clone(),
                    version: v.into(),
                    arch: "amd64".into(),
                    product: "Debian12".into(),
                    repository: repo.into(),
                    section: p.section.clone(),
                    priority: "optional".into(),
                    security,
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut times = Vec::new();
    let mut missing = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let out = assess(&baseline, "Debian12", &installed, &available, 1_800_000_000, debversion::compare);
        times.push(started.elapsed());
        missing = out.iter().filter(|a| a.entry.state == PatchState::Missing).count();
    }
    times.sort();
    (times[times.len() / 2].as_secs_f64() * 1000.0, missing)
}

/// What a simulated node reports for a scan: 100 packages, 5 of them missing an update.
pub fn simulated_report(node: usize, snapshot: &Snapshot) -> NodeReport {
    let entries = (0..ENTRIES_PER_NODE)
        .map(|k| {
            let p = (node * 7 + k * 3) % 1_000;
            let missing = k < MISSING_PER_NODE;
            PatchEntry {
                name: format!("pkg-{p:04}"),
                arch: "amd64".into(),
                installed_version: "1.0-1".into(),
                target_version: if missing { "1.0-1+deb12u1".into() } else { String::new() },
                state: if missing { PatchState::Missing } else { PatchState::InstalledOther },
                classification: if missing { "Security".into() } else { String::new() },
                severity: "optional".into(),
                compliance_level: if missing { "HIGH".into() } else { "UNSPECIFIED".into() },
                installed_time: Some(1_700_000_000),
                cve_ids: vec![],
                security: missing,
            }
        })
        .collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    NodeReport {
        operation: "Scan".into(),
        snapshot_id: snapshot.snapshot_id.clone(),
        baseline_id: snapshot.baseline.baseline_id.clone(),
        patch_group: snapshot.patch_group.clone(),
        reboot_option: "RebootIfNeeded".into(),
        operation_start: now - 1_000,
        operation_end: now,
        entries,
        operating_system: "DEBIAN".into(),
        ..Default::default()
    }
}

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0;
    (at(0.5), at(0.99))
}

async fn timed(
    client: &mut Client,
    operation: &str,
    body: &serde_json::Value,
    runs: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        client.call(operation, body).await?;
        times.push(started.elapsed());
    }
    Ok(percentiles(times))
}

/// The real agent's scan of this machine, against the Debian default's rules.
fn scan_figures(args: &Args) -> anyhow::Result<()> {
    let agent = args.steward.with_file_name("steward-agent");
    let state = std::env::temp_dir().join(format!("steward-bench-patch-{}", std::process::id()));
    std::fs::create_dir_all(&state)?;
    let baseline_file = state.join("baseline.json");
    std::fs::write(&baseline_file, serde_json::to_vec(&debian_baseline())?)?;
    let out_path = state.join("report.json");
    let started = Instant::now();
    let mut child = std::process::Command::new(&agent)
        .arg("--state-dir")
        .arg(&state)
        .args(["patch", "--no-update", "--baseline"])
        .arg(&baseline_file)
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut peak_kb = 0;
    let status = loop {
        peak_kb = peak_kb.max(rss_kb(child.id(), "VmHWM:"));
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let took = started.elapsed();
    let report: Option<NodeReport> = serde_json::from_slice(&std::fs::read(&out_path)?).ok();
    let _ = std::fs::remove_dir_all(&state);
    match report.filter(|_| status.success()) {
        Some(report) => {
            let missing = report.entries.iter().filter(|e| e.state == PatchState::Missing).count();
            println!(
                "  scan of this machine ({} packages, {} updates offered, {missing} missing): {:.0} ms wall, peak RSS {peak_kb} KB",
                report.entries.len(),
                report.available.len(),
                took.as_secs_f64() * 1000.0
            );
        }
        None => println!(
            "  scan of this machine: not measured (steward-agent patch failed: {status}; not a Debian/Ubuntu machine?)"
        ),
    }
    Ok(())
}

/// Prints the patching figures.
pub async fn patch_figures(args: &Args) -> anyhow::Result<()> {
    println!();
    println!("Patch Manager");
    let (ms, missing) = evaluation_ms();
    println!("  baseline evaluation, {PACKAGES} installed packages x 2 updates each ({missing} missing): {ms:.1} ms (p50 of 20)");
    scan_figures(args)?;

    let nodes = args.inventory_nodes;
    let server = start_server(args)?;
    let pid = server.child.id();
    let mut client = Client::connect(&server).await?;
    let baseline = client
        .call(
            "CreatePatchBaseline",
            &json!({"Name": "bench-debian", "OperatingSystem": "DEBIAN",
                    "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Optional"]}]},
                                                      "ApproveAfterDays": 0, "ComplianceLevel": "HIGH"}]}}),
        )
        .await?;
    let baseline_id = baseline["BaselineId"].as_str().unwrap_or_default().to_owned();
    client.call("RegisterPatchBaselineForPatchGroup", &json!({"BaselineId": baseline_id, "PatchGroup": GROUP})).await?;
    let activations = client.activations(nodes, json!({"Tags": [{"Key": "Patch Group", "Value": GROUP}]})).await?;
    fleet::start(&server.addr, &activations, nodes, PER_ACTIVATION).await?;
    let ids = client.collect("DescribeInstanceInformation", "InstanceInformationList", "InstanceId").await?;
    anyhow::ensure!(ids.len() == nodes, "{} nodes registered of {nodes}", ids.len());

    let body = json!({"DocumentName": "AWS-RunPatchBaseline", "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
                      "MaxConcurrency": "100%", "Parameters": {"Operation": ["Scan"]}});
    let scan = client.run_command(&body, Duration::from_secs(1800)).await?;
    let mut client = Client::connect(&server).await?;
    let fifty: Vec<&String> = ids.iter().take(50).collect();
    let (s50, s99) = timed(&mut client, "DescribeInstancePatchStates", &json!({"InstanceIds": fifty}), 100).await?;
    let missing = json!({"PatchGroup": GROUP, "MaxResults": 50,
                         "Filters": [{"Key": "MissingCount", "Values": ["0"], "Type": "GreaterThan"}]});
    let (g50, g99) = timed(&mut client, "DescribeInstancePatchStatesForPatchGroup", &missing, 20).await?;
    let (t50, t99) = timed(&mut client, "DescribePatchGroupState", &json!({"PatchGroup": GROUP}), 20).await?;
    let patches = json!({"InstanceId": ids[nodes / 2], "Filters": [{"Key": "State", "Values": ["Missing"]}]});
    let (p50, p99) = timed(&mut client, "DescribeInstancePatches", &patches, 100).await?;
    println!(
        "  {nodes} simulated nodes scanned through the server (snapshot + {ENTRIES_PER_NODE}-package report each): {:.1} s, {:.0} reports/s; server peak RSS {} KB",
        scan.as_secs_f64(),
        nodes as f64 / scan.as_secs_f64(),
        rss_kb(pid, "VmHWM:")
    );
    println!("  DescribeInstancePatchStates (50 nodes): p50 {s50:.1} ms, p99 {s99:.1} ms");
    println!("  DescribeInstancePatchStatesForPatchGroup (MissingCount > 0, first 50 of {nodes}): p50 {g50:.1} ms, p99 {g99:.1} ms");
    println!("  DescribePatchGroupState ({nodes} nodes): p50 {t50:.1} ms, p99 {t99:.1} ms");
    println!("  DescribeInstancePatches (one node, State = Missing): p50 {p50:.2} ms, p99 {p99:.2} ms");
    Ok(())
}

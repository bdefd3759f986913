//! Inventory at fleet scale: simulated nodes each report 300 applications (drawn from a
//! pool of 1,000 packages in three versions each, so values repeat across the fleet as
//! they do), then GetInventory with a filter and with an aggregation, and
//! ListInventoryEntries, are timed; store bytes per node come from the SQLite file. Last,
//! the real agent's gathering on this machine (`steward-agent inventory`): wall time and
//! peak RSS.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{fleet, rss_kb, start_server, Args, Client};

const APPS_PER_NODE: usize = 300;
const POOL: usize = 1_000;
const WRITERS: usize = 16;
const PER_ACTIVATION: usize = 1_000;

fn applications(node: usize) -> Vec<Value> {
    (0..APPS_PER_NODE)
        .map(|k| {
            // Node n has packages n*7+k*3 mod POOL: overlapping sets, each app in ~30% of nodes.
            let p = (node * 7 + k * 3) % POOL;
            let version = format!("{}.{}.{}", p % 5, (node + p) % 3, p % 11);
            json!({"Name": format!("pkg-{p:04}"), "Version": version, "Release": "1", "Epoch": "",
                   "Architecture": "amd64", "Publisher": format!("Team {}", p % 40),
                   "Summary": format!("package number {p}, simulated"), "ApplicationType": "utils",
                   "InstalledTime": "2026-11-01T10:00:00Z", "URL": "", "PackageId": format!("pkg-{p:04}_{version}_amd64.deb")})
        })
        .collect()
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn timed(client: &mut Client, operation: &str, body: &Value, runs: usize) -> anyhow::Result<(f64, f64, Value)> {
    let mut times = Vec::new();
    let mut last = Value::Null;
    for _ in 0..runs {
        let started = Instant::now();
        last = client.call(operation, body).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.99), last))
}

/// Prints the inventory figures.
pub async fn inventory_figures(args: &Args) -> anyhow::Result<()> {
    let nodes = args.inventory_nodes;
    let server = start_server(args)?;
    let pid = server.child.id();
    let mut client = Client::connect(&server).await?;
    let activations = client.activations(nodes, json!({})).await?;
    fleet::start(&server.addr, &activations, nodes, PER_ACTIVATION).await?;
    let ids = client.collect("DescribeInstanceInformation", "InstanceInformationList", "InstanceId").await?;
    anyhow::ensure!(ids.len() == nodes, "{} nodes registered of {nodes}", ids.len());

    let queue = std::sync::Arc::new(std::sync::Mutex::new(ids.iter().cloned().enumerate().collect::<Vec<_>>()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..WRITERS {
        let mut client = Client::connect(&server).await?;
        let queue = queue.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().expect("queue").pop();
                let Some((n, id)) = next else { return anyhow::Ok(()) };
                let body = json!({"InstanceId": id, "Items": [
                    {"TypeName": "AWS:Application", "SchemaVersion": "1.1", "CaptureTime": "2026-12-07T10:00:00Z",
                     "Content": applications(n)},
                    {"TypeName": "AWS:InstanceInformation", "SchemaVersion": "1.0", "CaptureTime": "2026-12-07T10:00:00Z",
                     "Content": [{"InstanceId": id, "PlatformType": "Linux", "PlatformName": "Debian GNU/Linux",
                                  "PlatformVersion": format!("{}", 11 + n % 2), "ResourceType": "ManagedInstance"}]}]});
                client.call("PutInventory", &body).await?;
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    let ingest = started.elapsed();
    // The first connection sat idle through the ingest, past the server's keep-alive limit.
    let mut client = Client::connect(&server).await?;
    // The same reports again, unchanged: what every later gathering costs.
    let started = Instant::now();
    for (n, id) in ids.iter().enumerate().take(1_000) {
        let body = json!({"InstanceId": id, "Items": [{"TypeName": "AWS:Application", "SchemaVersion": "1.1",
            "CaptureTime": "2026-12-07T11:00:00Z", "Content": applications(n)}]});
        client.call("PutInventory", &body).await?;
    }
    let unchanged = started.elapsed() / 1_000;

    let filter = json!({"Filters": [{"Key": "AWS:Application.Name", "Values": ["pkg-0042"], "Type": "Equal"}], "MaxResults": 50});
    let (f50, f99, page) = timed(&mut client, "GetInventory", &filter, 50).await?;
    let matched = page["Entities"].as_array().map_or(0, Vec::len);
    let two = json!({"Filters": [{"Key": "AWS:Application.Name", "Values": ["pkg-0042"], "Type": "Equal"},
                                 {"Key": "AWS:Application.Version", "Values": ["2.0"], "Type": "LessThan"}], "MaxResults": 50});
    let (v50, v99, _) = timed(&mut client, "GetInventory", &two, 20).await?;
    let platform = json!({"Aggregators": [{"Expression": "AWS:InstanceInformation.PlatformVersion"}]});
    let (p50, p99, _) = timed(&mut client, "GetInventory", &platform, 20).await?;
    let by_name = json!({"Aggregators": [{"Expression": "AWS:Application.Name"}]});
    let (a50, a99, agg) = timed(&mut client, "GetInventory", &by_name, 5).await?;
    let rows = agg["Entities"][0]["Data"]["AWS:Application"]["Content"].as_array().map_or(0, Vec::len);
    let list = json!({"InstanceId": ids[nodes / 2], "TypeName": "AWS:Application", "MaxResults": 50});
    let (l50, l99, _) = timed(&mut client, "ListInventoryEntries", &list, 200).await?;

    let db: u64 = ["steward.db", "steward.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(server.data_dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!();
    println!("Inventory: {nodes} simulated nodes x {APPS_PER_NODE} applications");
    println!(
        "  PutInventory ingest: {:.0} nodes/s ({:.0} entries/s) with {WRITERS} writers; unchanged report {:.1} ms; store {:.1} KB/node; server peak RSS {} KB",
        nodes as f64 / ingest.as_secs_f64(),
        (nodes * APPS_PER_NODE) as f64 / ingest.as_secs_f64(),
        unchanged.as_secs_f64() * 1000.0,
        db as f64 / 1024.0 / nodes as f64,
        rss_kb(pid, "VmHWM:")
    );
    println!("  GetInventory, Name = pkg-0042 (first page, {matched} nodes): p50 {f50:.1} ms, p99 {f99:.1} ms");
    println!("  GetInventory, Name = pkg-0042 and Version < 2.0: p50 {v50:.1} ms, p99 {v99:.1} ms");
    println!("  GetInventory, count by PlatformVersion: p50 {p50:.1} ms, p99 {p99:.1} ms");
    println!(
        "  GetInventory, count by application Name ({rows} rows over the fleet): p50 {a50:.1} ms, p99 {a99:.1} ms"
    );
    println!("  ListInventoryEntries (50 of one node's 300): p50 {l50:.2} ms, p99 {l99:.2} ms");
    drop(server);
    gathering_figures(args)
}

/// The real agent gathering this machine's inventory (printed, not sent).
fn gathering_figures(args: &Args) -> anyhow::Result<()> {
    let agent = args.steward.with_file_name("steward-agent");
    let state = std::env::temp_dir().join(format!("steward-bench-agent-{}", std::process::id()));
    std::fs::create_dir_all(&state)?;
    let out_path = state.join("inventory.json");
    let started = Instant::now();
    let mut child = std::process::Command::new(&agent)
        .arg("--state-dir")
        .arg(&state)
        .arg("inventory")
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    // The agent's high-water mark, read from /proc while it runs (VmHWM only grows); the
    // rusage of a forked child would count the bench's own pages from before exec.
    let mut peak_kb = 0;
    let status = loop {
        peak_kb = peak_kb.max(crate::rss_kb(child.id(), "VmHWM:"));
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let took = started.elapsed();
    let stdout = std::fs::read(&out_path)?;
    let _ = std::fs::remove_dir_all(&state);
    anyhow::ensure!(status.success(), "steward-agent inventory failed: {status}");
    let items: Value = serde_json::from_slice(&stdout)?;
    let apps = items
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["type_name"] == "AWS:Application")
        .and_then(|i| i["content"].as_array().map(Vec::len))
        .unwrap_or(0);
    println!(
        "  gathering on this machine ({apps} packages): {:.0} ms wall, peak RSS {peak_kb} KB",
        took.as_secs_f64() * 1000.0
    );
    Ok(())
}

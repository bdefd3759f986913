//! Distributor's figures: a 50 MB package published with `steward package create` (upload
//! rate), then installed on 20 real agents at once through AWS-ConfigureAWSPackage — the
//! bytes the server served per second, the wall time until every node reported, and the
//! server's RSS while it served (files are read a chunk at a time, never held whole).

use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;
use serde_json::json;

use crate::{rss_kb, start_server, Args, Client};

const AGENTS: usize = 20;
const PACKAGE_MB: usize = 50;

struct Agents(Vec<Child>);

impl Drop for Agents {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Prints the figures.
pub async fn distributor_figures(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args)?;
    let pid = server.child.id();
    let mut client = Client::connect(&server).await?;

    // A package of incompressible bytes, so the zip is as big as the payload.
    let folder = server.data_dir.join("package");
    std::fs::create_dir_all(&folder)?;
    let mut payload = vec![0u8; PACKAGE_MB << 20];
    rand::thread_rng().fill_bytes(&mut payload);
    std::fs::write(folder.join("payload.bin"), &payload)?;
    drop(payload);
    std::fs::write(folder.join("install.sh"), "test -s payload.bin\n")?;
    std::fs::write(folder.join("uninstall.sh"), "true\n")?;
    let started = Instant::now();
    let published = Command::new(&args.steward)
        .args(["package", "create", "--name", "BenchPackage", "--version", "1.0"])
        .arg("--platform")
        .arg(format!("_any/_any/_any={}", folder.display()))
        .args(["--endpoint-url", &format!("http://{}", server.addr), "--region", &server.region])
        .env("AWS_ACCESS_KEY_ID", &server.creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &server.creds.secret_access_key)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()?;
    anyhow::ensure!(
        published.status.success(),
        "steward package create: {}",
        String::from_utf8_lossy(&published.stderr)
    );
    let publish_secs = started.elapsed().as_secs_f64();
    let summary: serde_json::Value = serde_json::from_slice(&published.stdout)?;
    let size = summary["Files"][0]["Size"].as_u64().unwrap_or_default();

    // Twenty real agents.
    let agent_bin = args.steward.with_file_name("steward-agent");
    let activation = client.call("CreateActivation", &json!({"IamRole": "Bench", "RegistrationLimit": AGENTS})).await?;
    let mut agents = Agents(Vec::new());
    for i in 0..AGENTS {
        let state = server.data_dir.join(format!("agent-{i}"));
        agents.0.push(crate::start_real_agent(&agent_bin, &server, &activation, &state)?);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let nodes = client.call("DescribeInstanceInformation", &json!({"MaxResults": 50})).await?;
        let online = nodes["InstanceInformationList"]
            .as_array()
            .map(|l| l.iter().filter(|n| n["PingStatus"] == "Online").count())
            .unwrap_or(0);
        if online == AGENTS {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{online} of {AGENTS} agents online after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The fan-out, with the server's RSS sampled while it serves.
    let idle_rss = rss_kb(pid, "VmRSS:");
    let (stop, peak) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(idle_rss)));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kb(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let body = json!({"DocumentName": "AWS-ConfigureAWSPackage", "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
                      "MaxConcurrency": "100%", "Parameters": {"action": ["Install"], "name": ["BenchPackage"]}});
    let took = client.run_command(&body, Duration::from_secs(600)).await;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let took = took?.as_secs_f64();
    let served = size as f64 * AGENTS as f64 / 1_048_576.0;
    println!();
    println!("Distributor ({PACKAGE_MB} MB of random bytes, zip {:.1} MB)", size as f64 / 1_048_576.0);
    println!(
        "  publish (zip + upload + CreateDocument): {publish_secs:.2} s ({:.1} MB/s)",
        size as f64 / 1_048_576.0 / publish_secs
    );
    println!(
        "  install on {AGENTS} real agents at once: {took:.2} s wall, {served:.0} MB served at {:.1} MB/s",
        served / took
    );
    println!(
        "  server RSS: {} MB idle, {} MB peak while serving",
        idle_rss / 1024,
        peak.load(Ordering::Relaxed) / 1024
    );
    Ok(())
}

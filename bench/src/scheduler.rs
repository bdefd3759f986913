//! State Manager at scale: 10,000 associations over 1,000 simulated nodes (ten nodes per
//! `group` tag, each association targeting one group). Reports how fast associations are
//! created, the server's CPU share while they only wait for their schedule, and how fast
//! due runs are turned into executions and delivered invocations (every association made
//! due at once with StartAssociationsOnce, which books runs through the scheduler's due
//! index like a schedule does).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{fleet, rss_kb, start_server, Args, Client};

const NODES: usize = 1_000;
const GROUP: usize = 10;
const ASSOCIATIONS: usize = 10_000;
const WRITERS: usize = 16;

/// Clock ticks (user + system) the process has used.
pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// The share of one core the process used over `window`.
pub(crate) async fn cpu_share(pid: u32, window: Duration) -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let before = cpu_ticks(pid);
    tokio::time::sleep(window).await;
    (cpu_ticks(pid) - before) as f64 / ticks_per_second / window.as_secs_f64()
}

/// Runs `calls` of `operation` from `WRITERS` clients; returns the elapsed time.
async fn fan_out(
    server: &crate::Server,
    operation: &'static str,
    bodies: Vec<serde_json::Value>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
    let mut workers = Vec::new();
    for _ in 0..WRITERS {
        let mut client = Client::connect(server).await?;
        let queue = queue.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().expect("queue").pop();
                let Some(body) = next else { return anyhow::Ok(()) };
                client.call(operation, &body).await?;
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok(started.elapsed())
}

/// Prints the State Manager figures.
pub async fn scheduler_figures(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args)?;
    let pid = server.child.id();
    let mut client = Client::connect(&server).await?;
    let mut activations = Vec::new();
    for g in 0..NODES / GROUP {
        let a = client
            .call(
                "CreateActivation",
                &json!({"IamRole": "Bench", "RegistrationLimit": GROUP,
                        "Tags": [{"Key": "group", "Value": format!("g{g}")}]}),
            )
            .await?;
        activations.push((
            a["ActivationId"].as_str().unwrap_or_default().to_owned(),
            a["ActivationCode"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let (counters, _) = fleet::start(&server.addr, &activations, NODES, GROUP).await?;
    // The nodes' own cost (heartbeats) with nothing scheduled, to set the scheduler's against.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let baseline = cpu_share(pid, Duration::from_secs(10)).await;
    let bodies: Vec<_> = (0..ASSOCIATIONS)
        .map(|i| {
            json!({"Name": "AWS-RunShellScript", "Parameters": {"commands": ["true"]},
                   "Targets": [{"Key": "tag:group", "Values": [format!("g{}", i % (NODES / GROUP))]}],
                   "ScheduleExpression": "rate(1 day)", "ApplyOnlyAtCronInterval": true,
                   "AssociationName": format!("bench-{i}")})
        })
        .collect();
    let created = fan_out(&server, "CreateAssociation", bodies).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = cpu_share(pid, Duration::from_secs(10)).await;
    let idle_rss = rss_kb(pid, "VmRSS:");

    let ids = client.collect("ListAssociations", "Associations", "AssociationId").await?;
    anyhow::ensure!(ids.len() == ASSOCIATIONS, "listed {} associations", ids.len());
    let before = counters.completed.load(Ordering::Relaxed);
    let expected = before + ASSOCIATIONS * GROUP;
    let cpu_before = cpu_ticks(pid);
    let started = Instant::now();
    let bodies: Vec<_> = ids.chunks(10).map(|c| json!({"AssociationIds": c})).collect();
    fan_out(&server, "StartAssociationsOnce", bodies).await?;
    while counters.completed.load(Ordering::Relaxed) < expected {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(900), "runs not delivered after 900 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let busy = (cpu_ticks(pid) - cpu_before) as f64 / 100.0 / took;
    println!();
    println!("State Manager: {ASSOCIATIONS} associations over {NODES} simulated nodes ({GROUP} per association)");
    println!(
        "  created {:.0} associations/s; idle: {:.1}% of one core with all scheduled vs {:.1}% with none (the nodes' heartbeats), RSS {idle_rss} KB",
        ASSOCIATIONS as f64 / created.as_secs_f64(),
        idle * 100.0,
        baseline * 100.0
    );
    println!(
        "  all due at once: {:.0} runs/s started and delivered ({:.0} invocations/s), {took:.1} s, {:.0}% of one core, peak RSS {} KB",
        ASSOCIATIONS as f64 / took,
        (ASSOCIATIONS * GROUP) as f64 / took,
        busy * 100.0,
        rss_kb(pid, "VmHWM:")
    );
    Ok(())
}

//! Automation's figures: executions started per second (StartAutomationExecution from
//! several clients), step transitions per second of a 10-step runbook run to its end by the
//! server's engine, and the server's memory with 1,000 executions asleep (100 running, 900
//! queued, as SSM's quotas have them).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{rss_kb, start_server, Args, Client};

const ROUNDS: usize = 5;
const PER_ROUND: usize = 100;
const CLIENTS: usize = 4;
const SLEEPERS: usize = 1_000;

/// Ten steps: nine branches (one transition each) and a closing zero sleep.
fn ten_steps() -> Value {
    let mut steps: Vec<Value> = (0..9)
        .map(|i| {
            let next = format!("s{}", i + 1);
            json!({"name": format!("s{i}"), "action": "aws:branch", "inputs": {
                "Choices": [{"NextStep": next, "Variable": "{{ Level }}", "NumericGreater": 100}], "Default": next}})
        })
        .collect();
    steps.push(json!({"name": "s9", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}}));
    json!({"schemaVersion": "0.3", "parameters": {"Level": {"type": "Integer", "default": 5}}, "mainSteps": steps})
}

async fn create(client: &mut Client, name: &str, content: Value) -> anyhow::Result<()> {
    client
        .call("CreateDocument", &json!({"Name": name, "DocumentType": "Automation", "Content": content.to_string()}))
        .await?;
    Ok(())
}

/// Starts `count` executions of `name` from [`CLIENTS`] clients; their ids and the
/// latencies of the calls (ms).
async fn start_many(server: &crate::Server, name: &str, count: usize) -> anyhow::Result<(Vec<String>, Vec<f64>)> {
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut client = Client::connect(server).await?;
        let name = name.to_owned();
        let mine = count / CLIENTS + usize::from(c < count % CLIENTS);
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(mine);
            for _ in 0..mine {
                let started = Instant::now();
                let answer = client.call("StartAutomationExecution", &json!({"DocumentName": name})).await?;
                let id = answer["AutomationExecutionId"].as_str().unwrap_or_default().to_owned();
                out.push((id, started.elapsed().as_secs_f64() * 1000.0));
            }
            anyhow::Ok(out)
        }));
    }
    let (mut ids, mut times) = (Vec::new(), Vec::new());
    for t in tasks {
        for (id, ms) in t.await?? {
            ids.push(id);
            times.push(ms);
        }
    }
    Ok((ids, times))
}

/// Waits until no execution is Pending, InProgress or Waiting.
async fn until_idle(client: &mut Client, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let open = json!({"MaxResults": 1, "Filters": [
            {"Key": "ExecutionStatus", "Values": ["Pending", "InProgress", "Waiting"]}]});
        let page = client.call("DescribeAutomationExecutions", &open).await?;
        if page["AutomationExecutionMetadataList"].as_array().is_none_or(Vec::is_empty) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "executions still running after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Prints the Automation figures.
pub async fn automation_figures(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args)?;
    let pid = server.child.id();
    let mut client = Client::connect(&server).await?;
    create(&mut client, "BenchTenSteps", ten_steps()).await?;
    println!();
    println!("Automation (release server, SQLite, {CLIENTS} clients):");
    let (mut latencies, mut start_time, mut run_time) = (Vec::new(), Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let began = Instant::now();
        let (_, times) = start_many(&server, "BenchTenSteps", PER_ROUND).await?;
        start_time += began.elapsed();
        latencies.extend(times);
        until_idle(&mut client, Duration::from_secs(300)).await?;
        run_time += began.elapsed();
    }
    latencies.sort_by(f64::total_cmp);
    let executions = ROUNDS * PER_ROUND;
    println!(
        "  StartAutomationExecution: {:.0} executions/s started (p50 {:.1} ms, p99 {:.1} ms over {executions})",
        executions as f64 / start_time.as_secs_f64(),
        percentile(&latencies, 50),
        percentile(&latencies, 99)
    );
    println!(
        "  10-step runbook run to its end, {PER_ROUND} at a time: {:.0} step transitions/s ({executions} executions in {:.1} s)",
        (executions * 10) as f64 / run_time.as_secs_f64(),
        run_time.as_secs_f64()
    );

    let sleeping = json!({"schemaVersion": "0.3", "mainSteps": [
        {"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT1H"}}]});
    create(&mut client, "BenchSleeper", sleeping).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kb(pid, "VmRSS:");
    start_many(&server, "BenchSleeper", SLEEPERS).await?;
    tokio::time::sleep(Duration::from_secs(3)).await; // a few scheduler passes over them all
    let after = rss_kb(pid, "VmRSS:");
    let waiting = json!({"MaxResults": 50, "Filters": [{"Key": "ExecutionStatus", "Values": ["InProgress"]}]});
    let pass = Instant::now();
    client.call("DescribeAutomationExecutions", &waiting).await?;
    println!(
        "  {SLEEPERS} executions asleep (100 running, 900 queued): server RSS {before} KB -> {after} KB \
         (+{:.1} KB per execution); DescribeAutomationExecutions over them {:.1} ms",
        (after.saturating_sub(before)) as f64 / SLEEPERS as f64,
        pass.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

//! `steward-bench`: starts a real `steward server`, drives it with N concurrent keep-alive
//! clients that SigV4-sign every request, and prints ops/s, p50/p99 latency and the
//! server's RSS for each scenario, beside the bare-HTTP ceiling of `GET /healthz`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use steward_api::sigv4::{self, Credentials, Signer};

mod automation;
mod console;
mod distributor;
mod edges;
mod fleet;
mod inventory;
mod patch;
mod scheduler;
mod sessions;
mod shells;
mod ssh;

#[derive(Parser, Debug)]
#[command(about = "Load generator for Steward's API")]
struct Args {
    /// The steward binary to start.
    #[arg(long)]
    steward: PathBuf,
    /// Concurrent keep-alive clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Store URL for the server (default: SQLite in a temporary data dir).
    #[arg(long)]
    store: Option<String>,
    /// Run only scenarios whose label contains this text (case-insensitive).
    #[arg(long)]
    only: Option<String>,
    /// Fleet sizes for the Run Command fan-out benchmark (comma-separated; empty to skip).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    fleet: Vec<usize>,
    /// Simulated nodes in the inventory and patching scenarios.
    #[arg(long, default_value_t = 10_000)]
    inventory_nodes: usize,
    /// Idle shell sessions held open at once in the sessions scenario.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
}

struct Server {
    child: Child,
    addr: String,
    creds: Credentials,
    /// An IAM user bound by 10 managed policies of 10 statements each.
    user: Option<Credentials>,
    region: String,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_server(args: &Args) -> anyhow::Result<Server> {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let data_dir = std::env::temp_dir().join(format!("steward-bench-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let addr = format!("127.0.0.1:{}", free_port()?);
    let mut cmd = Command::new(&args.steward);
    cmd.args(["server", "--listen", &addr, "--data-dir"]).arg(&data_dir).env("STEWARD_LOG", "warn");
    if let Some(store) = &args.store {
        cmd.args(["--store", store]);
    }
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().context("cannot start steward")?;
    let env_path = data_dir.join("admin.env");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !env_path.exists() {
        if Instant::now() > deadline {
            bail!("steward did not write {}", env_path.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let text = std::fs::read_to_string(&env_path)?;
    let var = |name: &str| -> anyhow::Result<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(str::to_owned)
            .with_context(|| format!("{name} missing from admin.env"))
    };
    Ok(Server {
        creds: Credentials {
            access_key_id: var("AWS_ACCESS_KEY_ID")?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")?,
        },
        region: var("AWS_REGION")?,
        user: None,
        child,
        addr,
        data_dir,
    })
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// One keep-alive connection that signs what it sends.
struct Client {
    sender: http1::SendRequest<Full<Bytes>>,
    addr: String,
    signer: Signer,
}

impl Client {
    async fn connect(server: &Server) -> anyhow::Result<Client> {
        Self::connect_as(server, server.creds.clone(), "ssm").await
    }

    async fn connect_as(server: &Server, creds: Credentials, service: &str) -> anyhow::Result<Client> {
        let stream = tokio::net::TcpStream::connect(&server.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Client { sender, addr: server.addr.clone(), signer: Signer::new(creds, &server.region, service) })
    }

    /// One signed IAM query-protocol call; returns the XML answer.
    async fn iam(&mut self, params: &[(&str, &str)]) -> anyhow::Result<String> {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("Version", "2010-05-08")
            .extend_pairs(params)
            .finish();
        let bytes =
            self.send_signed(&[("content-type", "application/x-www-form-urlencoded")], body.into_bytes()).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Signs and sends a POST to `/` with `headers` (besides host); fails on a non-2xx answer.
    async fn send_signed(&mut self, extra: &[(&str, &str)], body: Vec<u8>) -> anyhow::Result<Bytes> {
        let mut headers = vec![("host", self.addr.as_str())];
        headers.extend_from_slice(extra);
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
        let unsigned =
            sigv4::Request { method: "POST", path: "/", query: "", headers: &headers, body: &body, payload_hash: None };
        let (date, authorization) = self.signer.sign(&unsigned, now);
        let mut builder = http::Request::post("/");
        for (k, v) in &headers {
            builder = builder.header(*k, *v);
        }
        let req = builder
            .header("x-amz-date", date)
            .header("authorization", authorization)
            .body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        anyhow::ensure!(status.is_success(), "answered {status}: {}", String::from_utf8_lossy(&bytes));
        Ok(bytes)
    }

    async fn healthz(&mut self) -> anyhow::Result<()> {
        let req = http::Request::get("/healthz").header("host", &self.addr).body(Full::new(Bytes::new()))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        resp.into_body().collect().await?;
        anyhow::ensure!(status.is_success(), "healthz answered {status}");
        Ok(())
    }

    /// Sends one signed call and returns the raw answer; parsing is left to callers that
    /// need it, so the generator spends its CPU on load rather than on decoding.
    async fn call_raw(&mut self, operation: &str, body: &Value) -> anyhow::Result<Bytes> {
        let target = format!("AmazonSSM.{operation}");
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
        self.send_signed(&headers, serde_json::to_vec(body)?).await.with_context(|| operation.to_owned())
    }

    async fn call(&mut self, operation: &str, body: &Value) -> anyhow::Result<Value> {
        Ok(serde_json::from_slice(&self.call_raw(operation, body).await?)?)
    }

    /// Activations for `count` agents, one per thousand (SSM's cap on registrations), each
    /// made with `extra` merged into CreateActivation's body.
    async fn activations(&mut self, count: usize, extra: Value) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for chunk in 0..count.div_ceil(1000) {
            let mut body = json!({"IamRole": "Bench", "RegistrationLimit": (count - chunk * 1000).min(1000)});
            for (k, v) in extra.as_object().into_iter().flatten() {
                body[k] = v.clone();
            }
            let a = self.call("CreateActivation", &body).await?;
            out.push((
                a["ActivationId"].as_str().unwrap_or_default().to_owned(),
                a["ActivationCode"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        Ok(out)
    }

    /// SendCommand, then waits (up to `limit`) for the command to succeed.
    async fn run_command(&mut self, body: &Value, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let sent = self.call("SendCommand", body).await?;
        let command_id = sent["Command"]["CommandId"].as_str().unwrap_or_default().to_owned();
        loop {
            let listed = self.call("ListCommands", &json!({"CommandId": command_id})).await?;
            let status = listed["Commands"][0]["Status"].as_str().unwrap_or_default().to_owned();
            if status == "Success" {
                return Ok(started.elapsed());
            }
            anyhow::ensure!(!matches!(status.as_str(), "Failed" | "TimedOut" | "Cancelled"), "command ended {status}");
            anyhow::ensure!(started.elapsed() < limit, "command not done after {} s", limit.as_secs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `field` of every item of `list` over all pages of `operation`.
    async fn collect(&mut self, operation: &str, list: &str, field: &str) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = serde_json::json!({"MaxResults": 50});
            if let Some(t) = &token {
                body["NextToken"] = serde_json::json!(t);
            }
            let page = self.call(operation, &body).await?;
            for item in page[list].as_array().into_iter().flatten() {
                out.push(item[field].as_str().unwrap_or_default().to_owned());
            }
            token = page["NextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Scenario {
    Healthz,
    GetString,
    GetStringAsUser,
    GetSecure,
    ByPath,
    Put,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Scenario::Healthz => "GET /healthz (bare HTTP)",
            Scenario::GetString => "GetParameter String",
            Scenario::GetStringAsUser => "GetParameter String, user with 10x10 policy",
            Scenario::GetSecure => "GetParameter SecureString+decrypt",
            Scenario::ByPath => "GetParametersByPath page (1,000 params)",
            Scenario::Put => "PutParameter (durable)",
        }
    }
}

struct Figures {
    ops: u64,
    seconds: f64,
    p50_us: u64,
    p99_us: u64,
}

async fn drive(server: &Server, scenario: Scenario, clients: usize, seconds: u64) -> anyhow::Result<Figures> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for id in 0..clients {
        let mut client = match (scenario, &server.user) {
            (Scenario::GetStringAsUser, Some(user)) => Client::connect_as(server, user.clone(), "ssm").await?,
            _ => Client::connect(server).await?,
        };
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            let mut token: Option<String> = None;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match scenario {
                    Scenario::Healthz => client.healthz().await?,
                    Scenario::GetString | Scenario::GetStringAsUser => {
                        client.call_raw("GetParameter", &json!({"Name": "/bench/string"})).await?;
                    }
                    Scenario::GetSecure => {
                        client.call_raw("GetParameter", &json!({"Name": "/bench/secret", "WithDecryption": true})).await?;
                    }
                    Scenario::ByPath => {
                        let mut body = json!({"Path": "/bench/tree", "Recursive": true, "MaxResults": 10});
                        if let Some(t) = &token {
                            body["NextToken"] = json!(t);
                        }
                        let out = client.call("GetParametersByPath", &body).await?;
                        token = out["NextToken"].as_str().map(str::to_owned);
                    }
                    Scenario::Put => {
                        n += 1;
                        let body = json!({"Name": format!("/bench/put/{id}"), "Value": format!("v{n}"), "Type": "String", "Overwrite": true});
                        client.call_raw("PutParameter", &body).await?;
                    }
                }
                latencies.push(started.elapsed().as_micros() as u32);
            }
            anyhow::Ok(latencies)
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0) as u64
    };
    Ok(Figures { ops: all.len() as u64, seconds: elapsed, p50_us: pct(0.50), p99_us: pct(0.99) })
}

/// Rounds of the policy-cost comparison.
const POLICY_ROUNDS: usize = 4;

/// GetParameter ops/s of the root and of the policy-bound user, measured in alternating
/// rounds so that drift in the server (its store and audit log grow as it runs) and in
/// the machine falls on both alike.
async fn policy_cost(server: &Server, clients: usize, seconds: u64) -> anyhow::Result<(f64, f64)> {
    let (mut root, mut user) = ((0u64, 0.0), (0u64, 0.0));
    for round in 0..POLICY_ROUNDS {
        // Each goes first in every other round: whatever slows the later run of a pair
        // (a warmer or fuller server) falls on both alike.
        let mut order = [(Scenario::GetString, &mut root), (Scenario::GetStringAsUser, &mut user)];
        if round % 2 == 1 {
            order.reverse();
        }
        for (scenario, sum) in order {
            let f = drive(server, scenario, clients, seconds).await?;
            sum.0 += f.ops;
            sum.1 += f.seconds;
        }
    }
    Ok((root.0 as f64 / root.1, user.0 as f64 / user.1))
}

/// Makes a user whose 10 attached policies hold 10 statements each; only the last
/// statement of the last policy grants GetParameter on /bench/*, so every request walks
/// all 100.
async fn seed_user(server: &Server) -> anyhow::Result<Credentials> {
    let mut iam = Client::connect_as(server, server.creds.clone(), "iam").await?;
    iam.iam(&[("Action", "CreateUser"), ("UserName", "bench")]).await?;
    for p in 0..10 {
        let statements: Vec<Value> = (0..10)
            .map(|s| {
                if p == 9 && s == 9 {
                    json!({"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                           "Resource": "arn:aws:ssm:*:*:parameter/bench/*",
                           "Condition": {"StringEquals": {"aws:username": "${aws:username}"}}})
                } else {
                    json!({"Effect": "Allow", "Action": [format!("ssm:Describe{s}*"), "ssm:GetParameterHistory"],
                           "Resource": format!("arn:aws:ssm:*:*:parameter/team{p}/service{s}/*")})
                }
            })
            .collect();
        let document = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        let name = format!("bench-{p}");
        let created =
            iam.iam(&[("Action", "CreatePolicy"), ("PolicyName", &name), ("PolicyDocument", &document)]).await?;
        let arn = between(&created, "<Arn>", "</Arn>").context("CreatePolicy gave no Arn")?;
        iam.iam(&[("Action", "AttachUserPolicy"), ("UserName", "bench"), ("PolicyArn", &arn)]).await?;
    }
    let key = iam.iam(&[("Action", "CreateAccessKey"), ("UserName", "bench")]).await?;
    Ok(Credentials {
        access_key_id: between(&key, "<AccessKeyId>", "</AccessKeyId>").context("no key id")?,
        secret_access_key: between(&key, "<SecretAccessKey>", "</SecretAccessKey>").context("no secret")?,
    })
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].to_owned())
}

async fn seed(server: &Server) -> anyhow::Result<Duration> {
    let mut c = Client::connect(server).await?;
    c.call("PutParameter", &json!({"Name": "/bench/string", "Value": "hello", "Type": "String"})).await?;
    c.call("PutParameter", &json!({"Name": "/bench/secret", "Value": "s3cret", "Type": "SecureString"})).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..10 {
        let mut c = Client::connect(server).await?;
        tasks.push(tokio::spawn(async move {
            for i in 0..100 {
                let name = format!("/bench/tree/g{w}/p{i:03}");
                c.call("PutParameter", &json!({"Name": name, "Value": format!("value-{w}-{i}"), "Type": "String"}))
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

/// A Command document of about 60 KB: many steps, each interpolating several parameters.
fn large_document() -> String {
    let mut steps = Vec::new();
    let mut i = 0;
    loop {
        let step = json!({
            "action": "aws:runShellScript",
            "name": format!("step{i}"),
            "inputs": {
                "runCommand": ["{{ commands }}", format!("echo step {i} in {{{{ workingDirectory }}}} for {{{{ owner }}}}"), "echo done"],
                "workingDirectory": "{{ workingDirectory }}",
                "timeoutSeconds": "{{ executionTimeout }}"
            }
        });
        steps.push(step);
        i += 1;
        let doc = json!({
            "schemaVersion": "2.2",
            "description": "A large document for the benchmark.",
            "parameters": {
                "commands": {"type": "StringList", "minItems": 1},
                "workingDirectory": {"type": "String", "default": "/tmp", "maxChars": 4096},
                "executionTimeout": {"type": "String", "default": "3600", "allowedPattern": "[0-9]{1,6}"},
                "owner": {"type": "String", "default": "ops", "allowedValues": ["ops", "dev"]}
            },
            "mainSteps": steps
        });
        let text = serde_json::to_string_pretty(&doc).expect("serialises");
        if text.len() >= 60 * 1024 {
            return text;
        }
    }
}

/// Documents parsed, validated, resolved and interpolated per second, in this process.
fn document_engine_rate(seconds: u64) -> (usize, f64) {
    use steward_core::documents::{content, interpolate, params, schema};
    let text = large_document();
    let given: std::collections::BTreeMap<String, Vec<String>> =
        [("commands".to_owned(), vec!["uptime".to_owned(), "id".to_owned()])].into_iter().collect();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let tree = content::parse(&text, content::Format::Json).expect("valid JSON");
        let analysis = schema::analyze("Command", &tree).expect("valid document");
        let values = params::resolve(&analysis.parameters, &given).expect("valid parameters");
        let out = interpolate::apply(&tree["mainSteps"], &values);
        std::hint::black_box(out);
        n += 1;
    }
    (text.len(), n as f64 / started.elapsed().as_secs_f64())
}

/// Fan-out of one command to N virtual agents; prints seconds to all Success and memory.
async fn fleet_figures(args: &Args) -> anyhow::Result<()> {
    println!();
    println!(
        "{:>7} {:>12} {:>12} {:>14} {:>14} {:>12}",
        "agents", "connect s", "command s", "RSS idle KB", "RSS agents KB", "KB/agent"
    );
    for &count in &args.fleet {
        let server = start_server(args)?;
        let pid = server.child.id();
        let mut client = Client::connect(&server).await?;
        let activations = client.activations(count, json!({"DefaultInstanceName": "sim"})).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle_rss = rss_kb(pid, "VmRSS:");
        let (counters, connect_time) = fleet::start(&server.addr, &activations, count, 1000).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let agents_rss = rss_kb(pid, "VmRSS:");
        let body = json!({"DocumentName": "AWS-RunShellScript", "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
                          "MaxConcurrency": "100%", "Parameters": {"commands": ["true"]}});
        let took = client.run_command(&body, Duration::from_secs(300)).await?.as_secs_f64();
        let _ = counters;
        println!(
            "{count:>7} {:>12.2} {took:>12.2} {idle_rss:>14} {agents_rss:>14} {:>12.1}",
            connect_time.as_secs_f64(),
            (agents_rss.saturating_sub(idle_rss)) as f64 / count as f64
        );
    }
    Ok(())
}

/// Registers a real agent with `activation` (state in `state`) and starts it, quiet.
fn start_real_agent(
    agent_bin: &std::path::Path,
    server: &Server,
    activation: &Value,
    state: &std::path::Path,
) -> anyhow::Result<Child> {
    let status = Command::new(agent_bin)
        .arg("--state-dir")
        .arg(state)
        .args(["register", "--server", &format!("http://{}", server.addr)])
        .args(["--code", activation["ActivationCode"].as_str().unwrap_or_default()])
        .args(["--id", activation["ActivationId"].as_str().unwrap_or_default()])
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "agent registration failed");
    let child = Command::new(agent_bin)
        .arg("--state-dir")
        .arg(state)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    child.context("cannot start steward-agent")
}

/// The real agent's idle RSS and binary size.
async fn agent_figures(args: &Args) -> anyhow::Result<()> {
    let agent_bin = args.steward.with_file_name("steward-agent");
    let size = std::fs::metadata(&agent_bin)?.len();
    let server = start_server(args)?;
    let mut client = Client::connect(&server).await?;
    let activation = client.call("CreateActivation", &json!({"IamRole": "Bench"})).await?;
    let state = server.data_dir.join("agent");
    let mut agent = start_real_agent(&agent_bin, &server, &activation, &state)?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = rss_kb(agent.id(), "VmRSS:");
    let _ = agent.kill();
    let _ = agent.wait();
    println!();
    println!("real agent: idle RSS {rss} KB, binary {:.1} MB ({})", size as f64 / 1_048_576.0, agent_bin.display());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("sessions")) {
        return sessions::session_figures(&args).await;
    }
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("edges")) {
        return edges::edges_figures(&args).await;
    }
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("inventory")) {
        return inventory::inventory_figures(&args).await;
    }
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("console")) {
        return console::console_figures(&args).await;
    }
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("automation")) {
        return automation::automation_figures(&args).await;
    }
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("distributor")) {
        return distributor::distributor_figures(&args).await;
    }
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("patch")) {
        return patch::patch_figures(&args).await;
    }
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("scheduler")) {
        return scheduler::scheduler_figures(&args).await;
    }
    if args.only.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("fleet")) {
        agent_figures(&args).await?;
        return fleet_figures(&args).await;
    }
    if args.only.as_deref().is_none_or(|o| "documents".contains(&o.to_lowercase())) {
        let (size, rate) = document_engine_rate(args.seconds);
        println!(
            "document engine: {rate:.0} documents/s parsed+validated+interpolated ({} KB Command document, one core)",
            size / 1024
        );
        if args.only.is_some() {
            return Ok(());
        }
    }
    let mut server = start_server(&args)?;
    let pid = server.child.id();
    let seeding = seed(&server).await?;
    server.user = Some(seed_user(&server).await?);
    println!(
        "Steward benchmark: {} clients, {} s per scenario, store {}",
        args.clients,
        args.seconds,
        args.store.as_deref().unwrap_or("SQLite (default)")
    );
    println!(
        "seeded 1,000 parameters in {:.2} s; server RSS after seeding {} KB",
        seeding.as_secs_f64(),
        rss_kb(pid, "VmRSS:")
    );
    println!();
    println!("{:<42} {:>10} {:>9} {:>9} {:>12}", "scenario", "ops/s", "p50 ms", "p99 ms", "peak RSS KB");
    let mut ceiling = 0.0;
    let mut admin_rate = 0.0;
    for scenario in [
        Scenario::Healthz,
        Scenario::GetString,
        Scenario::GetStringAsUser,
        Scenario::GetSecure,
        Scenario::ByPath,
        Scenario::Put,
    ] {
        let wanted = args.only.as_ref().is_none_or(|o| scenario.label().to_lowercase().contains(&o.to_lowercase()));
        if !wanted && !matches!(scenario, Scenario::Healthz) {
            continue;
        }
        let f = drive(&server, scenario, args.clients, args.seconds).await?;
        let rate = f.ops as f64 / f.seconds;
        if matches!(scenario, Scenario::Healthz) {
            ceiling = rate;
        }
        if matches!(scenario, Scenario::GetString) {
            admin_rate = rate;
        }
        let ratio = match scenario {
            Scenario::Healthz => String::new(),
            Scenario::GetStringAsUser if admin_rate > 0.0 => {
                format!("  ({:.1}% below the root's rate in this one pair)", 100.0 * (1.0 - rate / admin_rate))
            }
            _ => format!("  ({:.0}% of bare HTTP)", 100.0 * rate / ceiling),
        };
        println!(
            "{:<42} {:>10.0} {:>9.2} {:>9.2} {:>12}{}",
            scenario.label(),
            rate,
            f.p50_us as f64 / 1000.0,
            f.p99_us as f64 / 1000.0,
            rss_kb(pid, "VmHWM:"),
            ratio
        );
    }
    if args.only.as_ref().is_none_or(|o| Scenario::GetStringAsUser.label().to_lowercase().contains(&o.to_lowercase())) {
        let (root, user) = policy_cost(&server, args.clients, args.seconds).await?;
        println!(
            "policy cost, alternating root and 10x10-policy user {POLICY_ROUNDS} times: root {root:.0} ops/s, user \
             {user:.0} ops/s, cost {:.1}%",
            100.0 * (1.0 - user / root)
        );
    }
    drop(server);
    if args.only.is_none() {
        agent_figures(&args).await?;
        fleet_figures(&args).await?;
        scheduler::scheduler_figures(&args).await?;
        inventory::inventory_figures(&args).await?;
        patch::patch_figures(&args).await?;
        automation::automation_figures(&args).await?;
        distributor::distributor_figures(&args).await?;
        sessions::session_figures(&args).await?;
        edges::edges_figures(&args).await?;
        console::console_figures(&args).await?;
    }
    Ok(())
}

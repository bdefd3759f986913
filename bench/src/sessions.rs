//! Session Manager figures: port-forwarding throughput through the server's relay (one
//! 1 GiB stream, then 32 streams at once) beside plain loopback TCP and `ssh -L`, the
//! round trip of one byte on each path, with a real agent and `steward session
//! port-forward`; the echo of a key typed into a shell; and many idle shells at once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::{start_server, Args, Client};

const GIB: u64 = 1 << 30;
const PARALLEL: usize = 32;
const ECHOES: usize = 2000;
const KEYSTROKES: usize = 500;

/// A service on "the node": on each connection, reads an 8-byte count and writes that many
/// bytes; a count of 0 turns the connection into an echo.
async fn source() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(count) = tcp.read_u64().await else { return };
                if count == 0 {
                    let mut b = [0u8; 1];
                    while tcp.read_exact(&mut b).await.is_ok() {
                        if tcp.write_all(&b).await.is_err() {
                            return;
                        }
                    }
                    return;
                }
                let chunk = vec![7u8; 256 * 1024];
                let mut left = count;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if tcp.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            });
        }
    });
    Ok(port)
}

/// Reads `bytes` from the service at `port`; returns the bytes read.
async fn pull(port: u16, bytes: u64) -> anyhow::Result<u64> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    tcp.write_u64(bytes).await?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    while got < bytes {
        let n = tcp.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "stream ended after {got} bytes");
        got += n as u64;
    }
    Ok(got)
}

/// MB/s of one stream of 1 GiB and of 32 streams of 1/32 GiB each.
async fn throughput(port: u16) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    pull(port, GIB).await?;
    let one = GIB as f64 / 1e6 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..PARALLEL {
        tasks.push(tokio::spawn(pull(port, GIB / PARALLEL as u64)));
    }
    for t in tasks {
        t.await??;
    }
    let many = GIB as f64 / 1e6 / started.elapsed().as_secs_f64();
    Ok((one, many))
}

/// p50 and p99 (ms) of a one-byte round trip.
async fn echo(port: u16) -> anyhow::Result<(f64, f64)> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    tcp.write_u64(0).await?;
    let mut times = Vec::with_capacity(ECHOES);
    let mut b = [0u8; 1];
    for i in 0..ECHOES {
        let started = Instant::now();
        tcp.write_all(&[i as u8]).await?;
        tcp.read_exact(&mut b).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[ECHOES / 2], times[ECHOES * 99 / 100]))
}

/// Where AWS's plugin is: `STEWARD_AWS_PLUGIN`, else the copy built for tests beside the
/// project (`../shared/tools/aws-session-manager-plugin/`).
fn aws_plugin() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("STEWARD_AWS_PLUGIN").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from("../shared/tools/aws-session-manager-plugin/session-manager-plugin")
    });
    path.exists().then_some(path)
}

/// `aws ssm start-session --target node` with AWS's plugin first on PATH, as an SSM user
/// runs it (add the document and parameters).
fn aws_cli_session(server: &crate::Server, node: &str) -> anyhow::Result<Command> {
    let plugin = aws_plugin().context("AWS's plugin not found (STEWARD_AWS_PLUGIN)")?;
    let bin = server.data_dir.join("aws-plugin-bin");
    std::fs::create_dir_all(&bin)?;
    let link = bin.join("session-manager-plugin");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(std::fs::canonicalize(&plugin)?, &link)?;
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("aws");
    command
        .args(["ssm", "start-session", "--target", node, "--endpoint-url", &format!("http://{}", server.addr)])
        .env("PATH", path)
        .env("AWS_ACCESS_KEY_ID", &server.creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &server.creds.secret_access_key)
        .env("AWS_REGION", &server.region)
        .env("AWS_DEFAULT_REGION", &server.region);
    Ok(command)
}

/// AWS-StartPortForwardingSession through the aws CLI and AWS's plugin; the plugin and the
/// local port once it waits for connections.
async fn aws_plugin_forward(
    server: &crate::Server,
    node: &str,
    port: u16,
) -> anyhow::Result<(tokio::process::Child, u16)> {
    let local = crate::free_port()?;
    let parameters = json!({"portNumber": [port.to_string()], "localPortNumber": [local.to_string()]});
    let mut command = aws_cli_session(server, node)?;
    command.args(["--document-name", "AWS-StartPortForwardingSession", "--parameters", &parameters.to_string()]);
    let mut child = tokio::process::Command::from(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0) // the plugin is the CLI's child: both end with the group
        .kill_on_drop(true)
        .spawn()
        .context("the aws CLI")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut seen = String::new();
    loop {
        let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await?? else {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err).await;
            }
            anyhow::bail!("the plugin ended: {seen}{err}");
        };
        if line.contains("Waiting for connections") {
            break;
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, local))
}

/// Prints the Session Manager figures.
pub async fn session_figures(args: &Args) -> anyhow::Result<()> {
    let agent_bin = args.steward.with_file_name("steward-agent");
    let server = start_server(args)?;
    let mut client = Client::connect(&server).await?;
    let activation = client.call("CreateActivation", &json!({"IamRole": "Bench"})).await?;
    let state = server.data_dir.join("agent");
    let registered = Command::new(&agent_bin)
        .arg("--state-dir")
        .arg(&state)
        .args(["register", "--server", &format!("http://{}", server.addr)])
        .args(["--code", activation["ActivationCode"].as_str().unwrap_or_default()])
        .args(["--id", activation["ActivationId"].as_str().unwrap_or_default()])
        .stdout(Stdio::piped())
        .output()?;
    anyhow::ensure!(registered.status.success(), "agent registration failed");
    let text = String::from_utf8_lossy(&registered.stdout);
    let node = text.split_whitespace().find(|w| w.starts_with("mi-")).context("no node id")?.to_owned();
    let mut agent = Command::new(&agent_bin).arg("--state-dir").arg(&state).arg("run").stderr(Stdio::null()).spawn()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let port = source().await?;
    let mut forward = tokio::process::Command::new(&args.steward)
        .args(["session", "port-forward", "--target", &node, "--remote-port", &port.to_string()])
        .env("AWS_ACCESS_KEY_ID", &server.creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &server.creds.secret_access_key)
        .env("AWS_REGION", &server.region)
        .env("AWS_ENDPOINT_URL", format!("http://{}", server.addr))
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(forward.stderr.take().context("stderr")?).lines();
    let local = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await??.context("no port")?;
        if let Some(rest) = line.strip_prefix("Port ") {
            break rest.split_whitespace().next().unwrap_or_default().parse::<u16>()?;
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    println!();
    println!("Session Manager port forwarding (real agent, steward session port-forward, loopback):");
    println!("{:<34} {:>12} {:>16} {:>10} {:>10}", "path", "1 GiB MB/s", "32 streams MB/s", "echo p50", "echo p99");
    let row = |label: &str, (one, many): (f64, f64), (p50, p99): (f64, f64)| {
        println!("{label:<34} {one:>12.0} {many:>16.0} {p50:>9.3}ms {p99:>9.3}ms");
    };
    row("direct loopback TCP", throughput(port).await?, echo(port).await?);
    row("through the relay (plain ws://)", throughput(local).await?, echo(local).await?);
    let _ = forward.kill().await;
    match aws_plugin_forward(&server, &node, port).await {
        Ok((mut plugin, local)) => {
            row("AWS session-manager-plugin (smux v1)", throughput(local).await?, echo(local).await?);
            if let Some(pid) = plugin.id() {
                // SAFETY: plain kill(2) on the group the CLI leads.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            }
            let _ = plugin.wait().await;
        }
        Err(e) => println!("{:<34} skipped: {e:#}", "AWS session-manager-plugin"),
    }
    match crate::ssh::Sshd::start().await {
        Ok(sshd) => {
            let (mut ssh, local) = sshd.forward(port).await?;
            row("ssh -L (OpenSSH, default cipher)", throughput(local).await?, echo(local).await?);
            let _ = ssh.kill().await;
        }
        Err(e) => println!("{:<34} skipped: {e:#}", "ssh -L"),
    }

    let mut steward = Command::new(&args.steward);
    steward
        .args(["session", "start", "--target", &node])
        .env("AWS_ACCESS_KEY_ID", &server.creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &server.creds.secret_access_key)
        .env("AWS_REGION", &server.region)
        .env("AWS_ENDPOINT_URL", format!("http://{}", server.addr));
    let (key_p50, key_p99) = tokio::task::block_in_place(|| crate::shells::keystroke_echo(steward, KEYSTROKES))?;
    println!();
    println!(
        "keystroke echo in a shell (steward session start on a PTY -> relay -> agent PTY -> bash): \
         p50 {key_p50:.3} ms, p99 {key_p99:.3} ms over {KEYSTROKES} keys"
    );
    match aws_cli_session(&server, &node) {
        Ok(aws) => {
            let (p50, p99) = tokio::task::block_in_place(|| crate::shells::keystroke_echo(aws, KEYSTROKES))?;
            println!(
                "keystroke echo in a shell (aws ssm start-session with AWS's plugin on a PTY -> relay -> agent): \
                 p50 {p50:.3} ms, p99 {p99:.3} ms over {KEYSTROKES} keys"
            );
        }
        Err(e) => println!("keystroke echo through AWS's plugin skipped: {e:#}"),
    }
    let idle = crate::shells::idle_sessions(&server, &node, agent.id(), args.sessions).await?;
    println!(
        "{} idle shell sessions on one server and one node: opened in {:.1} s ({:.0}/s); server RSS +{:.1} KB \
         per session, agent RSS +{:.1} KB per session (shells not counted); server CPU while idle {:.1}% of a \
         core; all terminated in {:.1} s",
        idle.sessions,
        idle.open.as_secs_f64(),
        idle.sessions as f64 / idle.open.as_secs_f64(),
        idle.server_kb_per_session,
        idle.agent_kb_per_session,
        idle.server_cpu * 100.0,
        idle.terminate.as_secs_f64()
    );
    let _ = agent.kill();
    let _ = agent.wait();
    Ok(())
}

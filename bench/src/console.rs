//! The web console's figures, measured in a real browser (Debian's chromium driven by the
//! console's own Playwright script, `console/tests/console.mjs figures`): the first load
//! from a cold cache, sign-in to the fleet, each page's API calls, and the live Run Command
//! page following a command on 1,000 virtual nodes that finish over 20 seconds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};

use crate::{fleet, rss_kb, start_server, Args, Client};

/// Nodes the live command runs on.
const NODES: usize = 1000;
/// Each node takes up to this long to finish, so the page follows a command in flight.
const WORK: Duration = Duration::from_secs(20);

fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    path.exists().then_some(path)
}

/// The console's script, when its packages are installed (`make console`).
fn script() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.to_path_buf();
    let script = root.join("console/tests/console.mjs");
    root.join("console/node_modules/playwright-core").exists().then_some(script)
}

pub async fn console_figures(args: &Args) -> anyhow::Result<()> {
    println!();
    let (Some(chromium), Some(script)) = (chromium(), script()) else {
        println!("console: skipped (needs /usr/bin/chromium or CHROMIUM, and `make console` for its packages)");
        return Ok(());
    };
    let server = start_server(args)?;
    let mut client = Client::connect(&server).await?;
    let activations = client.activations(NODES, json!({"DefaultInstanceName": "sim"})).await?;
    fleet::start_working(&server.addr, &activations, NODES, NODES, WORK).await?;
    let idle_rss = rss_kb(server.child.id(), "VmRSS:");
    let output = tokio::task::spawn_blocking({
        let url = format!("http://{}", server.addr);
        let creds = server.creds.clone();
        move || {
            Command::new("node")
                .arg(&script)
                .arg("figures")
                .env("STEWARD_URL", url)
                .env("KEY_ID", creds.access_key_id)
                .env("SECRET", creds.secret_access_key)
                .env("COUNT", NODES.to_string())
                .env("CHROMIUM", chromium)
                .output()
        }
    })
    .await?
    .context("cannot run node")?;
    let server_peak = rss_kb(server.child.id(), "VmHWM:");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
        anyhow::bail!("the browser scenario failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    };
    let f: Value = serde_json::from_str(line)?;
    let n = |k: &str| f[k].as_f64().unwrap_or(0.0);
    println!("console (chromium, loopback, {NODES} virtual nodes):");
    println!(
        "  first load (cold cache) to a usable sign-in form: {:.0} ms; {} files, {:.1} KB over the wire ({:.1} KB unpacked)",
        n("firstLoadMs"),
        n("files"),
        n("wireBytes") / 1024.0,
        n("bytes") / 1024.0
    );
    println!("  sign-in to the fleet's first row: {:.0} ms", n("signInToFleetMs"));
    let pages = f["callsPerPage"]
        .as_object()
        .map(|m| m.iter().map(|(page, calls)| format!("{page} {calls}")).collect::<Vec<_>>().join(", "));
    println!("  API calls on opening each page: {}", pages.unwrap_or_default());
    println!(
        "  live command on {NODES} nodes finishing over {} s: all Success shown {:.1} s after opening; {} stream frames, {:.0} KB",
        WORK.as_secs(),
        n("liveAllSuccessMs") / 1000.0,
        n("streamFrames"),
        n("streamBytes") / 1024.0
    );
    println!(
        "  browser main thread while live: {} long tasks (longest {:.0} ms), a 50 ms timer at worst {:.0} ms late; a page turn {:.0} ms",
        n("longTasks"),
        n("longestTaskMs"),
        n("worstTimerLateMs"),
        n("pageTurnMs")
    );
    println!("  server RSS: {idle_rss} KB with the fleet connected, peak {server_peak} KB");
    Ok(())
}

//! `ssh -L` over loopback as a yardstick for port forwarding: an OpenSSH server of its
//! own (Debian's `openssh-server`) on a free port with throwaway keys, and an `ssh -N -L`
//! client forwarding a local port to the service.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd and the client key it accepts.
pub struct Sshd {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn keygen(path: &Path) -> anyhow::Result<()> {
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .context("ssh-keygen")?;
    anyhow::ensure!(made.success(), "ssh-keygen failed");
    Ok(())
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    out.unwrap_or_else(|_| "root".into())
}

async fn wait_for_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

impl Sshd {
    /// Starts sshd, or says why it cannot (not installed: `apt-get install openssh-server`).
    pub async fn start() -> anyhow::Result<Sshd> {
        anyhow::ensure!(Path::new(SSHD).exists(), "{SSHD} is not installed (apt-get install openssh-server)");
        let dir = std::env::temp_dir().join(format!("steward-bench-ssh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        keygen(&dir.join("host_key"))?;
        keygen(&dir.join("client_key"))?;
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))?;
        // sshd's privilege separation wants this directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = crate::free_port()?;
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
             AllowTcpForwarding yes\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config)?;
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start sshd")?;
        let sshd = Sshd { child, dir, port };
        wait_for_port(port, Duration::from_secs(10)).await?;
        Ok(sshd)
    }

    /// `ssh -N -L` from a free local port to `remote_port` on this machine; returns the
    /// client (killed on drop) and the local port.
    pub async fn forward(&self, remote_port: u16) -> anyhow::Result<(tokio::process::Child, u16)> {
        let local = crate::free_port()?;
        let child = tokio::process::Command::new("ssh")
            .args(["-N", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR"])
            .arg("-i")
            .arg(self.dir.join("client_key"))
            .args(["-p", &self.port.to_string()])
            .args(["-L", &format!("127.0.0.1:{local}:127.0.0.1:{remote_port}")])
            .arg(format!("{}@127.0.0.1", user()))
            .kill_on_drop(true)
            .spawn()
            .context("cannot start ssh")?;
        wait_for_port(local, Duration::from_secs(15)).await?;
        Ok((child, local))
    }
}

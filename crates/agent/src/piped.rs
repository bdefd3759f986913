//! A process on pipes instead of a terminal: `NonInteractiveCommands` sessions, as the SSM
//! agent runs them — bytes pass through unchanged (no `\n` → `\r\n`, no echo), stdout and
//! stderr either interleaved on one pipe or apart (`separateOutputStream`).

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

use crate::runas::Launch;

/// The running process and the ends of its pipes kept here.
pub struct Piped {
    /// The process id (leader of its own session and process group).
    pid: i32,
    /// Its exit code once it ends (-1 when killed by a signal).
    pub exited: tokio::sync::oneshot::Receiver<i32>,
    /// Its input, until the client ends it.
    pub stdin: Option<std::process::ChildStdin>,
    /// Its output: stdout (with stderr on the same pipe unless kept apart).
    pub stdout: Option<Output>,
    /// Its stderr when kept apart.
    pub stderr: Option<Output>,
}

/// One of the process's output pipes, read on a thread.
pub type Output = Box<dyn Read + Send>;

/// One pipe for both of a process's output streams, so their order is kept as written.
fn shared_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into the array given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned here alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Piped {
    /// Starts `launch` on pipes. `separate`: stderr on a pipe of its own.
    pub fn spawn(launch: &Launch, separate: bool) -> std::io::Result<Piped> {
        let mut command = launch.command(false);
        command.stdin(Stdio::piped());
        let mut merged = None;
        if separate {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else {
            let (read, write) = shared_pipe()?;
            command.stdout(write.try_clone()?).stderr(write);
            merged = Some(read);
        }
        let mut std_child = command.spawn()?;
        // The write end given to the child is closed here by `command`'s drop, so the read
        // end sees the end once the process (and whatever it left running) closes it.
        drop(command);
        let stdin = std_child.stdin.take();
        let (stdout, stderr): (Option<Output>, Option<Output>) = match merged {
            Some(read) => (Some(Box::new(std::fs::File::from(read))), None),
            None => (
                std_child.stdout.take().map(|s| Box::new(s) as Output),
                std_child.stderr.take().map(|s| Box::new(s) as Output),
            ),
        };
        let pid = std_child.id() as i32;
        let (tell, exited) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let code = std_child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
            let _ = tell.send(code);
        });
        Ok(Piped { pid, exited, stdin, stdout, stderr })
    }

    /// Sends `signal` to the process's whole group.
    pub fn signal_group(&self, signal: i32) {
        // SAFETY: plain kill(2) on the group the child leads.
        unsafe {
            libc::kill(-self.pid, signal);
        }
    }
}

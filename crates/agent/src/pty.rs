//! A pseudo-terminal with a process on it: the session's shell.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::runas::Launch;

/// A process on the slave side of a new pseudo-terminal; the master side stays here.
pub struct Pty {
    master: OwnedFd,
    /// The process id (leader of its own session and process group).
    pid: i32,
}

fn winsize(cols: u16, rows: u16) -> libc::winsize {
    libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 }
}

impl Pty {
    /// Starts `launch` with the terminal as its stdin, stdout, stderr and controlling
    /// terminal. Also returns the process, to wait for.
    pub fn spawn(launch: &Launch, size: (u16, u16)) -> std::io::Result<(Pty, tokio::process::Child)> {
        let (cols, rows) = size;
        let mut master = -1;
        let mut slave = -1;
        let size = winsize(cols, rows);
        // SAFETY: openpty writes two descriptors into the pointers given; name and termios
        // may be null.
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just opened and are owned here alone.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut command = launch.command(true);
        command.stdin(slave.try_clone()?).stdout(slave.try_clone()?).stderr(slave.try_clone()?);
        let child = tokio::process::Command::from(command).kill_on_drop(true).spawn()?;
        drop(slave);
        let pid = child.id().map_or(-1, |p| p as i32);
        Ok((Pty { master, pid }, child))
    }

    /// A reader of everything the process writes (ends with an error once it has exited).
    pub fn reader(&self) -> std::io::Result<impl Read + Send + 'static> {
        Ok(File::from(self.master.try_clone()?))
    }

    /// A writer to the process's input.
    pub fn writer(&self) -> std::io::Result<File> {
        Ok(File::from(self.master.try_clone()?))
    }

    /// Sets the terminal size (the process gets SIGWINCH).
    pub fn resize(&self, cols: u16, rows: u16) {
        let size = winsize(cols, rows);
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer given.
        unsafe {
            libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ as _, &size);
        }
    }

    /// Sends `signal` to the process's whole group.
    pub fn signal_group(&self, signal: i32) {
        if self.pid > 0 {
            // SAFETY: plain kill(2) on the group the child leads.
            unsafe {
                libc::kill(-self.pid, signal);
            }
        }
    }
}

//! A pseudo-terminal with a process on it: the session's shell.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;

use crate::runas::Account;

/// A process on the slave side of a new pseudo-terminal; the master side stays here.
pub struct Pty {
    master: OwnedFd,
    /// The process (leader of its own session and process group).
    pub child: tokio::process::Child,
}

fn winsize(cols: u16, rows: u16) -> libc::winsize {
    libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 }
}

impl Pty {
    /// Starts `program args` with the terminal as its stdin, stdout, stderr and
    /// controlling terminal, in `cwd`, with `env` added, as `user` (or as this process's
    /// own user). Without `echo` the terminal does not repeat what is typed (a command's
    /// piped input must not show up in its output).
    pub fn spawn(
        program: &str,
        args: &[String],
        cwd: &str,
        env: &[(&str, String)],
        user: Option<&Account>,
        size: (u16, u16),
        echo: bool,
    ) -> std::io::Result<Pty> {
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
        if !echo {
            // SAFETY: tcgetattr fills the termios given; tcsetattr reads it.
            unsafe {
                let mut modes: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(slave.as_raw_fd(), &mut modes) == 0 {
                    modes.c_lflag &= !(libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ECHONL | libc::ECHOCTL);
                    libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &modes);
                }
            }
        }
        let mut command = std::process::Command::new(program);
        command
            .args(args)
            .current_dir(cwd)
            .stdin(slave.try_clone()?)
            .stdout(slave.try_clone()?)
            .stderr(slave.try_clone()?);
        for (k, v) in env {
            command.env(k, v);
        }
        let identity = user.map(|u| (u.uid, u.gid, u.groups.clone()));
        // SAFETY: only async-signal-safe calls between fork and exec (the groups were read
        // before the fork).
        unsafe {
            command.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Groups first, then the group, then the user: each needs the privilege the
                // next one gives up.
                if let Some((uid, gid, groups)) = &identity {
                    if libc::setgroups(groups.len() as _, groups.as_ptr()) < 0
                        || libc::setgid(*gid) < 0
                        || libc::setuid(*uid) < 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = tokio::process::Command::from(command).kill_on_drop(true).spawn()?;
        drop(slave);
        Ok(Pty { master, child })
    }

    /// A reader of everything the process writes (ends with an error once it has exited).
    pub fn reader(&self) -> std::io::Result<impl Read + Send + 'static> {
        Ok(File::from(self.master.try_clone()?))
    }

    /// A writer to the process's input.
    pub fn writer(&self) -> std::io::Result<impl Write + Send + 'static> {
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
        if let Some(pid) = self.child.id() {
            // SAFETY: plain kill(2) on the group the child leads.
            unsafe {
                libc::kill(-(pid as i32), signal);
            }
        }
    }
}

//! Which OS user a session's shell runs as.
//!
//! As SSM's agent: a session names its user when the account turned run-as on (the
//! principal's `SSMSessionRunAs` tag or the preferences' `runAsDefaultUser`, resolved by
//! the server); otherwise an agent running as root uses `ssm-user`, created on first use
//! with passwordless sudo. An agent that is not root can only run sessions as itself.

use std::ffi::{CStr, CString};
use std::sync::Mutex;

/// The user a session runs as, read from the password database before any fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: libc::uid_t,
    /// Primary group.
    pub gid: libc::gid_t,
    /// Every group the user is in (for setgroups in the child).
    pub groups: Vec<libc::gid_t>,
    /// Home directory.
    pub home: String,
}

/// Where `ssm-user`'s sudo rule goes, as with SSM's agent.
const SUDOERS_FILE: &str = "/etc/sudoers.d/ssm-agent-users";

/// Serialises creating the default user: sessions may start at once.
static CREATING: Mutex<()> = Mutex::new(());

/// Looks a user up by name.
pub fn lookup(name: &str) -> Option<Account> {
    let cname = CString::new(name).ok()?;
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r fills `entry` with pointers into `buf`, both outliving the reads below.
    let rc = unsafe { libc::getpwnam_r(cname.as_ptr(), &mut entry, buf.as_mut_ptr().cast(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into `buf` and is NUL-terminated.
    let home = unsafe { CStr::from_ptr(entry.pw_dir) }.to_string_lossy().into_owned();
    Some(Account {
        name: name.to_owned(),
        uid: entry.pw_uid,
        gid: entry.pw_gid,
        groups: groups(&cname, entry.pw_gid),
        home,
    })
}

fn groups(name: &CStr, gid: libc::gid_t) -> Vec<libc::gid_t> {
    let mut count: libc::c_int = 64;
    loop {
        let mut list = vec![0 as libc::gid_t; count as usize];
        let wanted = count;
        // SAFETY: the list has room for `count` entries; getgrouplist says how many it needs.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, list.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            list.truncate(count as usize);
            return list;
        }
        if count <= wanted {
            return vec![gid];
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn own_name() -> String {
    // SAFETY: getuid cannot fail; getpwuid's result is read at once, before another call.
    unsafe {
        let entry = libc::getpwuid(libc::getuid());
        if entry.is_null() {
            return std::env::var("USER").unwrap_or_default();
        }
        CStr::from_ptr((*entry).pw_name).to_string_lossy().into_owned()
    }
}

/// The account a session runs as: `requested` (empty when run-as is off) or the agent's
/// `default_user`. `None` means the agent's own user. The error is shown in the session.
pub fn choose(requested: &str, default_user: &str) -> Result<Option<Account>, String> {
    if !is_root() {
        let me = own_name();
        if requested.is_empty() || requested == me {
            return Ok(None);
        }
        return Err(format!("The agent runs as {me} and cannot start a session as {requested}."));
    }
    if !requested.is_empty() {
        return lookup(requested).map(Some).ok_or_else(|| {
            format!("Unable to start the session: the run-as user {requested} does not exist on this node.")
        });
    }
    if default_user.is_empty() || default_user == "root" {
        return Ok(None);
    }
    ensure(default_user).map(Some)
}

/// The default session user, created (with a home and passwordless sudo) when absent.
fn ensure(name: &str) -> Result<Account, String> {
    if let Some(account) = lookup(name) {
        return Ok(account);
    }
    let _guard = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(account) = lookup(name) {
        return Ok(account);
    }
    let made = std::process::Command::new("useradd")
        .args(["--create-home", "--shell", "/bin/bash", "--comment", name, name])
        .output()
        .map_err(|e| format!("Unable to create the session user {name}: {e}."))?;
    // Another agent on this machine may have made it meanwhile (useradd says so with 9).
    let account = lookup(name).ok_or_else(|| {
        format!("Unable to create the session user {name}: {}", String::from_utf8_lossy(&made.stderr).trim())
    })?;
    if made.status.success() {
        grant_sudo(name);
        tracing::info!(user = name, "Created the session user.");
    }
    Ok(account)
}

fn grant_sudo(name: &str) {
    let rule = format!("# User rules for {name}\n{name} ALL=(ALL) NOPASSWD:ALL\n");
    let write = std::fs::create_dir_all("/etc/sudoers.d").and_then(|_| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).mode(0o440).open(SUDOERS_FILE)?;
        std::io::Write::write_all(&mut file, rule.as_bytes())
    });
    if let Err(e) = write {
        tracing::warn!(error = %e, "Could not give the session user sudo.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_with_its_groups() {
        let root = lookup("root").expect("every system has root");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
    }

    #[test]
    fn a_missing_user_is_none() {
        assert!(lookup("no-such-user-here-xyz").is_none());
        assert!(lookup("bad\0name").is_none());
    }

    #[test]
    fn a_requested_user_that_does_not_exist_is_refused() {
        let err = choose("no-such-user-here-xyz", "ssm-user").unwrap_err();
        assert!(err.contains("no-such-user-here-xyz"), "{err}");
    }
}

/// Who a child process becomes, read before the fork so that the child only makes
/// async-signal-safe calls.
#[derive(Clone)]
pub struct Identity {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
}

impl Identity {
    /// The identity of `account`, if one is given.
    pub fn of(account: Option<&Account>) -> Option<Identity> {
        account.map(|a| Identity { uid: a.uid, gid: a.gid, groups: a.groups.clone() })
    }

    /// Takes it on, in a child between fork and exec. Groups first, then the group, then
    /// the user: each needs the privilege the next one gives up.
    pub fn assume(&self) -> std::io::Result<()> {
        // SAFETY: setgroups reads `groups.len()` ids from a live vector; setgid and setuid
        // take plain ids. All three are async-signal-safe.
        let failed = unsafe {
            libc::setgroups(self.groups.len() as _, self.groups.as_ptr()) < 0
                || libc::setgid(self.gid) < 0
                || libc::setuid(self.uid) < 0
        };
        if failed {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// What a session runs: the program, its arguments, where, with what added to its
/// environment, and as whom (None: as this process's own user).
pub struct Launch<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub cwd: &'a str,
    pub env: &'a [(&'a str, String)],
    pub user: Option<&'a Account>,
}

impl Launch<'_> {
    /// The command, ready to run in a session of its own (its own process group, which
    /// ends with the session) as its user; with `terminal`, its stdin (a pseudo-terminal's
    /// slave) becomes its controlling terminal.
    pub fn command(&self, terminal: bool) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(self.program);
        command.args(self.args).current_dir(self.cwd);
        for (k, v) in self.env {
            command.env(k, v);
        }
        let identity = Identity::of(self.user);
        // SAFETY: only async-signal-safe calls between fork and exec (the groups were read
        // before the fork).
        unsafe {
            command.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if terminal && libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                identity.as_ref().map_or(Ok(()), Identity::assume)
            });
        }
        command
    }
}

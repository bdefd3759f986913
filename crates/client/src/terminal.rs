//! The local terminal: raw mode for the life of a session, and its size.

/// Raw mode on standard input until dropped (the previous settings come back).
pub struct RawMode {
    saved: Option<libc::termios>,
}

impl RawMode {
    /// Switches stdin to raw mode if it is a terminal.
    pub fn enable() -> RawMode {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed termios to fill.
        unsafe {
            if libc::isatty(0) != 1 {
                return RawMode { saved: None };
            }
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return RawMode { saved: None };
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(0, libc::TCSANOW, &raw);
            RawMode { saved: Some(saved) }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            // SAFETY: restores the settings read in `enable`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &saved);
            }
        }
    }
}

/// Whether standard input is a terminal.
pub fn stdin_is_tty() -> bool {
    // SAFETY: isatty on fd 0.
    unsafe { libc::isatty(0) == 1 }
}

/// The terminal's size (columns, rows), if stdout or stdin is one.
pub fn size() -> Option<(u32, u32)> {
    for fd in [1, 0] {
        // SAFETY: TIOCGWINSZ writes a winsize into the pointer given.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd, libc::TIOCGWINSZ as _, &mut ws) == 0 && ws.ws_col > 0 {
                return Some((ws.ws_col as u32, ws.ws_row as u32));
            }
        }
    }
    None
}

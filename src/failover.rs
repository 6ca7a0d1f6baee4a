//! Seed 002's failover: when the kernel reports the keepalive link dead, the backup takes over
//! (`tcpkeepalive_vm_start()`). `ka_client --on-dead CMD` runs `CMD` through the shell once
//! and exits with its status.
//!
//! The command learns what happened from its environment, so one script can serve several
//! links: `HB_REASON` (`timed out`, `reset`, `terminated` or `failed`: seed 001's three fates
//! and anything else), `HB_PEER` (the address that went, `127.0.0.1:9000`) and `HB_SINCE`
//! (seconds since its last byte, `3.046`). A command killed by a signal is reported as such
//! and gives status 128 + the signal number, as a shell does. The program waits for the
//! command as long as it runs — a backup that never ends keeps `ka_client` waiting with it,
//! which is what a supervisor watching `ka_client` should see.

use crate::error;
use crate::keepalive::Ending;
use std::net::SocketAddr;
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// The value of `HB_REASON` for an ending.
pub fn reason(ending: &Ending) -> &'static str {
    match ending {
        Ending::TimedOut => "timed out",
        Ending::Reset => "reset",
        Ending::Terminated => "terminated",
        Ending::Other => "failed",
    }
}

/// Run `cmd` (`sh -c`; `cmd /C` on Windows) with `HB_REASON`, `HB_PEER` and `HB_SINCE`, wait
/// for it, and return the status this program exits with: the command's own, or 128 + N
/// when signal N killed it (with a line saying so).
#[doc(alias = "tcpkeepalive_vm_start")]
pub fn run(cmd: &str, ending: &Ending, peer: Option<SocketAddr>, since: Duration) -> i32 {
    error::say(&format!("running --on-dead: {cmd}"));
    let mut c = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.args(["/C", cmd]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", cmd]);
        c
    };
    c.env("HB_REASON", reason(ending))
        .env("HB_SINCE", format!("{:.3}", since.as_secs_f64()));
    if let Some(p) = peer {
        c.env("HB_PEER", p.to_string());
    }
    match c.status() {
        Ok(st) => status(&st),
        Err(e) => {
            error::error(0, Some(&e), "cannot run --on-dead");
            127 // the shell's "command not found"
        }
    }
}

/// The exit status for `st`, saying when a signal ended the command.
fn status(st: &ExitStatus) -> i32 {
    if let Some(code) = st.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = st.signal() {
            // SAFETY: strsignal returns a pointer to a static or thread-local string.
            let name = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) };
            error::say(&format!(
                "--on-dead command killed by signal {sig} ({})",
                name.to_string_lossy()
            ));
            return 128 + sig;
        }
    }
    1
}

//! Running the built programs: spawn with stderr captured line by line (with arrival
//! times), wait for a line, signal by pid, and always clean up.

use crossbeam_channel::{unbounded, Receiver};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Signal numbers for [`Prog::signal`]. Hanging (`SIGSTOP`) or killing a peer by signal needs
/// Unix: the tests that do are ignored elsewhere, with that reason.
#[cfg(unix)]
pub mod sig {
    #[allow(unused_imports)]
    pub use libc::{SIGCONT, SIGKILL, SIGPIPE, SIGSTOP};
}
/// See the Unix module: the values only let the tests compile.
#[cfg(not(unix))]
#[allow(dead_code)]
pub mod sig {
    pub const SIGKILL: i32 = 9;
    pub const SIGPIPE: i32 = 13;
    pub const SIGCONT: i32 = 18;
    pub const SIGSTOP: i32 = 19;
}

/// Path of a built program: target/<profile>/NAME, beside this test's deps/ folder.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join(name)
}

pub struct Prog {
    pub name: String,
    pub child: Child,
    lines: Receiver<(Instant, String)>,
    /// Every stderr line so far, with its arrival time.
    pub seen: Vec<(Instant, String)>,
    pub started: Instant,
}

impl Prog {
    /// Start `name args…` with RUST_LOG=debug (tests read the `listening on` line).
    pub fn start(name: &str, args: &[&str]) -> Prog {
        Self::start_with(name, args, |_| {})
    }

    pub fn start_with(name: &str, args: &[&str], tweak: impl FnOnce(&mut Command)) -> Prog {
        let mut cmd = Command::new(bin(name));
        cmd.args(args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        tweak(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Prog {
            name: name.to_string(),
            child,
            lines: rx,
            seen: Vec::new(),
            started: Instant::now(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait up to `limit` for a line containing `text` (already-seen lines count first).
    pub fn wait_line(&mut self, text: &str, limit: Duration) -> Option<(Instant, String)> {
        if let Some(hit) = self.seen.iter().find(|(_, l)| l.contains(text)) {
            return Some(hit.clone());
        }
        let end = Instant::now() + limit;
        while let Ok(item) = self.lines.recv_deadline(end) {
            self.seen.push(item.clone());
            if item.1.contains(text) {
                return Some(item);
            }
        }
        None
    }

    /// Like [`wait_line`], panicking with everything seen when the line does not come.
    pub fn expect_line(&mut self, text: &str, limit: Duration) -> (Instant, String) {
        match self.wait_line(text, limit) {
            Some(hit) => hit,
            None => panic!(
                "{}: no line with {text:?} within {limit:?}; saw:\n{}",
                self.name,
                self.dump()
            ),
        }
    }

    /// Collect whatever arrives within `limit`.
    pub fn drain(&mut self, limit: Duration) {
        let end = Instant::now() + limit;
        while let Ok(item) = self.lines.recv_deadline(end) {
            self.seen.push(item);
        }
    }

    /// How many lines seen so far contain `text`.
    pub fn count(&self, text: &str) -> usize {
        self.seen.iter().filter(|(_, l)| l.contains(text)).count()
    }

    /// The lines seen that are not debug output.
    pub fn said(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|(_, l)| l.clone())
            .filter(|l| !l.contains(": debug: "))
            .collect()
    }

    pub fn dump(&self) -> String {
        self.seen.iter().map(|(_, l)| format!("  {l}\n")).collect()
    }

    /// The port from the server's `listening on ADDR:PORT` debug line.
    pub fn port(&mut self) -> u16 {
        let (_, line) = self.expect_line("listening on", Duration::from_secs(10));
        line.rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("port in listening line")
    }

    /// `kill(pid, sig)`: Unix only (the tests that call it are ignored elsewhere).
    pub fn signal(&self, sig: i32) {
        #[cfg(unix)]
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe {
            libc::kill(self.pid(), sig)
        };
        #[cfg(not(unix))]
        panic!("signal {sig}: needs Unix (this test should be ignored here)");
    }

    /// Wait for exit up to `limit`: Some(status code), None if still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.drain(Duration::from_millis(100));
                return Some(st.code().unwrap_or(-1));
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Threads of the process, from /proc.
    pub fn threads(&self) -> usize {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Open descriptors of the process, from /proc.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Prog {
    fn drop(&mut self) {
        #[cfg(unix)]
        self.signal(sig::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Threads of a server with no client: its main thread and stderr's writer (src/stderr.rs).
pub const IDLE_THREADS: usize = 2;

/// Start a server on port 0 with extra args and return it with its port.
pub fn server(name: &str, args: &[&str]) -> (Prog, u16) {
    let mut all: Vec<&str> = args.to_vec();
    all.push("0");
    let mut p = Prog::start(name, &all);
    let port = p.port();
    (p, port)
}

/// Poll `cond` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// The `-t` stamp of a line, `[   1.234] PROG: …`, as a duration since the program started.
pub fn stamp(line: &str) -> Duration {
    let inside = line
        .strip_prefix('[')
        .and_then(|l| l.split_once(']'))
        .map(|(s, _)| s.trim());
    let secs: f64 = inside
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no -t stamp in {line:?}"));
    Duration::from_secs_f64(secs)
}

impl Prog {
    /// The stamp of the last line containing `text` seen before the line `until`: with
    /// `text = "debug: read"`, when the program last got bytes before it said `until`.
    pub fn last_before(&self, text: &str, until: &str) -> Duration {
        let end = self
            .seen
            .iter()
            .position(|(_, l)| l == until)
            .expect("`until` was seen");
        let hit = self.seen[..end]
            .iter()
            .rev()
            .find(|(_, l)| l.contains(text));
        stamp(
            &hit.unwrap_or_else(|| panic!("no {text:?} before {until:?}:\n{}", self.dump()))
                .1,
        )
    }

    /// Time from the program's last read before `line` to `line`, by its own clock.
    pub fn since_last_read(&self, line: &str) -> Duration {
        stamp(line) - self.last_before("debug: read", line)
    }
}

impl Prog {
    /// Resident memory of the process in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Raise this process's descriptor limit to its hard limit (children inherit it).
#[cfg(unix)]
pub fn raise_fd_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
    }
    r.rlim_cur
}

/// Windows has no descriptor limit of this kind.
#[cfg(not(unix))]
pub fn raise_fd_limit() -> u64 {
    u64::MAX
}

/// Close `s` with an RST instead of a FIN (SO_LINGER with a zero timeout).
pub fn reset(s: std::net::TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}

/// Timing tolerance of the tests: late by at most 150 ms (a loaded 2-core machine), early
/// by at most 20 ms (clock granularity). Precise figures belong to the benchmarks.
pub const LATE: Duration = Duration::from_millis(150);
/// See [`LATE`].
pub const EARLY: Duration = Duration::from_millis(20);

/// Assert `measured` is `expected` within [`EARLY`]/[`LATE`].
pub fn assert_about(what: &str, measured: Duration, expected: Duration) {
    assert!(
        measured + EARLY >= expected && measured <= expected + LATE,
        "{what}: measured {measured:?}, expected {expected:?} (-{EARLY:?}/+{LATE:?})"
    );
}

//! Shared by the benchmark parts: figures with median and spread, the report, spawning the
//! release programs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One figure: a name, a unit, the samples' median and spread (p1..p99 or min..max).
#[derive(Default, Clone)]
pub struct Figure {
    pub group: String,
    pub name: String,
    pub unit: String,
    pub median: f64,
    pub p99: Option<f64>,
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
    pub note: String,
}

impl Figure {
    /// From samples: median, p99, and min..max as the spread.
    pub fn from(group: &str, name: &str, unit: &str, samples: &mut [f64]) -> Figure {
        samples.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
        Figure {
            group: group.into(),
            name: name.into(),
            unit: unit.into(),
            median: q(0.5),
            p99: (samples.len() >= 100).then(|| q(0.99)),
            lo: samples[0],
            hi: samples[samples.len() - 1],
            n: samples.len(),
            note: String::new(),
        }
    }
    pub fn note(mut self, n: impl Into<String>) -> Self {
        self.note = n.into();
        self
    }
}

pub struct Report {
    pub figures: Vec<Figure>,
    pub settings: Vec<(String, String)>,
}

impl Report {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        Report {
            figures: Vec::new(),
            settings: vec![("cores".into(), cores.to_string())],
        }
    }
    pub fn add(&mut self, f: Figure) {
        eprintln!(
            "  {:<10} {:<44} {:>12.3} {}",
            f.group, f.name, f.median, f.unit
        );
        self.figures.push(f);
    }
    pub fn print(&self) {
        println!(
            "
{:<10} {:<44} {:>12} {:>12} {:>25}  {:<8} note",
            "group", "figure", "median", "p99", "spread (min..max)", "unit"
        );
        for f in &self.figures {
            let p99 = f.p99.map_or("-".to_string(), |p| format!("{p:.3}"));
            let spread = format!("{:.3}..{:.3}", f.lo, f.hi);
            println!(
                "{:<10} {:<44} {:>12.3} {:>12} {:>25}  {:<8} {}",
                f.group, f.name, f.median, p99, spread, f.unit, f.note
            );
        }
        println!();
        for (k, v) in &self.settings {
            println!("{k}: {v}");
        }
    }
    pub fn write(&self, path: &str) {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let figs: Vec<String> = self
            .figures
            .iter()
            .map(|f| {
                format!(
                    "    {{\"group\": \"{}\", \"name\": \"{}\", \"unit\": \"{}\", \"median\": {:.4}, \"p99\": {}, \"min\": {:.4}, \"max\": {:.4}, \"samples\": {}, \"note\": \"{}\"}}",
                    esc(&f.group), esc(&f.name), esc(&f.unit), f.median,
                    f.p99.map_or("null".into(), |p| format!("{p:.4}")), f.lo, f.hi, f.n, esc(&f.note)
                )
            })
            .collect();
        let sets: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("    \"{}\": \"{}\"", esc(k), esc(v)))
            .collect();
        let json = format!(
            "{{\n  \"settings\": {{\n{}\n  }},\n  \"figures\": [\n{}\n  ]\n}}\n",
            sets.join(",\n"),
            figs.join(",\n")
        );
        let _ = std::fs::create_dir_all("target");
        std::fs::write(path, json).expect("write target/bench.json");
        eprintln!("wrote {path}");
    }
}

/// `hb_server` under load: one heartbeat a second per client (T1 = T2 = 1), room for
/// thousands of clients (the idle, scale and cpu figures).
pub const LOAD_SERVER: [&str; 8] = [
    "--idle",
    "1",
    "--interval",
    "1",
    "--backlog",
    "4096",
    "--max-clients",
    "20000",
];

/// target/release/NAME (cargo bench builds the programs in release mode).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("bench exe");
    exe.parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .join(name)
}

/// A spawned program, killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGCONT) };
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }
}

/// Start a server on port 0 with RUST_LOG=debug and read its port from `listening on`;
/// the rest of its stderr goes to `lines` if given, else is dropped.
pub fn server(
    name: &str,
    args: &[&str],
    log: bool,
) -> (Proc, u16, crossbeam_channel::Receiver<String>) {
    let mut cmd = Command::new(bin(name));
    cmd.args(args).arg("0").env(
        "RUST_LOG",
        if log {
            "debug"
        } else {
            "heartbeat::server=debug,info"
        },
    );
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    let err = child.stderr.take().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let (ptx, prx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(p) = line.split("listening on ").nth(1) {
                let _ = ptx.send(p.rsplit(':').next().unwrap().trim().parse::<u16>().unwrap());
            } else if log || !line.contains(": debug: ") {
                let _ = tx.send(line);
            }
        }
    });
    let port = prx
        .recv_timeout(Duration::from_secs(10))
        .expect("server port");
    (Proc(child), port, rx)
}

pub fn raise_fd_limit() {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: on a struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
    }
}

/// Start a C server built by [`cc`] with `args`; its port from the `listening PORT` line it
/// prints on stdout.
pub fn c_server(exe: &std::path::Path, args: &[&str]) -> Option<(Proc, u16)> {
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take()?)
        .read_line(&mut line)
        .ok()?;
    let port = line.trim().strip_prefix("listening ")?.parse().ok()?;
    Some((Proc(child), port))
}

/// Compile a C helper from benches/c with the system compiler into target/.
pub fn cc(name: &str) -> Option<PathBuf> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("benches/c")
        .join(format!("{name}.c"));
    let out = bin(name).with_file_name(format!("c_{name}"));
    let ok = Command::new("cc")
        .args(["-O2", "-pthread", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(out)
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_seconds(pid: i32) -> f64 {
    let (u, s) = cpu_split(pid);
    u + s
}

/// CPU seconds a process has used: (user, system), from /proc/PID/stat.
pub fn cpu_split(pid: i32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the ')'.
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (field(11) / hz, field(12) / hz)
}

/// CPU seconds all threads of a process have run, in nanoseconds' precision: the sum of
/// /proc/PID/task/*/schedstat (threads that ended before the call are not counted, so
/// compare only over a span in which the threads stay the same).
pub fn cpu_precise(pid: i32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: i32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

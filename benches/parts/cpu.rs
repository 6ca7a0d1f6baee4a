//! Figure 6: server CPU per heartbeat, side by side. One driver holds N connections (1 000,
//! then 5 000) and sends each a 2004-byte heartbeat every second, reading every echo back,
//! against three servers in turn — `hb_server --idle 1 --interval 1`, seed 000's loop on a
//! thread per client in C (`benches/c/echo_threads.c`) and a C epoll loop
//! (`benches/c/echo_epoll.c`), both with the same T1 + T2 window — interleaved over ROUNDS
//! rounds so that a noisy neighbour hits all three alike. Per server: user and system CPU
//! µs per echoed heartbeat (from /proc/PID/stat over WINDOW), and for hb_server the system
//! calls per heartbeat (`perf stat` on the syscall tracepoints, where perf works).

use crate::common::{
    c_server, cc, cpu_precise, cpu_split, server, Figure, Proc, Report, LOAD_SERVER,
};
use crossbeam_channel::Receiver;
use heartbeat::message::{Message, MSG_LEN};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;
const WINDOW: Duration = Duration::from_secs(8);
const WARM: Duration = Duration::from_secs(3);

/// A server to measure: `hb_server` (no `exe`) or a C server built from benches/c.
struct Candidate {
    name: &'static str,
    exe: Option<PathBuf>,
}

/// Start `c` on a free port: the process, its port, and (for `hb_server`) its lines, which
/// must be kept so that its stderr never fills.
fn start(c: &Candidate) -> Option<(Proc, u16, Option<Receiver<String>>)> {
    match &c.exe {
        None => {
            let (p, port, lines) = server("hb_server", &LOAD_SERVER, false);
            Some((p, port, Some(lines)))
        }
        Some(exe) => {
            let (p, port) = c_server(exe, &["0", "2004", "1", "1"])?;
            Some((p, port, None))
        }
    }
}

/// CPU µs per echoed heartbeat: all of it (per-thread schedstat, ns precision), and the
/// share that was user and system time (clock ticks of /proc/PID/stat).
#[derive(Clone, Copy)]
struct PerBeat {
    total: f64,
    user: f64,
    sys: f64,
}

/// One measurement: N connections heartbeating once a second; CPU and system calls per
/// echoed heartbeat, or None if the server did not hold them all.
fn measure(c: &Candidate, n: usize, count_syscalls: bool) -> Option<(PerBeat, Option<Syscalls>)> {
    let (srv, port, _lines) = start(c)?;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        conns.push(s);
    }
    let echoes = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let (echoes, lost, stop) = (echoes.clone(), lost.clone(), stop.clone());
        std::thread::spawn(move || drive(conns, &echoes, &lost, &stop))
    };
    std::thread::sleep(WARM);
    let (u0, s0) = cpu_split(srv.pid());
    let t0 = cpu_precise(srv.pid());
    let e0 = echoes.load(Ordering::SeqCst);
    let perf = count_syscalls
        .then(|| perf_stat(srv.pid(), WINDOW))
        .flatten();
    if perf.is_none() {
        std::thread::sleep(WINDOW);
    }
    let e = (echoes.load(Ordering::SeqCst) - e0) as f64;
    let t1 = cpu_precise(srv.pid());
    let (u1, s1) = cpu_split(srv.pid());
    stop.store(true, Ordering::SeqCst);
    let _ = driver.join();
    drop(srv);
    let lost = lost.load(Ordering::SeqCst);
    if lost > 0 || e < (n as f64) * WINDOW.as_secs_f64() * 0.9 {
        eprintln!("cpu: {} with {n}: {e} echoes, {lost} lost", c.name);
        return None;
    }
    let per = |sec: f64| sec * 1e6 / e;
    let (user, sys) = (per(u1 - u0), per(s1 - s0));
    let share = |x: f64| x / (user + sys).max(f64::MIN_POSITIVE);
    let total = per(t1 - t0);
    let beat = PerBeat {
        total,
        user: total * share(user),
        sys: total * share(sys),
    };
    Some((beat, perf.map(|p| p.per(e))))
}

/// Every second: a heartbeat to each connection, then each echo read and checked.
fn drive(mut conns: Vec<TcpStream>, echoes: &AtomicU64, lost: &AtomicU64, stop: &AtomicBool) {
    let wire = Message::heartbeat().encode();
    let mut back = [0u8; MSG_LEN];
    let mut tick = Instant::now();
    let end = tick + Duration::from_secs(60); // bounded whatever happens
    while !stop.load(Ordering::SeqCst) && Instant::now() < end {
        for c in &mut conns {
            if c.write_all(&wire).is_err() {
                lost.fetch_add(1, Ordering::SeqCst);
            }
        }
        for c in &mut conns {
            match c.read_exact(&mut back) {
                Ok(()) if back == wire => echoes.fetch_add(1, Ordering::SeqCst),
                _ => lost.fetch_add(1, Ordering::SeqCst),
            };
        }
        tick += Duration::from_secs(1);
        std::thread::sleep(tick.saturating_duration_since(Instant::now()));
    }
}

/// System calls a process made over a window, by kind.
#[derive(Clone, Copy, Default)]
struct Syscalls {
    all: f64,
    read: f64,
    write: f64,
    futex: f64,
    sched_yield: f64,
}

impl Syscalls {
    fn per(self, n: f64) -> Syscalls {
        Syscalls {
            all: self.all / n,
            read: self.read / n,
            write: self.write / n,
            futex: self.futex / n,
            sched_yield: self.sched_yield / n,
        }
    }
}

/// `perf stat -e <syscall tracepoints> -p PID -- sleep WINDOW`, or None where perf cannot.
fn perf_stat(pid: i32, window: Duration) -> Option<Syscalls> {
    let events = "raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,\
syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_futex,\
syscalls:sys_enter_sched_yield";
    let out = Command::new("perf")
        .args([
            "stat",
            "-x",
            ",",
            "-e",
            events,
            "-p",
            &pid.to_string(),
            "--",
            "sleep",
        ])
        .arg(format!("{}", window.as_secs_f64()))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let count = |ev: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.split(',').nth(2) == Some(ev))
            .and_then(|l| l.split(',').next()?.parse().ok())
    };
    Some(Syscalls {
        all: count("raw_syscalls:sys_enter")?,
        read: count("syscalls:sys_enter_read")? + count("syscalls:sys_enter_recvfrom")?,
        write: count("syscalls:sys_enter_write")? + count("syscalls:sys_enter_sendto")?,
        futex: count("syscalls:sys_enter_futex")?,
        sched_yield: count("syscalls:sys_enter_sched_yield")?,
    })
}

pub fn run(r: &mut Report) {
    let mut candidates = vec![Candidate {
        name: "hb_server",
        exe: None,
    }];
    for (name, src) in [
        ("C thread per client", "echo_threads"),
        ("C epoll", "echo_epoll"),
    ] {
        match cc(src) {
            Some(exe) => candidates.push(Candidate {
                name,
                exe: Some(exe),
            }),
            None => eprintln!("cpu: cannot build benches/c/{src}.c: {name} left out"),
        }
    }
    for n in [1000, 5000] {
        let mut samples: Vec<Vec<PerBeat>> = vec![Vec::new(); candidates.len()];
        let mut calls = None;
        for round in 0..ROUNDS {
            for (i, c) in candidates.iter().enumerate() {
                eprintln!("cpu: {} with {n} connections, round {}", c.name, round + 1);
                let want_calls = i == 0 && round == 0;
                if let Some((beat, k)) = measure(c, n, want_calls) {
                    samples[i].push(beat);
                    calls = calls.or(k);
                }
            }
        }
        let total = |v: &[PerBeat]| -> Vec<f64> { v.iter().map(|b| b.total).collect() };
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let threads_median = samples.get(1).and_then(|v| median(total(v)));
        for (i, c) in candidates.iter().enumerate() {
            if samples[i].is_empty() {
                continue;
            }
            let user = median(samples[i].iter().map(|b| b.user).collect()).unwrap_or(0.0);
            let sys = median(samples[i].iter().map(|b| b.sys).collect()).unwrap_or(0.0);
            let f = Figure::from(
                "cpu",
                &format!("server CPU per heartbeat, {n} conns, {}", c.name),
                "us",
                &mut total(&samples[i]),
            );
            let mut note = format!("user {user:.1} + sys {sys:.1}");
            if i == 0 {
                if let Some(t) = threads_median {
                    note += &format!(
                        "; {:.2}x the C thread per client (target <= 1.0x)",
                        f.median / t
                    );
                }
            }
            r.add(f.note(note));
        }
        if let Some(k) = calls {
            let f = Figure::from(
                "cpu",
                &format!("hb_server syscalls per heartbeat, {n} conns"),
                "calls",
                &mut [k.all],
            );
            r.add(f.note(format!(
                "read {:.2}, write {:.2}, futex {:.2}, sched_yield {:.2} (floor: 1 read + 1 write)",
                k.read, k.write, k.futex, k.sched_yield
            )));
        }
    }
    r.settings.push((
        "cpu".into(),
        format!(
            "{ROUNDS} interleaved rounds, {} s window after {} s warm-up; hb_server --idle 1 --interval 1; C servers T1 = T2 = 1",
            WINDOW.as_secs(),
            WARM.as_secs()
        ),
    ));
}

//! One server's soak: start it, warm it, take its measure, let honest and hostile clients at
//! it until the deadline, wait for every client to leave and the server's death bound to
//! pass, take its measure again, and read what it said about each connection.

use crate::common::{rss_kib, server};
use crate::honest::{self, Falsify};
use crate::hostile;
use crate::report::Row;
use crate::tally::{Proto, Rng, Tally};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Setup {
    pub name: &'static str,
    pub proto: Proto,
    pub args: &'static [&'static str],
    /// The server's death bound with these timings: a silent client is ended by then.
    pub bound: Duration,
    /// Concurrent in-process honest clients and client programs.
    pub in_process: usize,
    pub programs: usize,
}

/// The in-band servers' timings: a silent peer ends (idle + interval) + probes × interval =
/// 3 + 3 = 6 s after its last byte.
const IN_BAND: &[&str] = &[
    "--idle",
    "2",
    "--interval",
    "1",
    "--probes",
    "3",
    "--backlog",
    "128",
];

/// Short timings, so a silent or stuck peer is ended within seconds and the soak sees
/// thousands of endings; `--backlog 128` as README advises for a class.
pub const SERVERS: [Setup; 4] = [
    Setup {
        name: "hb_server",
        proto: Proto::Hb,
        args: IN_BAND,
        bound: Duration::from_secs(6),
        in_process: 4,
        programs: 2,
    },
    Setup {
        name: "hb_server1",
        proto: Proto::Hb1,
        args: IN_BAND,
        bound: Duration::from_secs(6),
        in_process: 4,
        programs: 2,
    },
    Setup {
        name: "hb_server_oob",
        proto: Proto::Oob,
        args: &["--interval", "0.5", "--probes", "5", "--backlog", "128"],
        bound: Duration::from_secs(3),
        in_process: 0,
        programs: 3,
    },
    Setup {
        name: "ka_server",
        proto: Proto::Ka,
        args: &[
            "--keepalive",
            "--idle",
            "2",
            "--interval",
            "1",
            "--probes",
            "3",
            "--backlog",
            "128",
        ],
        bound: Duration::from_secs(5),
        in_process: 4,
        programs: 2,
    },
];

#[derive(Clone)]
pub struct Plan {
    pub seconds: f64,
    /// The mix before the start is measured (its checks count too).
    pub warm: Duration,
    pub falsify_echo: bool,
    pub falsify_death: bool,
}

fn status_field(pid: i32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn threads(pid: i32) -> u64 {
    status_field(pid, "Threads:")
}

fn fds(pid: i32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

/// What the server said, read as it comes.
#[derive(Default)]
struct Said {
    false_deaths: u64,
    kept: Vec<String>,
    dropped: u64,
    endings: BTreeMap<String, u64>,
}

/// A server's line about an honest client (127.0.0.1) that calls it dead or turns it away.
const SERVER_DEATHS: [&str; 6] = [
    "connection dead",
    "missed heartbeat",
    "no probes from client",
    "timed out",
    "turned away",
    "refused",
];

fn hear(said: &Mutex<Said>, line: &str) {
    let mut s = said.lock().unwrap_or_else(|e| e.into_inner());
    if line.contains("lines dropped") {
        s.dropped += 1;
        s.kept.push(line.to_string());
        return;
    }
    // PROG: PEER: text
    let Some((peer, text)) = line
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": "))
    else {
        return;
    };
    let what = text
        .split([':', '(', '#', ','])
        .next()
        .unwrap_or(text)
        .trim();
    if peer.starts_with("127.0.0.1:") {
        if SERVER_DEATHS.iter().any(|d| text.contains(d)) {
            s.false_deaths += 1;
            if s.kept.len() < 12 {
                s.kept.push(line.to_string());
            }
        }
        *s.endings.entry(format!("honest: {what}")).or_default() += 1;
    } else if peer.starts_with("127.0.0.9:") {
        *s.endings.entry(what.to_string()).or_default() += 1;
    }
}

/// How often the table's RSS, threads and fds are sampled for the record.
const SAMPLE_EVERY: Duration = Duration::from_secs(30);

/// The mix until `deadline`: honest clients (in-process and programs, each in a loop of
/// its own) and the hostile ones; returns when every one has ended. `flags` falsify the
/// first echo and the first client program's life (SOAK_FALSIFY).
fn load(
    setup: &Setup,
    port: u16,
    tally: &Arc<Tally>,
    deadline: Instant,
    flags: (Arc<AtomicBool>, Arc<AtomicBool>),
    seed: u64,
) {
    let mut workers = Vec::new();
    for i in 0..setup.in_process + setup.programs {
        let (t, s) = (tally.clone(), setup.clone());
        let (fe, fd) = (flags.0.clone(), flags.1.clone());
        let real = i >= setup.in_process;
        workers.push(std::thread::spawn(move || {
            let mut rng = Rng::new(seed * 100 + i as u64);
            while Instant::now() + Duration::from_secs(1) < deadline {
                let left = deadline - Instant::now();
                let life = if real {
                    rng.secs(6.0, 20.0)
                } else {
                    rng.secs(3.0, 20.0)
                };
                let life = life.min(left);
                let seed = rng.next();
                if real {
                    // the echo flip goes to a client that is not also the stopped one
                    let death = fd.swap(false, Relaxed);
                    let f = Falsify {
                        echo: !death && s.proto == Proto::Oob && fe.swap(false, Relaxed),
                        death: death.then(|| s.bound + Duration::from_secs(2)),
                    };
                    honest::program(s.proto, port, life, &t, seed, f);
                } else {
                    let flip = fe.swap(false, Relaxed);
                    honest::in_process(s.proto, port, life, &t, seed, flip);
                }
                // at most 10 honest connections a second per loop, even when each fails
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }
    let (t, proto) = (tally.clone(), setup.proto);
    workers.push(std::thread::spawn(move || {
        hostile::run(proto, port, t, deadline, seed ^ 0x5eed)
    }));
    workers.into_iter().for_each(|h| drop(h.join()));
}

/// The soak of one server, as a row of the table.
pub fn soak(setup: &Setup, plan: &Plan) -> Row {
    let mut args = setup.args.to_vec();
    if plan.falsify_death && setup.proto == Proto::Ka {
        args.extend(["--max-clients", "4"]);
    }
    let (srv, port, lines) = server(setup.name, &args, false);
    let pid = srv.pid();
    let said = Arc::new(Mutex::new(Said::default()));
    let hearing = {
        let said = said.clone();
        std::thread::spawn(move || lines.iter().for_each(|l| hear(&said, &l)))
    };
    std::thread::sleep(Duration::from_millis(300));
    let (cold_rss, cold_threads) = (rss_kib(pid) as u64, threads(pid));
    // Warm: the same mix for WARM, then back to idle before the start is measured, so that
    // the allocator's arenas and glibc's cache of thread stacks exist at the start.
    let tally = Arc::new(Tally::default());
    let no = || Arc::new(AtomicBool::new(false));
    let seed = port as u64;
    let warm = Instant::now() + plan.warm;
    load(setup, port, &tally, warm, (no(), no()), seed ^ 0x3a93);
    let idle = Instant::now() + setup.bound + Duration::from_secs(20);
    while threads(pid) > cold_threads && Instant::now() < idle {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(setup.bound.max(Duration::from_secs(2)));
    let start = (rss_kib(pid) as u64, threads(pid), fds(pid));
    let peak = Arc::new(Mutex::new(start));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(plan.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, samples, stop) = (peak.clone(), samples.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut next = Instant::now();
            while !stop.load(Relaxed) {
                let now = (rss_kib(pid) as u64, threads(pid), fds(pid));
                let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                *p = (p.0.max(now.0), p.1.max(now.1), p.2.max(now.2));
                drop(p);
                if Instant::now() >= next {
                    let at = t0.elapsed().as_secs_f64();
                    let mut v = samples.lock().unwrap_or_else(|e| e.into_inner());
                    v.push((at, now.0, now.1, now.2));
                    next += SAMPLE_EVERY;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let flags = (
        Arc::new(AtomicBool::new(plan.falsify_echo)),
        Arc::new(AtomicBool::new(
            plan.falsify_death && setup.proto != Proto::Ka,
        )),
    );
    load(setup, port, &tally, deadline, flags, seed);
    let seconds = t0.elapsed().as_secs_f64();
    // Every client has left: the server gives back all it took, within its death bound.
    let back = Instant::now() + setup.bound + Duration::from_secs(20);
    while (threads(pid) != start.1 || fds(pid) != start.2) && Instant::now() < back {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(setup.bound.max(Duration::from_secs(2)));
    let end = (rss_kib(pid) as u64, threads(pid), fds(pid));
    stop.store(true, Relaxed);
    let _ = sampler.join();
    let peak = *peak.lock().unwrap_or_else(|e| e.into_inner());
    let samples = samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut srv = srv;
    let alive = matches!(srv.0.try_wait(), Ok(None));
    drop(srv); // stopped by its pid (common::Proc)
    let _ = hearing.join();
    let said = said.lock().unwrap_or_else(|e| e.into_inner());
    let (_, mut problems) = tally.problems();
    problems.extend(said.kept.iter().cloned());
    let g = Tally::get;
    let mut hostile = [0; 7];
    for (h, c) in hostile.iter_mut().zip(&tally.hostile) {
        *h = g(c);
    }
    let mut falsified = Vec::new();
    if plan.falsify_echo && setup.proto != Proto::Ka {
        falsified.push("one byte of the first echo flipped".into());
    }
    if plan.falsify_death {
        falsified.push(match setup.proto {
            Proto::Ka => "--max-clients 4: the idlest turned away".into(),
            _ => format!(
                "first client program stopped for {:?}",
                setup.bound + Duration::from_secs(2)
            ),
        });
    }
    Row {
        server: setup.name.into(),
        seconds,
        honest: g(&tally.honest),
        echoes: g(&tally.echoes),
        echo_bytes: g(&tally.echo_bytes),
        wrong: g(&tally.wrong),
        false_deaths_client: g(&tally.false_deaths),
        false_deaths_server: said.false_deaths,
        late: g(&tally.late),
        hostile,
        hostile_failed: g(&tally.hostile_failed),
        floods_ended: g(&tally.floods_ended),
        rss_cold: cold_rss,
        rss_start: start.0,
        rss_peak: peak.0,
        rss_end: end.0,
        threads: (start.1, peak.1, end.1),
        fds: (start.2, peak.2, end.2),
        lines_dropped: said.dropped,
        server_alive: alive,
        problems,
        hostile_endings: said.endings.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        falsified,
        warm: plan.warm.as_secs_f64(),
        samples,
    }
}

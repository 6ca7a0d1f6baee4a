//! Figures 4 and 5: idle cost and scale. One hb_server (`--idle 1 --interval 1`) holds N =
//! 100, 1 000, 10 000 connections, each sent a heartbeat every second by a driver thread that
//! checks every echo (as N hb_clients with `--idle 1` would). Per N: the server's CPU seconds
//! per minute (sampled each second) and resident memory per connection. Scale: N = 10 000
//! held for 60 s with no false death (no `missed heartbeat`, no lost echo).

use crate::common::{cpu_seconds, rss_kib, server, Figure, Report, LOAD_SERVER};
use crossbeam_channel::{unbounded, Receiver};
use heartbeat::message::{Message, MSG_LEN};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clients for the scale figure. 10 000 is the target; one server holds about 8 100 under
/// the default vm.max_map_count (65 530 maps, 8 per connection: two threads, each with a
/// stack, a signal stack and their guard pages), so 8 000 is what it can show here.
const SCALE: usize = 8_000;

/// Every second: a heartbeat to each connection, then each echo read and checked.
fn driver(new: Receiver<TcpStream>, lost: Arc<AtomicUsize>, stop: Arc<AtomicUsize>) {
    let mut conns: Vec<TcpStream> = Vec::new();
    let wire = Message::heartbeat().encode();
    let mut back = [0u8; MSG_LEN];
    let mut tick = Instant::now();
    while stop.load(Ordering::SeqCst) == 0 {
        conns.extend(new.try_iter());
        for c in &mut conns {
            if c.write_all(&wire).is_err() {
                lost.fetch_add(1, Ordering::SeqCst);
            }
        }
        for c in &mut conns {
            if c.read_exact(&mut back).is_err() || back != wire {
                lost.fetch_add(1, Ordering::SeqCst);
            }
        }
        tick += Duration::from_secs(1);
        std::thread::sleep(tick.saturating_duration_since(Instant::now()));
    }
}

pub fn run(r: &mut Report, idle: bool, scale: bool) {
    let args = LOAD_SERVER;
    let (srv, port, lines) = server("hb_server", &args, false);
    let pid = srv.pid();
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = rss_kib(pid);
    let (tx, rx) = unbounded();
    let lost = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicUsize::new(0));
    let d = {
        let (lost, stop) = (lost.clone(), stop.clone());
        std::thread::spawn(move || driver(rx, lost, stop))
    };
    let mut held = 0usize;
    let steps: Vec<(usize, u64)> = match (idle, scale) {
        (true, true) => vec![(100, 10), (1000, 10), (SCALE, 60)],
        (true, false) => vec![(100, 10), (1000, 10), (SCALE, 10)],
        _ => vec![(SCALE, 60)],
    };
    for (n, secs) in steps {
        eprintln!("idle: {n} connections, {secs} s");
        while held < n {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(c) => {
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let _ = tx.send(c);
                    held += 1;
                }
                Err(e) => {
                    eprintln!("idle: connect {held}: {e}");
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_secs(3)); // every connection heartbeating
        let lost0 = lost.load(Ordering::SeqCst);
        let mut per_min = Vec::new();
        let mut prev = cpu_seconds(pid);
        for _ in 0..secs / 5 {
            std::thread::sleep(Duration::from_secs(5));
            let now = cpu_seconds(pid);
            per_min.push((now - prev) * 12.0);
            prev = now;
        }
        let rss = (rss_kib(pid) - rss0) / held as f64;
        let false_deaths: Vec<String> = lines
            .try_iter()
            .filter(|l| l.contains("missed") || l.contains("dead"))
            .collect();
        let lost_now = lost.load(Ordering::SeqCst) - lost0;
        let f = Figure::from(
            "idle",
            &format!("server CPU, {held} connections"),
            "cpu-s/min",
            &mut per_min,
        );
        let per_1000 = f.median / 60.0 * 100.0 * 1000.0 / held as f64;
        if idle {
            r.add(f.note(format!(
                "{per_1000:.2} % of a core per 1000 (target <= 1 %)"
            )));
            r.add(
                Figure::from(
                    "idle",
                    &format!("server RSS per connection, {held}"),
                    "KiB",
                    &mut [rss],
                )
                .note("target <= 64 KiB"),
            );
        }
        if held >= SCALE && secs >= 60 {
            let ok = false_deaths.is_empty() && lost_now == 0;
            r.add(
                Figure::from(
                    "scale",
                    "clients held 60 s, no false death",
                    "clients",
                    &mut [held as f64],
                )
                .note(format!(
                    "{} false deaths, {lost_now} lost echoes: {}",
                    false_deaths.len(),
                    if ok { "ok" } else { "FAILED" }
                )),
            );
        }
    }
    stop.store(1, Ordering::SeqCst);
    let _ = d.join();
    r.settings.push(("idle_server".into(), args.join(" ")));
    r.settings.push((
        "thread_stacks".into(),
        "reader 128 KiB, connection 256 KiB".into(),
    ));
    r.settings.push((
        "fd_limit".into(),
        "raised to the hard limit (RLIMIT_NOFILE)".into(),
    ));
    let maps = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap_or_default();
    r.settings
        .push(("vm.max_map_count".into(), maps.trim().into()));
}

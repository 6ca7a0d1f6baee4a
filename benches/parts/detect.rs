//! Figure 3: detection accuracy — measured minus expected death time, ms, over RUNS runs per
//! pair with sub-second timings, read from the client's own -t stamps (last byte received →
//! the verdict line). The server is hung (SIGSTOP) for the application heartbeats; for
//! kernel keepalive it is made to vanish (iptables DROP inside a private network namespace).

use crate::common::{bin, server, Figure, Report};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const RUNS: usize = 12;

fn stamp(line: &str) -> Option<f64> {
    line.strip_prefix('[')?
        .split_once(']')?
        .0
        .trim()
        .parse()
        .ok()
}

/// One run: start the pair, wait for `answered` (a line meaning the server answered), hang
/// the server, and return verdict − (stamp of the last line containing `mark`) in seconds.
fn one(
    pair: (&str, &str),
    sargs: &[&str],
    cargs: &[&str],
    answered: &str,
    mark: &str,
    verdict: &str,
) -> Option<f64> {
    let (srv, port, _) = server(pair.1, sargs, false);
    let p = port.to_string();
    let mut child = Command::new(bin(pair.0))
        .args(cargs)
        .args(["-t", "127.0.0.1", &p])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    // Read the client's lines on a thread, so that a run that never ends is bounded in time.
    let (tx, rx) = crossbeam_channel::unbounded();
    let stderr = child.stderr.take()?;
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let end = std::time::Instant::now() + Duration::from_secs(20);
    let lines = std::iter::from_fn(|| rx.recv_deadline(end).ok());
    let (mut last_mark, mut stopped) = (None, false);
    let (mut last_send, oob) = (None, mark == "sending urgent byte");
    let mut result = None;
    for line in lines {
        if oob {
            // The reference is the tick whose probe was answered last.
            if line.contains(mark) {
                last_send = stamp(&line);
            } else if line.contains(answered) {
                last_mark = last_send;
            }
        } else if line.contains(mark) {
            last_mark = stamp(&line);
        }
        if !stopped && line.contains(answered) {
            srv.signal(libc::SIGSTOP);
            stopped = true;
        }
        if line.contains(verdict) {
            result = Some(stamp(&line)? - last_mark?);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn figure(r: &mut Report, name: &str, expected: f64, mut samples: Vec<f64>) {
    let mut err: Vec<f64> = samples.iter_mut().map(|m| (*m - expected) * 1e3).collect();
    let worst = err.iter().fold(0.0f64, |w, e| w.max(e.abs()));
    let mut abs: Vec<f64> = err.iter().map(|e| e.abs()).collect();
    abs.sort_by(|a, b| a.total_cmp(b));
    let med_abs = abs[abs.len() / 2];
    let f = Figure::from("detect", name, "ms", &mut err);
    r.add(f.note(format!("expected {expected} s; median |err| {med_abs:.1} ms, worst {worst:.1} ms (targets 2 / 10 ms)")));
}

pub fn run(r: &mut Report) {
    eprintln!("detect: {RUNS} runs per pair");
    let t = ["--idle", "0.2", "--interval", "0.1", "--probes", "3"];
    let mut hb = Vec::new();
    let mut hb1 = Vec::new();
    let mut oob = Vec::new();
    for _ in 0..RUNS {
        // hb: the last byte is the echo of heartbeat #1; dead 0.2 + 3 × 0.1 = 0.5 s later.
        hb.extend(one(
            ("hb_client", "hb_server"),
            &t,
            &t,
            "debug: read 2004",
            "debug: read",
            "connection dead",
        ));
        hb1.extend(one(
            ("hb_client1", "hb_server1"),
            &t,
            &t,
            "read 1 bytes on shb",
            "debug: read",
            "connection dead",
        ));
        // oob: the clock ticks every 0.1 s; the last answered probe was sent at a tick, and
        // the verdict comes (probes + 1) ticks later: 0.4 s after that send.
        let o = ["--interval", "0.1", "--probes", "3"];
        oob.extend(one(
            ("hb_client_oob", "hb_server_oob"),
            &o,
            &o,
            "from the server",
            "sending urgent byte",
            "server is unreachable",
        ));
    }
    figure(r, "hb_client, server hung (0.5 s bound)", 0.5, hb);
    figure(r, "hb_client1, server hung (0.5 s bound)", 0.5, hb1);
    figure(
        r,
        "hb_client_oob, server hung (0.4 s after last answered tick)",
        0.4,
        oob,
    );
    ka(r);
}

/// Kernel keepalive: ka_client --idle 1 --interval 1 --probes 1, DROP before the first probe
/// inside `unshare -n`: ETIMEDOUT 2 s after the last byte (the connection's start).
fn ka(r: &mut Report) {
    let script = format!(
        "ip link set lo up || exit 3
         {srv} 9100 2>/dev/null & s=$!
         sleep 0.2
         timeout 20 {cli} -t --idle 1 --interval 1 --probes 1 127.0.0.1 9100 2>&1 & c=$!
         sleep 0.3
         iptables -A INPUT -p tcp --dport 9100 -j DROP || {{ kill $c $s; exit 3; }}
         wait $c; kill $s",
        srv = bin("ka_server").display(),
        cli = bin("ka_client").display()
    );
    let mut samples = Vec::new();
    for _ in 0..RUNS.min(10) {
        let out = Command::new("unshare")
            .args(["-n", "bash", "-c", &script])
            .output();
        let Ok(out) = out else { break };
        let text = String::from_utf8_lossy(&out.stdout);
        let secs = text
            .lines()
            .find(|l| l.contains("connection timed out"))
            .and_then(|l| {
                l.rsplit(", ")
                    .next()?
                    .split(' ')
                    .next()?
                    .parse::<f64>()
                    .ok()
            });
        match secs {
            Some(s) => samples.push(s),
            None => break,
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if samples.is_empty() {
        eprintln!("detect: ka skipped (needs root for unshare -n and iptables)");
        return;
    }
    figure(r, "ka_client, peer gone (2 s bound)", 2.0, samples);
}

//! Figure 7: the clock — for each program, measured minus expected for its first window
//! and for the probe interval after it, at window lengths L = 0.3, 3, 10 and 70 s
//! (`--idle L --interval L`: T1 = T2 = L), beside the article's C built with the same T1
//! and T2 (whole seconds only: the C's `tv.tv_sec = T1`). The peer is this bench, silent
//! after the handshake; a window's end is when the program's line arrives on its stderr
//! (`missed heartbeat #1`, `sending heartbeat #1`, the OOB programs' debug lines), against
//! the moment the bench's connect, accept or last byte was done. Every trial runs at once
//! (the longest, a server's 2 × 70 s first window and its 70 s probe interval, sets the
//! time: about 3.6 minutes); they sleep, so they do not disturb each other.
//!
//! Expected: a prober's first window T1, an answerer's T1 + T2, the OOB client's tick and
//! the OOB server's window T2; every probe interval T2.

use crate::article;
use crate::common::{bin, Figure, Proc, Report};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LENGTHS: [f64; 4] = [0.3, 3.0, 10.0, 70.0];

/// The lengths to run: [`LENGTHS`], or `CLOCK_LENGTHS=0.3,3` for a quick look.
fn lengths() -> Vec<f64> {
    std::env::var("CLOCK_LENGTHS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<f64>| !v.is_empty())
        .unwrap_or(LENGTHS.to_vec())
}

/// How a program is driven: which side the bench plays, and the two lines that end windows.
#[derive(Clone, Copy)]
struct Prog {
    name: &'static str,
    /// The bench is the client (the program a server).
    server: bool,
    /// The separate-link handshake (hb_client1/hb_server1).
    link: bool,
    /// The OOB pair: the bench sends one urgent byte first (to the server).
    oob: bool,
    /// Lines that mark the end of a window.
    marks: &'static [&'static str],
    /// The first window in units of L.
    first: f64,
    /// The article has this program.
    in_c: bool,
}

const PROGS: [Prog; 6] = [
    Prog {
        name: "hb_client",
        server: false,
        link: false,
        oob: false,
        marks: &["sending heartbeat #"],
        first: 1.0,
        in_c: true,
    },
    Prog {
        name: "hb_server",
        server: true,
        link: false,
        oob: false,
        marks: &["missed heartbeat #"],
        first: 2.0,
        in_c: true,
    },
    Prog {
        name: "hb_client1",
        server: false,
        link: true,
        oob: false,
        marks: &["sending heartbeat #"],
        first: 1.0,
        in_c: true,
    },
    Prog {
        name: "hb_server1",
        server: true,
        link: true,
        oob: false,
        marks: &["missed heartbeat #"],
        first: 2.0,
        in_c: true,
    },
    Prog {
        name: "hb_client_oob",
        server: false,
        link: false,
        oob: true,
        marks: &["sending urgent byte", "not sent"],
        first: 1.0,
        in_c: false,
    },
    Prog {
        name: "hb_server_oob",
        server: true,
        link: false,
        oob: true,
        marks: &["no urgent byte for"],
        first: 1.0,
        in_c: false,
    },
];

/// A free port for a C server, which cannot be told to take port 0 and say which it got.
fn free_port() -> Option<u16> {
    Some(
        TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port(),
    )
}

/// Measured − expected, seconds: (first window, probe interval), or why there is none.
type Trial = Result<(f64, f64), String>;

/// One program at one length.
fn trial(p: Prog, l: f64, c_dir: Option<&Path>, started: crossbeam_channel::Sender<()>) -> Trial {
    let secs = format!("{l}");
    let mut cmd = match c_dir {
        Some(d) => Command::new(d.join(p.name)),
        None => {
            let mut c = Command::new(bin(p.name));
            if !p.oob {
                c.args(["--idle", &secs]);
            }
            c.args(["--interval", &secs]).env("RUST_LOG", "debug");
            if p.server {
                c.arg("--once");
            }
            c
        }
    };
    let listener = if p.server {
        None
    } else {
        Some(TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?)
    };
    let port = match &listener {
        Some(l) => l.local_addr().map_err(|e| e.to_string())?.port(),
        None => free_port().ok_or("no free port")?,
    };
    if p.server {
        cmd.arg(port.to_string());
    } else {
        cmd.args(["127.0.0.1", &port.to_string()]);
    }
    let mut child = cmd
        .stdin(Stdio::piped()) // hb_client_oob copies stdin: keep it open and empty
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", p.name))?;
    let err = child.stderr.take().ok_or("stderr")?;
    let _proc = Proc(child);
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    // The bench's side, up to the moment the program's first window starts.
    let mut keep: Vec<TcpStream> = Vec::new();
    let from = if let Some(l) = listener {
        let (mut sdata, _) = l.accept().map_err(|e| e.to_string())?;
        if p.link {
            let mut port = [0u8; 2];
            sdata.read_exact(&mut port).map_err(|e| e.to_string())?;
            let shb = TcpStream::connect(("127.0.0.1", u16::from_be_bytes(port)))
                .map_err(|e| e.to_string())?;
            keep.push(shb);
        }
        keep.push(sdata);
        Instant::now()
    } else {
        // A server: connect once it listens (the first connection that succeeds is served).
        let end = Instant::now() + Duration::from_secs(10);
        let mut sdata = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("{}: {e}", p.name)),
            }
        };
        if p.link {
            let hl = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let hp = hl.local_addr().map_err(|e| e.to_string())?.port();
            sdata
                .write_all(&hp.to_be_bytes())
                .map_err(|e| e.to_string())?;
            let (shb, _) = hl.accept().map_err(|e| e.to_string())?;
            keep.push(shb);
        }
        if p.oob {
            socket2::SockRef::from(&sdata)
                .send_out_of_band(b"1")
                .map_err(|e| e.to_string())?;
        }
        keep.push(sdata);
        Instant::now()
    };
    let _ = started.send(()); // the next trial may start: this one only sleeps now
    let limit = from + Duration::from_secs_f64(l * (p.first + 1.0) + 20.0);
    let mut ends = Vec::new();
    while ends.len() < 2 {
        let (at, line) = rx
            .recv_deadline(limit)
            .map_err(|_| format!("{}: no window ended by the limit", p.name))?;
        if p.marks.iter().any(|m| line.contains(m)) {
            ends.push(at);
        }
    }
    let first = (ends[0] - from).as_secs_f64() - l * p.first;
    let probe = (ends[1] - ends[0]).as_secs_f64() - l;
    Ok((first, probe))
}

pub fn run(report: &mut Report) {
    let mut jobs = Vec::new();
    let lengths = lengths();
    eprintln!("clock: every program's first window and probe interval at {lengths:?} s (at 70 s: about 3.6 min)");
    // Longest first; each trial starts once the one before is in its window, so that no
    // two handshakes (and their reference times) compete for the two cores.
    for &l in lengths.iter().rev() {
        let c = (l.fract() == 0.0).then(|| article::build(l as u32, l as u32));
        for p in PROGS {
            let c_dir = match (&c, p.in_c) {
                (Some(Ok(d)), true) => Some(Some(d.clone())),
                _ => None,
            };
            let mut start = |c_dir: Option<std::path::PathBuf>| {
                let (tx, rx) = crossbeam_channel::bounded(1);
                let is_c = c_dir.is_some();
                let h = std::thread::spawn(move || trial(p, l, c_dir.as_deref(), tx));
                let _ = rx.recv_timeout(Duration::from_secs(15)); // or it failed
                jobs.push((p, l, is_c, h));
            };
            start(None);
            if let Some(Some(d)) = c_dir {
                start(Some(d));
            }
        }
        if let Some(Err(e)) = &c {
            eprintln!("clock: no C at {l} s: {e}");
        }
    }
    let mut rows: Vec<(String, f64, Trial)> = Vec::new();
    for (p, l, is_c, h) in jobs {
        let r = h.join().unwrap_or_else(|_| Err("panicked".into()));
        let who = if is_c {
            format!("{} (C)", p.name)
        } else {
            p.name.to_string()
        };
        rows.push((who, l, r));
    }
    println!("\nclock: measured − expected, ms: first window / probe interval (T1 = T2 = L)");
    print!("{:<20}", "program");
    for l in &lengths {
        print!(" {:>20}", format!("L = {l} s"));
    }
    println!();
    let names = PROGS
        .iter()
        .flat_map(|p| [p.name.to_string(), format!("{} (C)", p.name)])
        .filter(|n| rows.iter().any(|r| &r.0 == n));
    let (mut worst, mut worst_c): (f64, f64) = (0.0, 0.0);
    for name in names {
        print!("{name:<20}");
        for &l in &lengths {
            let cell = match rows.iter().find(|r| r.0 == name && r.1 == l) {
                Some((who, _, Ok((f, p)))) => {
                    let w = if who.ends_with("(C)") {
                        &mut worst_c
                    } else {
                        &mut worst
                    };
                    *w = w.max(f.abs()).max(p.abs());
                    format!("{:+.1} / {:+.1}", f * 1e3, p * 1e3)
                }
                Some((_, _, Err(e))) => {
                    eprintln!("clock: {name} at {l} s: {e}");
                    "failed".into()
                }
                None => "n/a (whole s)".into(),
            };
            print!(" {cell:>20}");
        }
        println!();
    }
    println!(
        "worst |measured − expected|: the port {:.1} ms, the article's C {:.1} ms (select's timer slack: up to 0.1 % of its timeout)\n",
        worst * 1e3,
        worst_c * 1e3
    );
    for (who, l, r) in &rows {
        if let Ok((f, p)) = r {
            for (what, v) in [("first window", f), ("probe interval", p)] {
                let name = format!("{who} {what} L={l}s");
                report.add(Figure::from("clock", &name, "ms", &mut [v * 1e3]));
            }
        }
    }
}

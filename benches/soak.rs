//! `make soak`: each server — hb_server, hb_server1, hb_server_oob, ka_server — run for
//! SOAK_SECONDS (default 480; the four at once, each with clients of its own) against a
//! bounded mix of honest clients (in-process ones comparing every echo byte for byte, and
//! the project's client programs in waves) and hostile ones (silent, connect-and-close,
//! connect-and-reset, garbage, floods that never read, half-closes, bad port handshakes),
//! on 127.0.0.1 only. It passes when there was no false death, every echo was exact, and
//! the server's threads, descriptors and resident memory came back to their start.
//! Prints a table, writes `target/soak.json`, exits 1 if a server fails.
//!
//! Knobs: SOAK_SECONDS; SOAK_WARM (default 20: the same mix before the start is measured);
//! SOAK_SERVERS=hb_server,ka_server (some only); SOAK_FALSIFY=echo,
//! death,rss breaks a check on purpose to show that it fails: `echo` flips a byte of the
//! first echo each server's first honest client receives, `death` stops (SIGSTOP) each
//! server's first client program past the server's death bound (ka_server, whose clients'
//! kernels answer for a stopped client, instead gets `--max-clients 4`, so honest clients
//! are turned away), `rss` adds 3 MiB to each end RSS the verdict reads.

#[cfg(target_os = "linux")]
#[path = "parts/common.rs"]
mod common;

#[cfg(target_os = "linux")]
#[path = "parts/soak_honest.rs"]
mod honest;
#[cfg(target_os = "linux")]
#[path = "parts/soak_hostile.rs"]
mod hostile;
#[cfg(target_os = "linux")]
#[path = "parts/soak_report.rs"]
mod report;
#[path = "../tests/common/rng.rs"]
mod rng;
#[cfg(target_os = "linux")]
#[path = "parts/soak_run.rs"]
mod run;
#[cfg(target_os = "linux")]
#[path = "parts/soak_tally.rs"]
mod tally;

/// The soak reads /proc and stops programs with signals: Linux only.
#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("soak: skipped: the soak needs Linux (/proc, signals)");
}

#[cfg(target_os = "linux")]
fn main() {
    let secs: f64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(480.0);
    let knob = |name: &str| std::env::var(name).unwrap_or_default();
    let falsify = knob("SOAK_FALSIFY");
    let only = knob("SOAK_SERVERS");
    let wants = |s: &str| falsify.split(',').any(|f| f.trim() == s);
    match report::self_test() {
        Ok(n) => eprintln!(
            "soak: checker self-test: the honest row passes, {n} of {n} falsified rows fail"
        ),
        Err(e) => {
            eprintln!("soak: checker self-test failed: {e}");
            std::process::exit(1);
        }
    }
    common::raise_fd_limit();
    let t0 = std::time::Instant::now();
    let warm: f64 = std::env::var("SOAK_WARM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20.0);
    let plan = run::Plan {
        seconds: secs,
        warm: std::time::Duration::from_secs_f64(warm),
        falsify_echo: wants("echo"),
        falsify_death: wants("death"),
    };
    let handles: Vec<_> = run::SERVERS
        .iter()
        .filter(|s| only.is_empty() || only.split(',').any(|o| o.trim() == s.name))
        .map(|s| {
            let (s, plan) = (s.clone(), plan.clone());
            std::thread::spawn(move || run::soak(&s, &plan))
        })
        .collect();
    let mut rows: Vec<report::Row> = handles
        .into_iter()
        .map(|h| h.join().expect("a soak thread panicked"))
        .collect();
    if wants("rss") {
        for r in &mut rows {
            r.rss_end += 3 << 10;
            r.falsified
                .push("3 MiB added to the end RSS the verdict reads".into());
        }
    }
    report::print(&rows);
    let wall = t0.elapsed().as_secs_f64();
    println!("wall: {wall:.0} s");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    report::write(
        &rows,
        "target/soak.json",
        &[
            ("soak_seconds".into(), format!("{secs}")),
            ("warm_seconds".into(), format!("{warm}")),
            ("wall_seconds".into(), format!("{wall:.1}")),
            ("cores".into(), cores.to_string()),
            ("falsify".into(), falsify.clone()),
        ],
    );
    if rows.iter().any(|r| !report::verdict(r).is_empty()) {
        std::process::exit(1);
    }
}

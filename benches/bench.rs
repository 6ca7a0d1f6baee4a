//! `make bench`: how well the port does its job (SPEC §7). A plain `harness = false` program:
//! the figures are whole-system measurements of spawned programs over loopback (round trips,
//! detection times, idle cost, scale), which a micro-benchmark harness does not model, and it
//! must finish in minutes on 2 cores. Prints a table and writes `target/bench.json`.
//!
//! Sections: rtt (round trip), helpers (throughput), detect (detection accuracy), clock (each
//! program's windows beside the article's C), cpu (server CPU per heartbeat beside two C
//! servers), idle (idle cost), scale. `cargo bench --bench bench -- rtt helpers` runs some.

#[cfg(target_os = "linux")]
#[path = "parts/article.rs"]
mod article;
#[cfg(target_os = "linux")]
#[path = "parts/clock.rs"]
mod clock;
#[cfg(target_os = "linux")]
#[path = "parts/common.rs"]
mod common;
#[cfg(target_os = "linux")]
#[path = "parts/cpu.rs"]
mod cpu;
#[cfg(target_os = "linux")]
#[path = "parts/detect.rs"]
mod detect;
#[cfg(target_os = "linux")]
#[path = "parts/helpers.rs"]
mod helpers;
#[cfg(target_os = "linux")]
#[path = "parts/idle.rs"]
mod idle;
#[cfg(target_os = "linux")]
#[path = "parts/rtt.rs"]
mod rtt;

#[cfg(target_os = "linux")]
use common::{Figure, Report};

/// The benchmarks read /proc, schedstat and perf, and stop programs with signals: Linux only.
#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("bench: skipped: the benchmarks need Linux (/proc, schedstat, perf, signals)");
}

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    common::raise_fd_limit();
    let mut report = Report::new();
    let t0 = std::time::Instant::now();
    if want("rtt") {
        rtt::run(&mut report);
    }
    if want("helpers") {
        helpers::run(&mut report);
    }
    if want("detect") {
        detect::run(&mut report);
    }
    if want("clock") {
        clock::run(&mut report);
    }
    if want("cpu") {
        cpu::run(&mut report);
    }
    if want("idle") || want("scale") {
        idle::run(&mut report, want("idle"), want("scale"));
    }
    report.settings.push((
        "wall_seconds".into(),
        format!("{:.1}", t0.elapsed().as_secs_f64()),
    ));
    report.print();
    report.write("target/bench.json");
    let _ = Figure::default();
}

//! `hb_lab DIR…` — read the run folders `lab/scenario.sh` left (target/lab/PAIR-FATE), print
//! each run's sequence diagram with what its capture saw, the table of SPEC §6, and write
//! `target/lab.json`. Exits 1 when any verdict is not `ok`. `make lab` runs the scenarios,
//! then this.

use heartbeat_lab as lab;
use std::path::Path;

const USAGE: &str = "usage: hb_lab RUN_DIR...   (run folders left by lab/scenario.sh)\n       hb_lab --watch SETTINGS   (seconds a run watches after its fault)\n       hb_lab --check-knobs      (the knobs in the environment: exit 2 on a bad one)\n       hb_lab --pairs FATE       (the pairs that meet FATE)\n       hb_lab --next-exchange RUN_DIR   (when the client's next exchange leaves)";

fn main() {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    match dirs.first().map(String::as_str) {
        None => {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
        Some("-h" | "--help") => {
            println!(
                "{USAGE}\nEach folder holds settings, client.log, capture.pcap …; see docs/LAB.md."
            );
            std::process::exit(0)
        }
        Some("-V" | "--version") => {
            println!("hb_lab (heartbeat) {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0)
        }
        // lab/scenario.sh: how long to watch, from the run's settings.
        Some("--watch") => match dirs.get(1).map(std::fs::read_to_string) {
            Some(Ok(text)) => {
                println!("{}", lab::expect::Settings::parse(&text).watch());
                std::process::exit(0)
            }
            _ => {
                eprintln!("hb_lab: --watch needs a settings file\n{USAGE}");
                std::process::exit(2)
            }
        },
        // lab/run.sh, before anything runs: one line naming a bad knob, exit 2.
        Some("--check-knobs") => match lab::knobs::check(|k| std::env::var(k).ok()) {
            Ok(()) => std::process::exit(0),
            Err(line) => {
                eprintln!("hb_lab: {line}");
                std::process::exit(2)
            }
        },
        // lab/scenario.sh, for a flap: when the client's next exchange leaves.
        Some("--next-exchange") => {
            let dir = Path::new(dirs.get(1).map_or(".", String::as_str));
            let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
            let s = lab::expect::Settings::parse(&read("settings"));
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            match lab::expect::next_exchange(&s, &lab::Log::read(&read("client.log")), now) {
                Some(t) => {
                    println!("{t:.6}");
                    std::process::exit(0)
                }
                None => {
                    eprintln!("hb_lab: --next-exchange: no exchange in the log yet");
                    std::process::exit(1)
                }
            }
        }
        Some("--pairs") => match dirs.get(1) {
            Some(fate) if lab::FATES.contains(&fate.as_str()) => {
                println!("{}", lab::knobs::pairs_of(fate).join(" "));
                std::process::exit(0)
            }
            _ => {
                eprintln!("hb_lab: --pairs needs a fate ({})", lab::FATES.join(" "));
                std::process::exit(2)
            }
        },
        Some(o) if o.starts_with('-') => {
            eprintln!("hb_lab: unknown option '{o}'\n{USAGE}");
            std::process::exit(2)
        }
        _ => {}
    }
    let mut outcomes = Vec::new();
    for d in &dirs {
        match lab::analyze(Path::new(d)) {
            Ok(o) => outcomes.push(o),
            Err(e) => eprintln!("hb_lab: {d}: {e}"),
        }
    }
    for o in &outcomes {
        println!("{}", o.diagram);
    }
    print!("{}", lab::table(&outcomes));
    let json = lab::to_json(&outcomes);
    if let Err(e) =
        std::fs::create_dir_all("target").and_then(|()| std::fs::write("target/lab.json", json))
    {
        eprintln!("hb_lab: target/lab.json: {e}");
    }
    let all_ok = outcomes.len() == dirs.len() && outcomes.iter().all(|o| o.verdict == "ok");
    std::process::exit(if all_ok { 0 } else { 1 });
}

//! `hb_lab DIR…` — read the run folders `lab/scenario.sh` left (target/lab/PAIR-FATE), print
//! each run's sequence diagram with what its capture saw, the table of SPEC §6, and write
//! `target/lab.json`. Exits 1 when any verdict is not `ok`. `make lab` runs the scenarios,
//! then this.

use heartbeat_lab as lab;
use std::path::Path;

const USAGE: &str = "usage: hb_lab RUN_DIR...   (run folders left by lab/scenario.sh)\n       hb_lab --watch SETTINGS   (seconds a run watches after its fault)";

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

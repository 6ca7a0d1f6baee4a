//! `hb_lab DIR…` — read the run folders `lab/scenario.sh` left (target/lab/PAIR-FATE), print
//! each run's sequence diagram and the table of SPEC §6, and write `target/lab.json`.
//! Exits 1 when any verdict is not `ok`. `make lab` runs the scenarios, then this.

use heartbeat::lab;
use std::path::Path;

fn main() {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() || dirs[0] == "-h" || dirs[0] == "--help" {
        println!("usage: hb_lab RUN_DIR...   (run folders left by lab/scenario.sh)");
        std::process::exit(if dirs.is_empty() { 2 } else { 0 });
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

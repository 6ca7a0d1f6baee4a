//! `hb_lab` — read the run folders `lab/scenario.sh` left, print each run's sequence diagram
//! with what its capture saw and the table of SPEC §6, and keep the results: each run's
//! `diagram.txt` and `timeline.svg` in its folder, and for a whole lab (the folder of one
//! `make lab` invocation, `target/lab/<date>_<time>/`) its `lab.json`, `table.txt` and
//! `index.html`. Exits 1 when any verdict is not `ok`. `make lab` runs the scenarios, then
//! this. `hb_lab grade STUDENT_LAB_JSON` grades a student's results.

use heartbeat_lab as lab;
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: hb_lab [--out LAB_DIR] RUN_DIR|LAB_DIR...   (analyse runs; write a lab's lab.json, index.html)
       hb_lab grade STUDENT_LAB_JSON   (each row against the expectation for its own settings)
       hb_lab --watch SETTINGS   (seconds a run watches after its fault)
       hb_lab --check-knobs      (the knobs in the environment: exit 2 on a bad one)
       hb_lab --pairs FATE       (the pairs that meet FATE)
";

fn fail(msg: &str) -> ! {
    eprintln!("hb_lab: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => fail("nothing to read"),
        Some("-h" | "--help") => {
            println!("{USAGE}\nA run folder holds settings, client.log, capture.pcap …; a lab folder holds run folders. See docs/LAB.md.");
            std::process::exit(0)
        }
        Some("-V" | "--version") => {
            println!("hb_lab (heartbeat) {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0)
        }
        // lab/scenario.sh: how long to watch, from the run's settings.
        Some("--watch") => match args.get(1).map(std::fs::read_to_string) {
            Some(Ok(text)) => {
                println!("{}", lab::expect::Settings::parse(&text).watch());
                std::process::exit(0)
            }
            _ => fail("--watch needs a settings file"),
        },
        // lab/run.sh, before anything runs: one line naming a bad knob, exit 2.
        Some("--check-knobs") => match lab::knobs::check(|k| std::env::var(k).ok()) {
            Ok(()) => std::process::exit(0),
            Err(line) => {
                eprintln!("hb_lab: {line}");
                std::process::exit(2)
            }
        },
        Some("--pairs") => match args.get(1) {
            Some(fate) if lab::FATES.contains(&fate.as_str()) => {
                println!("{}", lab::knobs::pairs_of(fate).join(" "));
                std::process::exit(0)
            }
            _ => {
                eprintln!("hb_lab: --pairs needs a fate ({})", lab::FATES.join(" "));
                std::process::exit(2)
            }
        },
        Some("grade") => {
            let Some(file) = args.get(1) else {
                fail("grade needs a lab.json")
            };
            let text =
                std::fs::read_to_string(file).unwrap_or_else(|e| fail(&format!("{file}: {e}")));
            match lab::grade::grade(&text) {
                Ok((report, all)) => {
                    print!("{report}");
                    std::process::exit(if all { 0 } else { 1 })
                }
                Err(e) => fail(&format!("{file}: not a lab.json: {e}")),
            }
        }
        _ => {}
    }
    let mut out: Option<PathBuf> = None;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => match it.next() {
                Some(d) => out = Some(PathBuf::from(d)),
                None => fail("--out needs a folder"),
            },
            o if o.starts_with('-') => fail(&format!("unknown option '{o}'")),
            d if lab::runs::is_run(Path::new(d)) => dirs.push(d.into()),
            d => match lab::runs::runs_in(Path::new(d)) {
                Ok(runs) if !runs.is_empty() => {
                    // A whole lab: its results are written back into its own folder.
                    out.get_or_insert_with(|| PathBuf::from(d));
                    dirs.extend(runs);
                }
                Ok(_) => fail(&format!("{d}: neither a run folder nor a lab folder")),
                Err(e) => fail(&format!("{d}: {e}")),
            },
        }
    }
    let mut outcomes = Vec::new();
    for d in &dirs {
        match lab::analyze(d) {
            Ok(o) => {
                if let Err(e) = lab::runs::write_run(&o) {
                    eprintln!("hb_lab: {}: {e}", d.display());
                }
                outcomes.push(o)
            }
            Err(e) => eprintln!("hb_lab: {}: {e}", d.display()),
        }
    }
    for o in &outcomes {
        println!("{}", o.diagram);
    }
    print!("{}", lab::table(&outcomes));
    match &out {
        Some(out) => match lab::runs::write_lab(out, &outcomes) {
            Ok(()) => println!(
                "results: {0}/index.html, {0}/lab.json; each run's diagram.txt and timeline.svg in its folder",
                out.display()
            ),
            Err(e) => eprintln!("hb_lab: {}: {e}", out.display()),
        },
        None => println!("(each run's diagram.txt and timeline.svg rewritten in its folder; no lab.json for single runs)"),
    }
    let all_ok = outcomes.len() == dirs.len() && outcomes.iter().all(|o| o.verdict == "ok");
    std::process::exit(if all_ok { 0 } else { 1 });
}

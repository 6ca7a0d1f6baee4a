//! Where the lab keeps its results. Every `make lab` invocation writes a folder of its own,
//! `target/lab/<date>_<time>/` (lab/run.sh makes it, and points `target/lab/latest` at it),
//! one sub-folder per run (`hb-hung`, `hb-slow-tight` …) holding what the scenario left
//! (settings, logs, capture) and what `hb_lab` draws of it (`diagram.txt`, `timeline.svg`);
//! the invocation's folder holds `lab.json`, `table.txt` and `index.html`. Nothing is shared
//! between two invocations, so the next run never overwrites the last one's results, and
//! analysing one run again rewrites only that run's own drawings.

use crate::{html, report, svg, Outcome, FATES, PAIRS};
use std::io;
use std::path::{Path, PathBuf};

/// Whether `dir` is one run's folder (lab/scenario.sh leaves a `run` file in it).
pub fn is_run(dir: &Path) -> bool {
    dir.join("run").is_file()
}

/// The run folders of an invocation's folder, in the lab's order (fate, then pair).
pub fn runs_in(lab: &Path) -> io::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(lab)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_run(p))
        .collect();
    let rank = |p: &PathBuf| {
        let run = std::fs::read_to_string(p.join("run")).unwrap_or_default();
        let mut w = run.split_whitespace();
        let (pair, fate) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
        let i = |all: &[&str], x: &str| all.iter().position(|a| *a == x).unwrap_or(all.len());
        // tight before loose, as lab/run.sh runs them
        let loose = p.to_string_lossy().ends_with("-loose");
        (i(&FATES, fate), i(&PAIRS, pair), loose)
    };
    dirs.sort_by_cached_key(rank); // one read of each folder's `run`
    Ok(dirs)
}

/// The programs of a pair.
pub fn programs(pair: &str) -> (&'static str, &'static str) {
    match pair {
        "hb" => ("hb_client", "hb_server"),
        "hb1" => ("hb_client1", "hb_server1"),
        "oob" => ("hb_client_oob", "hb_server_oob"),
        _ => ("ka_client", "ka_server"),
    }
}

/// Write a run's drawings into its folder: `diagram.txt` and `timeline.svg`.
pub fn write_run(o: &Outcome) -> io::Result<()> {
    std::fs::write(o.dir.join("diagram.txt"), &o.diagram)?;
    let s = &o.settings;
    let title = format!("{} / {}   {}", s.pair, s.fate, s.client);
    let verdict = format!(
        "expected {}; measured {}; verdict {}; wire {}",
        report::shown(&o.expect),
        match (o.false_deaths, o.measured) {
            (Some((n, m)), _) => format!("{n} false deaths in {m:.1} min"),
            (_, Some(m)) => format!("{m:.3} s"),
            _ => "-".into(),
        },
        o.verdict,
        o.wire_verdict
    );
    let picture = svg::draw(
        &o.timeline,
        &title,
        programs(&s.pair),
        &o.fault_text,
        &verdict,
    );
    std::fs::write(o.dir.join("timeline.svg"), picture)
}

/// Write an invocation's results into its folder: `lab.json`, `table.txt`, `index.html`.
pub fn write_lab(out: &Path, outcomes: &[Outcome]) -> io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("lab.json"), report::to_json(outcomes))?;
    std::fs::write(out.join("table.txt"), report::table(outcomes))?;
    let title = out
        .file_name()
        .map_or_else(|| out.display().to_string(), |n| n.to_string_lossy().into());
    std::fs::write(out.join("index.html"), html::index(outcomes, &title))
}

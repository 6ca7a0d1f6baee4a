//! `hb_lab grade` on real results: the full lab's own lab.json holds row by row; the same
//! file doctored — a measured time moved, a setting changed after the run, a line swapped —
//! fails on exactly those rows.

use crate::common::full_lab;
use std::process::Command;

fn grade(json: &str) -> (bool, String) {
    let f = std::env::temp_dir().join(format!(
        "hb-lab-grade-{}-{}.json",
        std::process::id(),
        json.len()
    ));
    std::fs::write(&f, json).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hb_lab"))
        .arg("grade")
        .arg(&f)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&f);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: the lab")]
fn grade_passes_a_real_run_and_fails_a_doctored_one() {
    let lab = full_lab();
    if lab.skipped() {
        return;
    }
    // The grade agrees with the lab's own verdicts (a row the lab found off — which fails
    // every_pair_through_every_fate_is_ok — does not hold either).
    let ok_row = |r: &str| r.contains("\"verdict\": \"ok\"");
    let good = lab.rows().into_iter().filter(|r| ok_row(r)).count();
    let (ok, report) = grade(&lab.json);
    assert_eq!(ok, good == 40, "{report}");
    assert!(
        report.contains(&format!("total: {good} of 40 rows hold")),
        "{report}"
    );
    let doctored_ok = ["hb-hung", "ka-gone", "oob-killed"]
        .iter()
        .filter(|n| ok_row(lab.row(n)))
        .count();
    // Doctored: hb / hung answered in 1.2 s; ka / gone's idle said to be 1 after the run;
    // oob / killed said to end with "connection dead".
    let doctored: Vec<String> = lab
        .json
        .lines()
        .map(|l| {
            if l.contains("\"run\": \"hb-hung\"") {
                let m = l
                    .split("\"measured_s\": ")
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .next()
                    .unwrap();
                l.replace(&format!("\"measured_s\": {m},"), "\"measured_s\": 1.2,")
            } else if l.contains("\"run\": \"ka-gone\"") {
                l.replace("\"idle\": 3,", "\"idle\": 1,")
            } else if l.contains("\"run\": \"oob-killed\"") {
                l.replace(
                    "recv failure: Connection reset by peer (104)",
                    "connection dead",
                )
            } else {
                l.to_string()
            }
        })
        .collect();
    let (ok, report) = grade(&doctored.join("\n"));
    assert!(!ok, "{report}");
    let total = format!("total: {} of 40 rows hold", good - doctored_ok);
    assert!(report.contains(&total), "{total}:\n{report}");
    for row in [
        "hb / hung: DOES NOT HOLD",
        "ka / gone: DOES NOT HOLD",
        "oob / killed: DOES NOT HOLD",
    ] {
        assert!(report.contains(row), "{row}:\n{report}");
    }
}

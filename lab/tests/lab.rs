//! The fault lab as CI runs it: every pair through every fate that concerns it (lab/run.sh,
//! each run across a wire of its own: client, router and server in private network
//! namespaces), every verdict `ok` and confirmed by its capture. A fate skipped where it
//! could have run fails: under CI (root; iptables, ethtool, tcpdump installed by .ci/run)
//! nothing may be skipped.
//!
//! The lab runs once per test binary ([`full_lab`]); the other tests here read its results
//! folder: the pictures (`pictures`), the grading aid (`grading`), the documents' commands,
//! figures and expected table (`documents`).
//!
//! The lab's package tests on its own (`cargo test -p heartbeat-lab`): the port's programs
//! are built here, into the same target folder, before the lab runs them.

#[path = "lab/answers.rs"]
mod answers;
#[path = "lab/common.rs"]
mod common;
#[path = "lab/documents.rs"]
mod documents;
#[path = "lab/grading.rs"]
mod grading;
#[path = "lab/handout.rs"]
mod handout;
#[path = "lab/pictures.rs"]
mod pictures;

use common::full_lab;

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: network namespaces, veth and iptables"
)]
fn every_pair_through_every_fate_is_ok() {
    let lab = full_lab();
    let json = &lab.json;
    let rows = lab.rows();
    // alive: 6 pairs; killed … nat-idle: 4 pairs × 7; busy-gone: kaw, kaw-ut; lossy and
    // slow: hb tight and loose.
    assert_eq!(
        rows.len(),
        6 + 28 + 2 + 4,
        "every pair through its fates:\n{json}"
    );
    for fate in heartbeat_lab::FATES {
        let n = rows
            .iter()
            .filter(|r| r.contains(&format!("\"fate\": \"{fate}\"")))
            .count();
        assert!(n >= 2, "fate {fate} ran {n} times:\n{json}");
    }
    if lab.skipped() {
        return;
    }
    let bad: Vec<_> = rows
        .iter()
        .filter(|r| {
            !r.contains("\"verdict\": \"ok\"") || !r.contains("\"wire_verdict\": \"agrees\"")
        })
        .collect();
    for r in rows
        .iter()
        .filter(|r| r.contains("\"fate\": \"lossy\"") || r.contains("\"fate\": \"slow\""))
    {
        assert!(
            r.contains("\"false_deaths\": ") && !r.contains("\"false_deaths\": null"),
            "{r}"
        );
    }
    // Every row carries the wire's counts; every flap row cut an exchange (issue 19: cut 0).
    for r in &rows {
        assert!(r.contains("\"wire_counts\": {\"passed\": "), "{r}");
        if r.contains("\"fate\": \"flap\"") {
            let cut = r.split("\"cut\": ").nth(1).and_then(|t| {
                t.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse::<u64>()
                    .ok()
            });
            assert!(cut.is_some_and(|n| n >= 1), "a flap that cut nothing: {r}");
        }
    }
    assert!(
        bad.is_empty(),
        "verdicts not ok:\n{}\n\n{}",
        bad.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        lab.table
    );
    assert!(lab.ok, "hb_lab exited non-zero:\n{}", lab.table);
}

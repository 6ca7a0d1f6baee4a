//! The fault lab as CI runs it: every pair through every fate that concerns it (lab/run.sh,
//! each run across a wire of its own: client, router and server in private network
//! namespaces), every verdict `ok` and confirmed by its capture. A fate skipped where it
//! could have run fails: under CI (root; iptables, ethtool, tcpdump installed by .ci/run)
//! nothing may be skipped.
//!
//! The lab's package tests on its own (`cargo test -p heartbeat-lab`): the port's programs
//! are built here, into the same target folder, before the lab runs them.

use std::process::Command;

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: network namespaces, veth and iptables"
)]
fn every_pair_through_every_fate_is_ok() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let bin = common_bin_dir();
    build_the_port(root);
    let out = Command::new("bash")
        .arg(format!("{root}/lab/run.sh"))
        .env("BIN", &bin)
        .env("LAB_BIN", &bin)
        .env_remove("PAIR")
        .env_remove("SCENARIO")
        .env_remove("IDLE")
        .env_remove("INTERVAL")
        .env_remove("PROBES")
        .output()
        .expect("bash lab/run.sh");
    let table = String::from_utf8_lossy(&out.stdout);
    println!("{table}");
    let json = std::fs::read_to_string(format!("{root}/target/lab.json"))
        .expect("target/lab.json written");
    let rows: Vec<&str> = json.lines().filter(|l| l.contains("\"pair\"")).collect();
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
    let skipped = rows
        .iter()
        .filter(|r| r.contains("\"verdict\": \"skipped"))
        .count();
    if skipped > 0 && std::env::var_os("CI").is_none() {
        eprintln!("SKIPPED {skipped} lab runs (no namespace or iptables here):\n{json}");
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
        "verdicts not ok:\n{}\n\n{table}",
        bad.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(out.status.success());
}

/// The port's programs (hb_client, hb_server …) are another package's: cargo builds them for
/// this test only under `cargo test --workspace`. Build them in this profile either way.
fn build_the_port(root: &str) {
    let mut c = Command::new(env!("CARGO"));
    c.args(["build", "--bins", "-p", "heartbeat", "--manifest-path"])
        .arg(format!("{root}/Cargo.toml"));
    if !cfg!(debug_assertions) {
        c.arg("--release");
    }
    let st = c.status().expect("cargo build of the port's programs");
    assert!(st.success(), "cargo build -p heartbeat failed");
}

/// target/<profile>/, where cargo put the programs for this test run.
fn common_bin_dir() -> String {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|d| d.parent())
        .unwrap()
        .display()
        .to_string()
}

//! `make lab` with a bad knob: one line naming the knob and what it accepts, exit 2, and no
//! run folder (issue 19: `SCENARIO=hang` printed a 309-digit number, `IDLE=abc` "the client
//! never ended").

use std::process::Command;

#[test]
#[cfg_attr(not(unix), ignore = "needs bash: lab/run.sh")]
fn a_bad_knob_stops_the_lab_before_anything_runs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hb_lab"))
        .parent()
        .unwrap();
    for (knobs, line) in [
        (
            "SCENARIO=hang",
            "hb_lab: SCENARIO=hang: unknown fate; SCENARIO takes one or more of:",
        ),
        ("PAIR=hb2 SCENARIO=hung", "hb_lab: PAIR=hb2: unknown pair"),
        (
            "PAIR=hb SCENARIO=hung IDLE=abc",
            "hb_lab: IDLE=abc: not a number; IDLE takes",
        ),
        (
            "PAIR=ka SCENARIO=gone IDLE=1.5",
            "hb_lab: IDLE=1.5: the kernel keepalive pairs (ka, kaw, kaw-ut) take whole seconds",
        ),
        (
            "PAIR=hb SCENARIO=hung INTERVAL=-1",
            "hb_lab: INTERVAL=-1: out of range",
        ),
    ] {
        let mut c = Command::new("bash");
        c.arg(format!("{root}/lab/run.sh"))
            .env("LAB_BIN", bin)
            .env("BIN", bin);
        for k in ["PAIR", "SCENARIO", "IDLE", "INTERVAL", "PROBES"] {
            c.env_remove(k);
        }
        for (k, v) in knobs.split(' ').filter_map(|kv| kv.split_once('=')) {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{knobs}: {err}");
        assert!(
            err.starts_with(line) && err.lines().count() == 1,
            "{knobs}: {err}"
        );
        for dir in ["hb-hang", "hb2-hung", "ka-gone"] {
            if knobs.contains("1.5") || !dir.starts_with("ka") {
                let p = format!("{root}/target/lab/{dir}/run");
                // A run folder made by this check would hold a fresh `run` file.
                let fresh = std::fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() < 2));
                assert!(!fresh, "{knobs}: {p} was made");
            }
        }
    }
}

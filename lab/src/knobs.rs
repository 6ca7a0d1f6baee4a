//! The lab's knobs (`make lab PAIR=hb SCENARIO=hung IDLE=2 …`), checked before anything runs.
//!
//! `lab/run.sh` asks `hb_lab --check-knobs` first: a knob it cannot use — an unknown pair or
//! fate, a word where a number goes, a negative value, a fraction where the kernel's keepalive
//! takes whole seconds — gets one line naming the knob and what it accepts, and the lab exits 2
//! before it makes a run folder or a namespace. An empty knob is the lab's default
//! (`lab/settings.sh`). Which pairs meet which fate lives here too ([`pairs_of`]), so that
//! the check and `lab/run.sh` agree on which pairs a run will start.

use crate::{FATES, PAIRS};

/// The pairs that meet `fate` when `PAIR` is not given.
pub fn pairs_of(fate: &str) -> &'static [&'static str] {
    match fate {
        "busy-gone" => &["kaw", "kaw-ut"],
        "lossy" | "slow" => &["hb"],
        "alive" => &PAIRS,
        _ => &["hb", "hb1", "oob", "ka"],
    }
}

/// The knobs of `make lab` (the Makefile's LAB_KNOBS), as environment variables.
pub const KNOBS: [&str; 14] = [
    "PAIR",
    "SCENARIO",
    "IDLE",
    "INTERVAL",
    "PROBES",
    "USER_TIMEOUT",
    "WRITE",
    "DURATION",
    "FLAP",
    "NAT_IDLE",
    "LOSS",
    "DELAY",
    "JITTER",
    "LAB_JOBS",
];

/// What a numeric knob accepts.
#[derive(Clone, Copy)]
enum Kind {
    /// Seconds > 0; whole seconds when a kernel keepalive pair runs.
    Seconds { ka_whole: bool },
    /// A whole number from `lo` to `hi`.
    Whole { lo: u64, hi: u64 },
    /// A number from `lo` to `hi` (`unit` says what it counts).
    Range {
        lo: f64,
        hi: f64,
        unit: &'static str,
    },
}

/// Every numeric knob, with what it accepts.
const NUMBERS: [(&str, Kind); 12] = [
    ("IDLE", Kind::Seconds { ka_whole: true }),
    ("INTERVAL", Kind::Seconds { ka_whole: true }),
    ("PROBES", Kind::Whole { lo: 1, hi: 127 }),
    ("USER_TIMEOUT", Kind::Seconds { ka_whole: true }),
    ("WRITE", Kind::Seconds { ka_whole: false }),
    (
        "DURATION",
        Kind::Range {
            lo: 1.0,
            hi: 3600.0,
            unit: "seconds",
        },
    ),
    ("FLAP", Kind::Seconds { ka_whole: false }),
    ("NAT_IDLE", Kind::Whole { lo: 1, hi: 86_400 }),
    (
        "LOSS",
        Kind::Range {
            lo: 0.0,
            hi: 100.0,
            unit: "percent",
        },
    ),
    (
        "DELAY",
        Kind::Range {
            lo: 0.0,
            hi: 10_000.0,
            unit: "ms",
        },
    ),
    (
        "JITTER",
        Kind::Range {
            lo: 0.0,
            hi: 10_000.0,
            unit: "ms",
        },
    ),
    ("LAB_JOBS", Kind::Whole { lo: 1, hi: 64 }),
];

/// Check the knobs `get` gives (an environment); `Err` is the one line to print.
pub fn check(get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    let knob = |k: &str| {
        get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let words = |k: &str| knob(k).map(|v| v.split_whitespace().map(String::from).collect());
    let fates: Vec<String> =
        words("SCENARIO").unwrap_or_else(|| FATES.iter().map(|f| f.to_string()).collect());
    for f in &fates {
        if !FATES.contains(&f.as_str()) {
            return Err(format!(
                "SCENARIO={f}: unknown fate; SCENARIO takes one or more of: {}",
                FATES.join(" ")
            ));
        }
    }
    let pairs: Vec<String> = match words("PAIR") {
        Some(p) => p,
        None => fates
            .iter()
            .flat_map(|f| pairs_of(f).iter().map(|p| p.to_string()))
            .collect(),
    };
    for p in &pairs {
        if !PAIRS.contains(&p.as_str()) {
            return Err(format!(
                "PAIR={p}: unknown pair; PAIR takes one or more of: {}",
                PAIRS.join(" ")
            ));
        }
    }
    let kernel = pairs.iter().any(|p| p.starts_with("ka"));
    for (k, kind) in NUMBERS {
        let Some(v) = knob(k) else { continue };
        let n = v.parse::<f64>().ok().filter(|n| n.is_finite());
        let accepts = match kind {
            Kind::Seconds { .. } => "a number of seconds > 0 (e.g. 2 or 0.5)".to_string(),
            Kind::Whole { lo, hi } => format!("a whole number from {lo} to {hi}"),
            Kind::Range { lo, hi, unit } => format!("a number of {unit} from {lo} to {hi}"),
        };
        let Some(n) = n else {
            return Err(format!("{k}={v}: not a number; {k} takes {accepts}"));
        };
        let fits = match kind {
            Kind::Seconds { .. } => n > 0.0 && n <= 1e6,
            Kind::Whole { lo, hi } => n.fract() == 0.0 && n >= lo as f64 && n <= hi as f64,
            Kind::Range { lo, hi, .. } => (lo..=hi).contains(&n),
        };
        if !fits {
            return Err(format!("{k}={v}: out of range; {k} takes {accepts}"));
        }
        if matches!(kind, Kind::Seconds { ka_whole: true }) && kernel && n.fract() != 0.0 {
            return Err(format!(
                "{k}={v}: the kernel keepalive pairs (ka, kaw, kaw-ut) take whole seconds; \
                 give {k} a whole number, or PAIR=hb, hb1 or oob"
            ));
        }
    }
    let delay = knob("DELAY").and_then(|v| v.parse::<f64>().ok());
    let jitter = knob("JITTER").and_then(|v| v.parse::<f64>().ok());
    if let Some(j) = jitter {
        let d = delay.unwrap_or(300.0); // lab/settings.sh's default delay for `slow`
        if j > d {
            return Err(format!(
                "JITTER={j}: larger than DELAY={d}; JITTER takes ms from 0 to DELAY (a frame cannot leave before it came)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One list of knobs: the checked ones with PAIR and SCENARIO, and the Makefile's
    /// LAB_KNOBS (what `make lab` passes on) the same names in the same order.
    #[test]
    fn the_knob_lists_agree() {
        let checked: Vec<&str> = ["PAIR", "SCENARIO"]
            .into_iter()
            .chain(NUMBERS.iter().map(|(k, _)| *k))
            .collect();
        assert_eq!(checked, KNOBS);
        let make =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Makefile")).unwrap();
        let line = make
            .lines()
            .find_map(|l| l.strip_prefix("LAB_KNOBS = "))
            .expect("the Makefile's LAB_KNOBS line");
        assert_eq!(line.split_whitespace().collect::<Vec<_>>(), KNOBS);
    }

    fn with(knobs: &str) -> Result<(), String> {
        let kv: Vec<(String, String)> = knobs
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.to_string()))
            .collect();
        check(|k| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn good_knobs_pass_and_an_empty_knob_is_the_default() {
        assert_eq!(with(""), Ok(()));
        assert_eq!(with("PAIR=;SCENARIO=;IDLE=;LAB_JOBS="), Ok(()));
        assert_eq!(
            with("PAIR=hb;SCENARIO=hung;IDLE=2;INTERVAL=0.5;PROBES=2"),
            Ok(())
        );
        assert_eq!(
            with("PAIR=ka kaw;SCENARIO=gone flap;IDLE=2;INTERVAL=1"),
            Ok(())
        );
        assert_eq!(
            with("SCENARIO=slow;INTERVAL=0.25;DELAY=100;JITTER=100"),
            Ok(())
        );
        assert_eq!(with("SCENARIO=lossy;LOSS=0;DURATION=71"), Ok(()));
    }

    #[test]
    fn each_bad_knob_is_named_with_what_it_accepts() {
        let err = |k: &str| with(k).unwrap_err();
        assert!(err("SCENARIO=hang").starts_with("SCENARIO=hang: unknown fate; SCENARIO takes"));
        assert!(err("PAIR=hb2").starts_with("PAIR=hb2: unknown pair; PAIR takes"));
        assert!(err("PAIR=hb;IDLE=abc").starts_with("IDLE=abc: not a number; IDLE takes"));
        assert!(err("PAIR=hb;INTERVAL=-1").starts_with("INTERVAL=-1: out of range"));
        assert!(err("PAIR=hb;IDLE=0").starts_with("IDLE=0: out of range"));
        assert!(err("PAIR=hb;PROBES=2.5").starts_with("PROBES=2.5: out of range"));
        assert!(err("PAIR=hb;PROBES=NaN").starts_with("PROBES=NaN: not a number"));
        assert!(err("LOSS=101").starts_with("LOSS=101: out of range"));
        assert!(err("DELAY=-5").starts_with("DELAY=-5: out of range"));
        assert!(err("DELAY=100;JITTER=200").starts_with("JITTER=200: larger than DELAY=100"));
        assert!(err("LAB_JOBS=0").starts_with("LAB_JOBS=0: out of range"));
        assert!(err("NAT_IDLE=1.5").starts_with("NAT_IDLE=1.5: out of range"));
        // Fractions only where no kernel keepalive pair runs: by default every fate runs ka.
        assert!(err("IDLE=0.5").contains("take whole seconds"));
        assert!(err("PAIR=ka;SCENARIO=gone;INTERVAL=1.5").contains("take whole seconds"));
        assert!(err("SCENARIO=busy-gone;USER_TIMEOUT=2.5").contains("take whole seconds"));
        assert_eq!(with("SCENARIO=slow;INTERVAL=0.3"), Ok(()));
        assert_eq!(with("PAIR=oob;INTERVAL=0.3"), Ok(()));
    }
}

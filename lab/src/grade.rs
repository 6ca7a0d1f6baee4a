//! `hb_lab grade STUDENT_LAB_JSON`: a grading aid. For each row of a student's `lab.json`
//! the expectation is computed again from the settings the row recorded (not taken from the
//! file), and the row's measurements are held against it by the same rules `make lab` used
//! ([`timing_holds`], [`deaths_hold`]): the line fits the fate, the time falls in the bound,
//! the false deaths are as many as the model allows. The client's recorded command line must
//! carry the recorded settings, and the row must say what the lab said of it (its verdict,
//! the wire's). Prints what holds and what does not per row, and a total.

use crate::expect::{self, Deaths, Expect, Settings};
use crate::json::{self, Value};
use crate::report::shown;
use std::fmt::Write as _;

/// Whether a run that ended with `line` after `measured` seconds fits the expectation: the
/// rule `make lab` gives its verdict by. `Err` says why not.
pub fn timing_holds(
    s: &Settings,
    e: &Expect,
    line: Option<&str>,
    measured: Option<f64>,
) -> Result<String, String> {
    let fits = |l: &str| {
        if expect::fitting(&s.fate, l) {
            Ok(())
        } else {
            Err(format!("the line '{l}' does not fit the fate {}", s.fate))
        }
    };
    match (*e, line, measured) {
        (Expect::Never, None, _) => Ok("never noticed, as expected".into()),
        (Expect::Never, Some(l), _) => Err(format!("expected never, but the client said '{l}'")),
        (Expect::AtFault, Some(l), Some(m)) => {
            fits(l)?;
            if (-0.02..=0.3).contains(&m) {
                Ok(format!("'{l}' {m:.3} s after the fault: at once"))
            } else {
                Err(format!("{m:.3} s after the fault is not at once (0-0.3 s)"))
            }
        }
        (Expect::AfterLastByte { lo, hi } | Expect::AfterFault { lo, hi }, Some(l), Some(m)) => {
            fits(l)?;
            let (a, b) = (lo - 0.05, hi + s.slack(hi));
            if m >= a && m <= b {
                Ok(format!("'{l}' at {m:.3} s, within {a:.3}-{b:.3} s"))
            } else {
                Err(format!("{m:.3} s is outside {a:.3}-{b:.3} s"))
            }
        }
        (_, None, _) => Err("the client never ended".into()),
        _ => Err("no time was measured".into()),
    }
}

/// Whether `deaths` false deaths fit what the model expects.
pub fn deaths_hold(want: Deaths, deaths: u32) -> bool {
    match want {
        Deaths::Some => deaths > 0,
        Deaths::None => deaths == 0,
        Deaths::Either => true,
    }
}

/// A row's settings object as `lab/settings.sh` wrote them, read back.
fn settings_of(row: &Value) -> Option<Settings> {
    let Value::Obj(m) = row.get("settings")? else {
        return None;
    };
    let mut text = String::new();
    for (k, v) in m {
        let v = match v {
            Value::Num(n) => format!("{n}"),
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            _ => String::new(),
        };
        let _ = writeln!(text, "{k}={v}");
    }
    Some(Settings::parse(&text))
}

/// The client's command line carries the recorded settings (`--interval 0.5` for interval
/// 0.5 …): a settings value edited after the run is caught here.
fn command_agrees(s: &Settings) -> Result<(), String> {
    let words: Vec<&str> = s.client.split_whitespace().collect();
    let given = |opt: &str| {
        words
            .windows(2)
            .find(|w| w[0] == opt)
            .and_then(|w| w[1].parse::<f64>().ok())
    };
    let mut want = vec![
        ("--interval", Some(s.interval)),
        ("--probes", Some(f64::from(s.probes))),
        ("--user-timeout", s.user_timeout),
        ("--write", s.write),
    ];
    if s.pair != "oob" {
        want.push(("--idle", Some(s.idle)));
    }
    for (opt, v) in want {
        if given(opt) != v {
            return Err(format!(
                "the settings say {} {}, the client ran with {}",
                opt.trim_start_matches('-'),
                v.map_or("nothing".into(), |v| v.to_string()),
                given(opt).map_or("nothing".into(), |g| format!("{opt} {g}"))
            ));
        }
    }
    Ok(())
}

/// Grade one row: what holds, what does not.
fn row(r: &Value) -> (String, Vec<String>, Vec<String>) {
    let text = |k: &str| r.get(k).and_then(Value::str).unwrap_or("?").to_string();
    let name = format!(
        "{} / {}{}",
        text("pair"),
        text("fate"),
        match text("run").rsplit('-').next() {
            Some(v @ ("tight" | "loose")) => format!(" ({v})"),
            _ => String::new(),
        }
    );
    let (mut holds, mut fails) = (Vec::new(), Vec::new());
    let Some(s) = settings_of(r) else {
        fails.push("no settings recorded".to_string());
        return (name, holds, fails);
    };
    let e = expect::expected(&s);
    match command_agrees(&s) {
        Ok(()) => holds.push(format!("client ran as recorded: {}", s.client)),
        Err(why) => fails.push(why),
    }
    if text("expected") == shown(&e) {
        holds.push(format!("expected {} (from its settings)", shown(&e)));
    } else {
        fails.push(format!(
            "the row says expected {}, its settings give {}",
            text("expected"),
            shown(&e)
        ));
    }
    let line = r.get("line").and_then(Value::str);
    let measured = r.get("measured_s").and_then(Value::num);
    if let Expect::FalseDeaths(want) = e {
        match r.get("false_deaths").and_then(Value::num) {
            Some(n) if deaths_hold(want, n as u32) => {
                holds.push(format!("{n} false deaths: {} expected", shown(&e)))
            }
            Some(n) => fails.push(format!("{n} false deaths where {} are expected", shown(&e))),
            None => fails.push("no false-death count".into()),
        }
        let minutes = r.get("minutes").and_then(Value::num).unwrap_or(0.0);
        if (minutes - s.duration / 60.0).abs() > 0.01 {
            fails.push(format!(
                "{minutes} minutes watched, the settings say {} s",
                s.duration
            ));
        }
    } else {
        match timing_holds(&s, &e, line, measured) {
            Ok(why) => holds.push(why),
            Err(why) => fails.push(why),
        }
    }
    for (k, want) in [("verdict", "ok"), ("wire_verdict", "agrees")] {
        let got = text(k);
        if got == want {
            holds.push(format!("{k} {got}"));
        } else {
            fails.push(format!("{k}: {got}"));
        }
    }
    (name, holds, fails)
}

/// Grade a `lab.json`: the report, and whether every row holds. `Err` when it cannot be read.
pub fn grade(text: &str) -> Result<(String, bool), String> {
    let v = json::parse(text)?;
    let Value::Arr(rows) = v else {
        return Err("not a lab.json: expected an array of rows".into());
    };
    if rows.is_empty() {
        return Err("no rows".into());
    }
    let mut out = String::new();
    let mut good = 0;
    for r in &rows {
        let (name, holds, fails) = row(r);
        let ok = fails.is_empty();
        good += usize::from(ok);
        let _ = writeln!(
            out,
            "{name}: {}",
            if ok { "holds" } else { "DOES NOT HOLD" }
        );
        for h in &holds {
            let _ = writeln!(out, "    holds: {h}");
        }
        for f in &fails {
            let _ = writeln!(out, "    does not hold: {f}");
        }
    }
    let _ = writeln!(out, "total: {good} of {} rows hold", rows.len());
    Ok((out, good == rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row as `make lab` writes it for hb / hung with the defaults.
    fn hung(measured: &str, idle: &str) -> String {
        format!(
            r#"[{{"pair": "hb", "fate": "hung", "run": "hb-hung", "expected": "2.5 s", "expected_s": [2.5, 2.5], "expected_from": "last byte", "measured_s": {measured}, "false_deaths": null, "minutes": null, "line": "connection dead", "verdict": "ok", "capture": null, "wire_verdict": "agrees", "wire": "hb_wire", "settings": {{"pair": "hb", "fate": "hung", "idle": {idle}, "interval": 0.5, "probes": 3, "user_timeout": null, "write": null, "client": "hb_client -t --interval 0.5 --probes 3 --idle 1 192.0.2.66 9000"}}}}]"#
        )
    }

    #[test]
    fn a_true_row_holds_and_each_doctoring_fails() {
        let (report, ok) = grade(&hung("2.501", "1")).unwrap();
        assert!(ok, "{report}");
        assert!(report.contains("total: 1 of 1 rows hold"), "{report}");
        // A time outside the bound.
        let (report, ok) = grade(&hung("1.900", "1")).unwrap();
        assert!(!ok && report.contains("outside"), "{report}");
        // A setting changed after the run: the command line says otherwise, and the
        // expectation for idle 2 is 3.5 s, not the row's 2.5 s.
        let (report, ok) = grade(&hung("2.501", "2")).unwrap();
        assert!(
            !ok && report.contains("the client ran with --idle 1"),
            "{report}"
        );
        assert!(report.contains("its settings give 3.5 s"), "{report}");
        // A wrong line for the fate.
        let (report, ok) =
            grade(&hung("2.501", "1").replace("connection dead", "server terminated")).unwrap();
        assert!(!ok && report.contains("does not fit"), "{report}");
        assert!(grade("{\"not\": \"rows\"}").is_err());
    }

    fn hb(fate: &str) -> Settings {
        Settings::parse(&format!(
            "pair=hb\nfate={fate}\nidle=1\ninterval=0.5\nprobes=3\ndelay=300\njitter=100\nduration=30\n"
        ))
    }

    #[test]
    fn a_line_where_none_is_expected_fails() {
        let s = hb("alive");
        assert!(timing_holds(&s, &Expect::Never, None, None).is_ok());
        let e = timing_holds(&s, &Expect::Never, Some("connection dead"), Some(3.0));
        assert!(e.unwrap_err().contains("expected never"));
    }

    #[test]
    fn at_once_is_within_0_3_s_of_the_fault() {
        let s = hb("killed");
        let at = |m: f64| timing_holds(&s, &Expect::AtFault, Some("server terminated"), Some(m));
        assert!(at(0.001).is_ok() && at(-0.02).is_ok() && at(0.3).is_ok());
        for m in [-0.1, 0.31, 2.5] {
            assert!(at(m).unwrap_err().contains("is not at once"), "{m}");
        }
        let e = timing_holds(&s, &Expect::AtFault, Some("connection dead"), Some(0.01));
        assert!(e.unwrap_err().contains("does not fit"));
    }

    #[test]
    fn the_false_deaths_fit_the_model() {
        assert!(deaths_hold(Deaths::None, 0) && !deaths_hold(Deaths::None, 1));
        assert!(deaths_hold(Deaths::Some, 1) && !deaths_hold(Deaths::Some, 0));
        assert!(deaths_hold(Deaths::Either, 0) && deaths_hold(Deaths::Either, 5));
    }

    /// A row as `make lab` writes it for hb / slow with the defaults: no deaths expected.
    fn slow(false_deaths: &str, minutes: &str, verdict: &str, wire: &str) -> String {
        format!(
            r#"[{{"pair": "hb", "fate": "slow", "run": "hb-slow-loose", "expected": "none", "expected_s": null, "expected_from": null, "measured_s": null, "false_deaths": {false_deaths}, "minutes": {minutes}, "line": null, "verdict": "{verdict}", "capture": null, "wire_verdict": "{wire}", "wire": "hb_wire", "settings": {{"pair": "hb", "fate": "slow", "idle": 1, "interval": 0.5, "probes": 3, "user_timeout": null, "write": null, "duration": 30, "delay": 300, "jitter": 100, "loss": 0, "client": "hb_client -t --interval 0.5 --probes 3 --idle 1 192.0.2.66 9000"}}}}]"#
        )
    }

    #[test]
    fn a_statistical_row_holds_and_each_doctoring_fails() {
        assert_eq!(
            expect::expected(&hb("slow")),
            Expect::FalseDeaths(Deaths::None)
        );
        let (report, ok) = grade(&slow("0", "0.5", "ok", "agrees")).unwrap();
        assert!(ok, "{report}");
        for (row, why) in [
            (
                slow("2", "0.5", "ok", "agrees"),
                "2 false deaths where none are expected",
            ),
            (slow("null", "0.5", "ok", "agrees"), "no false-death count"),
            (
                slow("0", "1", "ok", "agrees"),
                "1 minutes watched, the settings say 30 s",
            ),
            (slow("0", "0.5", "FAIL", "agrees"), "verdict: FAIL"),
            (
                slow("0", "0.5", "ok", "disagrees: x"),
                "wire_verdict: disagrees: x",
            ),
        ] {
            let (report, ok) = grade(&row).unwrap();
            assert!(!ok && report.contains(why), "want '{why}': {report}");
        }
    }
}

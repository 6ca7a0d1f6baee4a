//! The lab's output: a sequence diagram per run in the style of seed 000's ASCII drawing —
//! what the client said, with what the wire saw below it — the table `make lab` prints, and
//! `target/lab.json`.

use crate::expect::{Deaths, Expect};
use crate::{Log, Outcome, ENDINGS};
use std::fmt::Write as _;

/// The programs of a pair.
fn programs(pair: &str) -> (&'static str, &'static str) {
    match pair {
        "hb" => ("hb_client", "hb_server"),
        "hb1" => ("hb_client1", "hb_server1"),
        "oob" => ("hb_client_oob", "hb_server_oob"),
        _ => ("ka_client", "ka_server"),
    }
}

/// What the fault is, as drawn on the server's side. `seen` is what the wire saw of it
/// (the server's kernel closed with FIN or RST), when it saw something.
fn what(fate: &str, seen: Option<&str>) -> String {
    match fate {
        "killed" => format!("SIGKILL: its kernel sends {}", seen.unwrap_or("FIN")),
        "hung" => "SIGSTOP: its kernel still ACKs".into(),
        "gone" => "iptables DROP: nothing answers".into(),
        "rebooted" => "REJECT tcp-reset: connection unknown".into(),
        "partition" | "busy-gone" => "the wire is cut".into(),
        "flap" => "the wire is cut, then mended".into(),
        "nat-idle" => "(the NAT forgets idle connections)".into(),
        _ => String::new(),
    }
}

/// The sequence diagram of a run, two columns as in seed 000's drawing.
pub fn draw(o: &Outcome, log: &Log, fault_at: f64) -> String {
    const W: usize = 44;
    let s = &o.settings;
    let (c, sv) = programs(&s.pair);
    let fault = fault_at - log.zero;
    let mut d = format!(
        "{} / {}   ({})\n         {c:<w$}{sv}\n",
        s.pair,
        s.fate,
        s.client,
        w = W + 2
    );
    let arrow = |label: &str, right: bool| {
        let line = "-".repeat(W.saturating_sub(label.len() + 6));
        if right {
            format!("|--- {label} {line}>|")
        } else {
            format!("|<{line} {label} ---|")
        }
    };
    let seen = o
        .wire_notes
        .iter()
        .find_map(|n| n.strip_prefix("the server's kernel sent "))
        .and_then(|n| n.split(' ').next());
    let fault_row = format!("{fault:8.3} |{:>w$}X  {}\n", "", what(&s.fate, seen), w = W);
    let mut fault_drawn = s.fate == "alive";
    let start = (fault - 3.0).max(0.0);
    for (t, text) in &log.events {
        let (t, text) = (*t, text.as_str());
        if !fault_drawn && t >= fault {
            d += &fault_row;
            fault_drawn = true;
        }
        if t < start {
            continue;
        }
        let ending = !text.starts_with("debug:") && ENDINGS.iter().any(|e| text.contains(e));
        let row = if let Some(n) = text.strip_prefix("sending heartbeat #") {
            Some(arrow(&format!("heartbeat #{n}"), true))
        } else if text.starts_with("debug: sending urgent byte") {
            Some(arrow("urgent '1' (MSG_OOB)", true))
        } else if text.contains("from the server") {
            Some(arrow("urgent '1'", false))
        } else if let Some(r) = text.strip_prefix("debug: read ") {
            Some(arrow(
                &format!("echo, {}", r.replace(" bytes on ", " B on ")),
                false,
            ))
        } else if text.starts_with("keepalive on") {
            Some("|  keepalive probes: kernel only; the wire shows them".to_string())
        } else if ending {
            if !fault_drawn {
                d += &fault_row;
                fault_drawn = true;
            }
            if text.contains("reset by peer") {
                let _ = writeln!(d, "{t:8.3} {}", arrow("RST", false));
            }
            Some(format!("X  {text}"))
        } else {
            None
        };
        if let Some(r) = row {
            let _ = writeln!(d, "{t:8.3} {r}");
        }
    }
    if !fault_drawn {
        d += &fault_row;
    }
    d + &wire_lines(o)
}

/// The wire's lines under a diagram.
fn wire_lines(o: &Outcome) -> String {
    let mut d = String::new();
    for n in &o.wire_notes {
        let _ = writeln!(d, "    wire: {n}");
    }
    let _ = writeln!(d, "    wire verdict: {}", o.wire_verdict);
    d
}

/// The text printed for a run without a diagram (statistical fates, skipped runs).
pub fn summary(o: &Outcome) -> String {
    let s = &o.settings;
    let mut d = format!("{} / {}   ({})\n", s.pair, s.fate, s.client);
    if let Some((n, m)) = o.false_deaths {
        let _ = writeln!(
            d,
            "    {n} false deaths in {m:.2} min under delay {} ± {} ms, loss {} %; first: {}",
            s.delay,
            s.jitter,
            s.loss,
            o.line.as_deref().unwrap_or("-")
        );
    }
    if let (Some(p), Some((n, _))) = (o.predicted, o.false_deaths) {
        let split = o.split.unwrap_or_default();
        let _ = writeln!(
            d,
            "    measured {n} (client {}, server {}) beside predicted {:.4}-{:.4} (client {:.4}, server {:.4}-{:.4})",
            split.client, split.server, p.low(), p.high(), p.client, p.server.0, p.server.1
        );
    }
    d + &wire_lines(o)
}

/// JSON string literal.
fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o += "\\\"",
            '\\' => o += "\\\\",
            c if (c as u32) < 0x20 => o += &format!("\\u{:04x}", c as u32),
            c => o.push(c),
        }
    }
    o + "\""
}

/// `expected` as the table shows it.
fn shown(e: &Expect) -> String {
    match *e {
        Expect::Never => "never".into(),
        Expect::AtFault => "at once".into(),
        Expect::AfterLastByte { lo, hi } if lo == hi => format!("{hi} s"),
        Expect::AfterLastByte { lo, hi } => format!("{lo}-{hi} s"),
        Expect::AfterFault { lo, hi } => format!("F+{lo}-{hi} s"),
        Expect::FalseDeaths(Deaths::Some) => "some".into(),
        Expect::FalseDeaths(Deaths::None) => "none".into(),
        Expect::FalseDeaths(Deaths::Either) => "either".into(),
    }
}

/// `target/lab.json`: one object per run.
pub fn to_json(outcomes: &[Outcome]) -> String {
    let rows: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let (exp, from) = match o.expect {
                Expect::Never => ("null".to_string(), "never"),
                Expect::AtFault => ("0".to_string(), "fault"),
                Expect::AfterFault { hi, .. } => (format!("{hi}"), "fault"),
                Expect::AfterLastByte { hi, .. } => (format!("{hi}"), "last byte"),
                Expect::FalseDeaths(_) => ("null".to_string(), "false deaths"),
            };
            let opt = |v: Option<String>| v.unwrap_or_else(|| "null".into());
            let settings: Vec<String> = o
                .settings
                .raw
                .iter()
                .map(|(k, v)| format!("{}: {}", json_str(k), json_str(v)))
                .collect();
            format!(
                "  {{\"pair\": {}, \"fate\": {}, \"run\": {}, \"expected\": {}, \"expected_s\": {exp}, \"expected_from\": {}, \"measured_s\": {}, \"false_deaths\": {}, \"predicted\": {}, \"minutes\": {}, \"line\": {}, \"verdict\": {}, \"capture\": {}, \"wire_verdict\": {}, \"wire\": {}, \"wire_counts\": {}, \"settings\": {{{}}}}}",
                json_str(&o.settings.pair),
                json_str(&o.settings.fate),
                json_str(&o.name),
                json_str(&shown(&o.expect)),
                json_str(from),
                opt(o.measured.map(|m| format!("{m:.3}"))),
                opt(o.false_deaths.map(|(n, _)| n.to_string())),
                opt(o.predicted.map(|p| format!("[{:.3}, {:.3}]", p.low(), p.high()))),
                opt(o.false_deaths.map(|(_, m)| format!("{m:.3}"))),
                opt(o.line.as_deref().map(json_str)),
                json_str(&o.verdict),
                opt(o.capture.as_deref().map(json_str)),
                json_str(&o.wire_verdict),
                json_str(&o.settings.wire),
                opt(o.wire_counts.map(|c| format!(
                    "{{\"passed\": {}, \"lost\": {}, \"cut\": {}, \"dropped\": {}}}",
                    c.passed, c.lost, c.cut, c.dropped
                ))),
                settings.join(", ")
            )
        })
        .collect();
    format!("[\n{}\n]\n", rows.join(",\n"))
}

/// The table `make lab` prints.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut t = format!(
        "{:<7}{:<11}{:<8}{:<12}{:<13}{:<9}{:<11} {}\n",
        "pair", "fate", "run", "expected", "measured", "verdict", "wire", "line"
    );
    for o in outcomes {
        let m = match (o.false_deaths, o.measured) {
            (Some((n, min)), _) => format!("{n} in {min:.1}m"),
            (_, Some(m)) => format!("{m:.3} s"),
            _ => "-".into(),
        };
        let variant = o
            .name
            .rsplit('-')
            .next()
            .filter(|v| ["tight", "loose"].contains(v));
        let verdict = o.verdict.split(':').next().unwrap_or("");
        let wire = o.wire_verdict.split(':').next().unwrap_or("");
        let _ = writeln!(
            t,
            "{:<7}{:<11}{:<8}{:<12}{:<13}{:<9}{:<11} {}",
            o.settings.pair,
            o.settings.fate,
            variant.unwrap_or("-"),
            shown(&o.expect),
            m,
            verdict,
            wire,
            o.line.as_deref().unwrap_or("-")
        );
    }
    for o in outcomes.iter().filter(|o| o.verdict != "ok") {
        let _ = writeln!(t, "{}: {}", o.name, o.verdict);
    }
    t
}

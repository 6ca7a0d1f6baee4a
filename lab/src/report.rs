//! The lab's output: a sequence diagram per run in the style of seed 000's ASCII drawing —
//! what the client said, with what the wire saw below it — the table `make lab` prints, and
//! `lab.json` (typed), all drawn from the run's events (`crate::events`).

use crate::events::{Kind, Row, Side};
use crate::expect::{Deaths, Expect};
use crate::json::json_str;
use crate::runs::programs;
use crate::Outcome;
use std::fmt::Write as _;

/// What the fault is, as drawn on the server's side, with what the wire saw of it (the
/// server's kernel closed with FIN or RST) when it saw something.
pub fn what(fate: &str, notes: &[String]) -> String {
    let seen = notes
        .iter()
        .find_map(|n| n.strip_prefix("the server's kernel sent "))
        .and_then(|n| n.split(' ').next());
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

/// The sequence diagram of a run, two columns as in seed 000's drawing, drawn from the run's
/// events ([`crate::events`], the same the SVG draws): every segment but the plain ACKs —
/// heartbeats, answers, urgent bytes, keepalive probes and the ACKs that answer them,
/// retransmissions, FIN, RST — at the time the capture saw it, and the programs' lines.
/// It starts 3 s before the fault.
pub fn draw(o: &Outcome) -> String {
    const W: usize = 44;
    let s = &o.settings;
    let tl = &o.timeline;
    let (c, sv) = programs(&s.pair);
    let mut d = format!(
        "{} / {}   ({})\n         {c:<w$}{sv}\n",
        s.pair,
        s.fate,
        s.client,
        w = W + 2
    );
    let arrow = |label: &str, right: bool| {
        let line = "-".repeat(W.saturating_sub(label.len() + 6).max(3));
        if right {
            format!("|--- {label} {line}>|")
        } else {
            format!("|<{line} {label} ---|")
        }
    };
    // The text leaves out the kernel's plain ACKs and the bound's ends (said below).
    let rows: Vec<(f64, Row)> = tl
        .rows()
        .into_iter()
        .filter(|(_, r)| match r {
            Row::Seg(w) => w.kind != Kind::Ack || w.label != "ACK",
            Row::Bound(..) => false,
            _ => true,
        })
        .collect();
    let start = (tl.fault.unwrap_or(0.0) - 3.0).max(0.0);
    for (t, row) in rows.iter().filter(|(t, _)| *t >= start) {
        let r = match row {
            Row::Seg(w) => {
                let label = if w.conn == "sdata" {
                    w.label.clone()
                } else {
                    format!("{} on {}", w.label, w.conn)
                };
                arrow(&label, w.from == Side::Client)
            }
            Row::Line(l) if l.side == Side::Client && l.ending => format!("X  {}", l.text),
            Row::Line(l) if l.side == Side::Client => format!("|  {c}: {}", l.text),
            Row::Line(l) => format!("|{:>w$}|  {sv}: {}", "", l.text, w = W),
            Row::Bound(..) => continue,
            Row::Fault(_) => format!("|{:>w$}X  {}", "", o.fault_text, w = W),
        };
        let _ = writeln!(d, "{t:8.3} {r}");
    }
    if let Some((lo, hi, what)) = &tl.bound {
        let _ = writeln!(d, "    bound: {what}: {lo:.3}-{hi:.3} s on this clock");
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

/// `expected` as the table shows it.
pub fn shown(e: &Expect) -> String {
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

/// A setting as JSON: a number as a number, nothing as `null`, the rest a string.
fn typed(v: &str) -> String {
    match v.parse::<f64>() {
        _ if v.is_empty() => "null".into(),
        Ok(x) if x.is_finite() && !v.starts_with('+') => format!("{x}"),
        _ => json_str(v),
    }
}

/// `lab.json`: one object per run, typed — numbers are numbers, a range is `[lo, hi]`
/// (`expected_s`: the seconds the line may come, from `expected_from`), absent is `null`.
pub fn to_json(outcomes: &[Outcome]) -> String {
    let rows: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let (exp, from) = match o.expect {
                Expect::Never => ("null".to_string(), "never"),
                Expect::AtFault => ("[0, 0]".to_string(), "fault"),
                Expect::AfterFault { lo, hi } => (format!("[{lo}, {hi}]"), "fault"),
                Expect::AfterLastByte { lo, hi } => (format!("[{lo}, {hi}]"), "last byte"),
                Expect::FalseDeaths(_) => ("null".to_string(), "false deaths"),
            };
            let opt = |v: Option<String>| v.unwrap_or_else(|| "null".into());
            let settings: Vec<String> = o
                .settings
                .raw
                .iter()
                .map(|(k, v)| format!("{}: {}", json_str(k), typed(v)))
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
        let variant = o.variant();
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

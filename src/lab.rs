//! The fault lab (SPEC §6): what each program pair is expected to notice when its server
//! meets a fate, and the reading of a run's logs into a verdict and a sequence diagram in the
//! style of seed 000's ASCII drawing.
//!
//! `lab/scenario.sh PAIR FATE` runs one pair in a private network namespace, makes the fault
//! and leaves in its run folder the client's `-t` log (`client.log`), the server's log, and
//! the wall-clock times the client started and the fault was made. [`analyze`] reads those.
//! The lab's timings: hb and hb1 `--idle 1 --interval 0.5` (3 probes: dead 2.5 s after the last
//! byte), oob `--interval 0.5 --probes 3` (unreachable 1.5–2 s after the last answer), ka
//! `--idle 1 --interval 1 --probes 2` (timed out 3 s after the last byte).

use std::fmt::Write as _;
use std::path::Path;

/// The pairs, in the lab's order.
pub const PAIRS: [&str; 4] = ["hb", "hb1", "oob", "ka"];
/// The fates, in the lab's order.
pub const FATES: [&str; 5] = ["alive", "killed", "hung", "gone", "rebooted"];

/// When the client should notice, per SPEC §6's table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expect {
    /// Never (watched for several times the bound).
    Never,
    /// At once after the fault (the kernel closes or resets).
    AtFault,
    /// Between `lo` and `hi` seconds after the fault (kernel keepalive: the kernel's last byte
    /// includes the ACKs of its own probes, which the program never sees).
    AfterFault {
        /// Earliest.
        lo: f64,
        /// Latest.
        hi: f64,
    },
    /// Between `lo` and `hi` seconds after the last byte the client received.
    AfterLastByte {
        /// Earliest.
        lo: f64,
        /// Latest.
        hi: f64,
    },
}

/// The expectation for `pair` meeting `fate` with the lab's timings.
pub fn expected(pair: &str, fate: &str) -> Expect {
    let after = |lo, hi| Expect::AfterLastByte { lo, hi };
    match (pair, fate) {
        (_, "alive") | ("ka", "hung") => Expect::Never,
        (_, "killed") => Expect::AtFault,
        ("hb" | "hb1", "hung" | "gone") => after(2.5, 2.5),
        ("oob", "hung" | "gone") => after(1.5, 2.0),
        // The last probe ACK came up to `idle` before the fault; death is idle + probes ×
        // interval after it: (2, 3] s after the fault. A reset meets the next probe: (0, 1].
        ("ka", "gone") => Expect::AfterFault { lo: 2.0, hi: 3.0 },
        ("ka", "rebooted") => Expect::AfterFault { lo: 0.0, hi: 1.0 },
        ("oob", "rebooted") => after(0.0, 0.5), // the next tick's urgent byte meets the RST
        (_, "rebooted") => after(1.0, 1.0),     // the next probe (idle after the last byte)
        _ => Expect::Never,
    }
}

/// Words the ending line must contain for the fate.
fn fitting(fate: &str, line: &str) -> bool {
    match fate {
        "killed" => line.contains("terminated") || line.contains("reset by peer"),
        "hung" | "gone" => ["dead", "unreachable", "timed out"]
            .iter()
            .any(|w| line.contains(w)),
        "rebooted" => line.contains("reset"),
        _ => false,
    }
}

/// One line of a `-t` log: seconds since the program started, and the text after `PROG: `.
fn parse_line(line: &str) -> Option<(f64, &str)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once(']')?;
    let text = rest.trim_start().split_once(": ").map(|(_, t)| t)?;
    Some((stamp.trim().parse().ok()?, text))
}

const ENDINGS: [&str; 9] = [
    "connection dead",
    "terminated",
    "unreachable",
    "recv failure",
    "bad recv",
    "connection timed out",
    "connection reset",
    "send failure",
    "accept failure",
];

/// What happened in one run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Pair.
    pub pair: String,
    /// Fate.
    pub fate: String,
    /// Expectation.
    pub expect: Expect,
    /// The client's ending line, if it ended.
    pub line: Option<String>,
    /// Seconds measured: from the fault (AtFault) or from the last byte.
    pub measured: Option<f64>,
    /// `ok`, `off`, or `skipped: reason`.
    pub verdict: String,
    /// The sequence diagram.
    pub diagram: String,
}

/// Read a run folder left by `lab/scenario.sh`.
pub fn analyze(dir: &Path) -> std::io::Result<Outcome> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let run = read("run")?;
    let mut it = run.split_whitespace();
    let (pair, fate) = (
        it.next().unwrap_or("?").to_string(),
        it.next().unwrap_or("?").to_string(),
    );
    let expect = expected(&pair, &fate);
    if let Ok(reason) = read("skipped") {
        let verdict = format!("skipped: {}", reason.trim());
        return Ok(Outcome {
            pair,
            fate,
            expect,
            line: None,
            measured: None,
            verdict,
            diagram: String::new(),
        });
    }
    let secs = |name: &str| read(name).ok().and_then(|t| t.trim().parse::<f64>().ok());
    let fault = match (secs("client.start"), secs("fault.at")) {
        (Some(c), Some(f)) => f - c,
        _ => 0.0,
    };
    let log = read("client.log").unwrap_or_default();
    let events: Vec<(f64, &str)> = log.lines().filter_map(parse_line).collect();
    let ending = events
        .iter()
        .find(|(_, t)| !t.starts_with("debug:") && ENDINGS.iter().any(|e| t.contains(e)));
    let is_answer = |t: &str| t.starts_with("debug: read ") || t.contains("from the server");
    let measured = ending.and_then(|&(at, _)| match expect {
        Expect::AtFault | Expect::AfterFault { .. } => Some(at - fault),
        _ => events
            .iter()
            .rev()
            .find(|(t, x)| *t <= at && is_answer(x))
            .map(|(t, _)| at - t),
    });
    let ok = match (expect, ending, measured) {
        (Expect::Never, None, _) => true,
        (Expect::AtFault, Some((_, l)), Some(m)) => fitting(&fate, l) && (-0.05..=0.3).contains(&m),
        (
            Expect::AfterLastByte { lo, hi } | Expect::AfterFault { lo, hi },
            Some((_, l)),
            Some(m),
        ) => fitting(&fate, l) && m >= lo - 0.05 && m <= hi + 0.25,
        _ => false,
    };
    let diagram = draw(&pair, &fate, &events, fault);
    Ok(Outcome {
        pair,
        fate,
        expect,
        line: ending.map(|(_, l)| l.to_string()),
        measured,
        verdict: if ok { "ok" } else { "off" }.to_string(),
        diagram,
    })
}

/// The sequence diagram of a run, two columns as in seed 000's drawing.
pub fn draw(pair: &str, fate: &str, events: &[(f64, &str)], fault: f64) -> String {
    const W: usize = 44;
    let (c, s) = match pair {
        "hb" => ("hb_client", "hb_server"),
        "hb1" => ("hb_client1", "hb_server1"),
        "oob" => ("hb_client_oob", "hb_server_oob"),
        _ => ("ka_client", "ka_server"),
    };
    let mut d = format!("{pair} / {fate}\n         {c:<w$}{s}\n", w = W + 2);
    let arrow = |label: &str, right: bool| {
        let line = "-".repeat(W.saturating_sub(label.len() + 6));
        if right {
            format!("|--- {label} {line}>|")
        } else {
            format!("|<{line} {label} ---|")
        }
    };
    let what = match fate {
        "killed" => "SIGKILL: its kernel sends FIN",
        "hung" => "SIGSTOP: its kernel still ACKs",
        "gone" => "iptables DROP: nothing answers",
        "rebooted" => "REJECT tcp-reset: connection unknown",
        _ => "",
    };
    let mut fault_drawn = fate == "alive";
    let start = (fault - 3.0).max(0.0);
    for &(t, text) in events {
        if !fault_drawn && t >= fault {
            let _ = writeln!(d, "{fault:8.3} |{:>w$}X  {what}", "", w = W);
            fault_drawn = true;
        }
        if t < start {
            continue;
        }
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
            Some("|  keepalive probes: kernel only; watch them with tcpdump -i lo".to_string())
        } else if !text.starts_with("debug:") && ENDINGS.iter().any(|e| text.contains(e)) {
            if !fault_drawn {
                let _ = writeln!(d, "{fault:8.3} |{:>w$}X  {what}", "", w = W);
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
        let _ = writeln!(d, "{fault:8.3} |{:>w$}X  {what}", "", w = W);
    }
    d
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

/// `target/lab.json`: a list of `{pair, fate, expected_s, expected_from, measured_s, line, verdict}`.
pub fn to_json(outcomes: &[Outcome]) -> String {
    let rows: Vec<String> = outcomes
        .iter()
        .map(|o| {
            let (exp, from) = match o.expect {
                Expect::Never => ("null".to_string(), "never"),
                Expect::AtFault => ("0".to_string(), "fault"),
                Expect::AfterFault { hi, .. } => (format!("{hi}"), "fault"),
                Expect::AfterLastByte { hi, .. } => (format!("{hi}"), "last byte"),
            };
            let measured = o.measured.map_or("null".to_string(), |m| format!("{m:.3}"));
            let line = o.line.as_deref().map_or("null".to_string(), json_str);
            format!(
                "  {{\"pair\": {}, \"fate\": {}, \"expected_s\": {exp}, \"expected_from\": {}, \"measured_s\": {measured}, \"line\": {line}, \"verdict\": {}}}",
                json_str(&o.pair), json_str(&o.fate), json_str(from), json_str(&o.verdict)
            )
        })
        .collect();
    format!("[\n{}\n]\n", rows.join(",\n"))
}

/// The table `make lab` prints.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut t = format!(
        "{:<5}{:<10}{:<9}{:<12}{:<10}{:<8} {}\n",
        "pair", "fate", "noticed", "expected", "measured", "verdict", "line"
    );
    for o in outcomes {
        let exp = match o.expect {
            Expect::Never => "never".to_string(),
            Expect::AtFault => "at once".to_string(),
            Expect::AfterLastByte { lo, hi } if lo == hi => format!("{hi} s"),
            Expect::AfterLastByte { lo, hi } => format!("{lo}-{hi} s"),
            Expect::AfterFault { lo, hi } => format!("F+{lo}-{hi} s"),
        };
        let m = o.measured.map_or("-".to_string(), |m| format!("{m:.3} s"));
        let who = if o.line.is_some() { "client" } else { "-" };
        let _ = writeln!(
            t,
            "{:<5}{:<10}{:<9}{:<12}{:<10}{:<8} {}",
            o.pair,
            o.fate,
            who,
            exp,
            m,
            o.verdict,
            o.line.as_deref().unwrap_or("-")
        );
    }
    t
}

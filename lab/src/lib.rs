//! `heartbeat-lab`: the fault lab (SPEC §6, issues 11 and 19), a package of its own beside
//! the port — tooling around the programs, not part of what a student reads beside the
//! articles. It depends on `heartbeat` for the keepalive bound and the programs' line format.
//!
//! | module | concern |
//! | --- | --- |
//! | [`knobs`] | the knobs of `make lab`, checked before anything runs |
//! | [`output`] | what the lab reads of the programs' output: one documented interface |
//! | [`settings`] | a run's recorded settings and the lengths derived from them |
//! | [`expect`] | when a client should notice its server's fate, from the run's settings |
//! | [`capture`] | the pcap file `tcpdump -w` wrote: TCP segments with their times |
//! | [`exchange`] | the heartbeat exchange rebuilt from the capture, byte by byte |
//! | [`truth`] | the wire's word on a verdict: the capture against what the client said |
//! | [`alive`] | the wire's word on a fate that passes unnoticed, and on a flap |
//! | [`kernel`] | the wire's word on kernel keepalive: its probes |
//! | [`deaths`] | the wire's word on a statistical run: every connection accounted for |
//! | [`events`] | a run as events in time order: every segment named, the programs' lines, fault, bound |
//! | [`packet`] | raw Ethernet frames on an interface, and the kernel's drops there |
//! | [`report`] | the text diagram, the table and `lab.json` |
//! | [`svg`] | the run's picture: an SVG timeline drawn from the same events |
//! | [`html`] | `index.html`: the table with links to every picture and capture |
//! | [`runs`] | the folders: one per `make lab` invocation, a run's files, what is written where |
//! | [`json`] | a small JSON reader, for `hb_lab grade` |
//! | [`grade`] | `hb_lab grade`: a student's `lab.json` against the expectation for its settings |
//! | [`cut`] | the wire's cut: for good, or a flap that begins with the next exchange |
//! | [`wire`] | `hb_wire`'s machinery: a cable with delay, loss and a cut where netem is missing |
//!
//! What each pair is expected to notice when its
//! server, or the wire to it, meets a fate — computed from the settings the run recorded —
//! and the reading of a run's logs and packet capture into a verdict.
//!
//! `lab/scenario.sh PAIR FATE` runs one pair across a wire (client, router and server in
//! network namespaces of their own, `lab/topology.sh`), makes the fault and leaves in its run
//! folder: `settings` (every knob it used), the client's `-t` log (`client.log`, or one
//! `client.N.log` per attempt for the statistical fates), the server's log, the wall-clock
//! time of the fault, and `capture.pcap` taken on the client's veth. [`analyze`] reads them:
//! [`expect::expected`] says when the client should notice, [`truth`] checks the verdict
//! against the capture, [`report`] draws the diagram, the table and the JSON.

pub mod alive;
pub mod capture;
pub mod cut;
pub mod deaths;
pub mod events;
pub mod exchange;
pub mod expect;
pub mod grade;
pub mod html;
pub mod json;
pub mod kernel;
pub mod knobs;
pub mod model;
pub mod output;
pub mod packet;
pub mod report;
pub mod runs;
pub mod settings;
pub mod svg;
pub mod truth;
pub mod wire;

use expect::{Expect, Settings};
use std::path::Path;

pub use knobs::KNOBS;
pub use output::{parse_line, Log, ENDINGS};
pub use report::{table, to_json};

/// The pairs, in the lab's order.
pub const PAIRS: [&str; 6] = ["hb", "hb1", "oob", "ka", "kaw", "kaw-ut"];
/// The fates, in the lab's order.
pub const FATES: [&str; 11] = [
    "alive",
    "killed",
    "hung",
    "gone",
    "rebooted",
    "partition",
    "flap",
    "busy-gone",
    "nat-idle",
    "lossy",
    "slow",
];

/// What happened in one run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run's settings.
    pub settings: Settings,
    /// Its folder's name (`hb-slow-tight`).
    pub name: String,
    /// Expectation.
    pub expect: Expect,
    /// The client's ending line, if it ended (the first, for the statistical fates).
    pub line: Option<String>,
    /// Seconds measured: from the fault (AtFault, AfterFault) or from the last byte.
    pub measured: Option<f64>,
    /// Statistical fates: client deaths while the server was alive, and over how long.
    pub false_deaths: Option<(u32, f64)>,
    /// Statistical fates: the deaths the model predicts for the run (client, server side).
    pub predicted: Option<expect::Prediction>,
    /// Statistical fates: the deaths on the wire, by side.
    pub split: Option<deaths::Split>,
    /// `ok`, `off: why`, or `skipped: reason`.
    pub verdict: String,
    /// The capture's path, when there is one.
    pub capture: Option<String>,
    /// `agrees`, or `disagrees: why`.
    pub wire_verdict: String,
    /// What the wire saw, one line per fact, for the diagram.
    pub wire_notes: Vec<String>,
    /// The sequence diagram.
    pub diagram: String,
    /// What the wire did (its last `stats` line in `wire.log`): passed, lost, cut, dropped.
    pub wire_counts: Option<wire::Counts>,
    /// The run's folder.
    pub dir: std::path::PathBuf,
    /// What the wire carried and the programs printed, in time order.
    pub timeline: events::Timeline,
    /// The fault, as drawn on the server's side.
    pub fault_text: String,
}

impl Outcome {
    /// `tight` or `loose` for the statistical fates' two settings.
    pub fn variant(&self) -> Option<&str> {
        self.name
            .rsplit('-')
            .next()
            .filter(|v| ["tight", "loose"].contains(v))
    }
}

/// Read a run folder left by `lab/scenario.sh`.
pub fn analyze(dir: &Path) -> std::io::Result<Outcome> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let name = dir
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let run = read("run")?;
    let settings = match read("settings") {
        Ok(text) => Settings::parse(&text),
        Err(_) => {
            let mut w = run.split_whitespace();
            let (pair, fate) = (w.next().unwrap_or("?"), w.next().unwrap_or("?"));
            Settings::parse(&format!("pair={pair}\nfate={fate}"))
        }
    };
    let expect = expect::expected(&settings);
    let mut o = Outcome {
        settings,
        name,
        expect,
        line: None,
        measured: None,
        false_deaths: None,
        predicted: None,
        split: None,
        verdict: String::new(),
        capture: None,
        wire_verdict: "no capture".into(),
        wire_notes: Vec::new(),
        diagram: String::new(),
        wire_counts: read("wire.log").ok().and_then(|l| wire::Counts::parse(&l)),
        dir: dir.to_path_buf(),
        timeline: events::Timeline::default(),
        fault_text: String::new(),
    };
    if let Ok(reason) = read("skipped") {
        o.verdict = format!("skipped: {}", reason.trim());
        return Ok(o);
    }
    let secs = |name: &str| read(name).ok().and_then(|t| t.trim().parse::<f64>().ok());
    let (fault, end) = (secs("fault.at"), secs("end.at").unwrap_or(f64::MAX));
    let pcap = dir.join("capture.pcap");
    let segments = std::fs::read(&pcap).and_then(|b| capture::read(&b));
    if segments.is_ok() {
        o.capture = Some(pcap.display().to_string());
    }
    let fate = o.settings.fate.clone();
    let ok = if let Expect::FalseDeaths(want) = o.expect {
        let mut logs = Vec::new();
        for n in 1.. {
            match read(&format!("client.{n}.log")) {
                Ok(t) => logs.push(Log::read(&t)),
                Err(_) => break,
            }
        }
        let deaths = logs
            .iter()
            .filter(|l| l.end().is_some_and(|(t, _)| t < end))
            .count() as u32;
        let minutes = o.settings.duration / 60.0;
        o.false_deaths = Some((deaths, minutes));
        // The line of the first death counted (one at or after the run's end is not one).
        o.line = logs.iter().find_map(|l| {
            l.end()
                .filter(|(t, _)| *t < end)
                .map(|(_, t)| t.to_string())
        });
        o.predicted = Some(expect::predict(&o.settings));
        if let Ok(segs) = &segments {
            let (v, notes, split) = deaths::check(&o.settings, want, segs, &logs, end);
            (o.wire_verdict, o.wire_notes, o.split) = (v, notes, Some(split));
            let zero = logs.first().map_or(0.0, |l| l.zero);
            o.timeline = events::Timeline {
                wire: events::classify(&o.settings, segs, zero),
                zero,
                ..events::Timeline::default()
            };
            // Every attempt's lines, on the first attempt's clock.
            for log in &logs {
                o.timeline
                    .lines
                    .extend(events::lines(log, events::Side::Client, zero));
            }
            let server = Log::read(&read("server.log").unwrap_or_default());
            o.timeline
                .lines
                .extend(events::lines(&server, events::Side::Server, zero));
            o.timeline.lines.sort_by(|a, b| a.at.total_cmp(&b.at));
        }
        grade::deaths_hold(want, deaths)
    } else {
        let log = Log::read(&read("client.log").unwrap_or_default());
        let fault = fault.unwrap_or(log.zero);
        let ending = log.end();
        o.line = ending.map(|(_, l)| l.to_string());
        o.measured = ending.and_then(|(at, line)| match o.expect {
            Expect::AtFault | Expect::AfterFault { .. } => Some(at - fault),
            _ if o.settings.is_kernel() => line
                .split(output::SINCE)
                .next()
                .and_then(|t| t.rsplit(' ').next()?.parse().ok()),
            _ => log.last_answer(at).map(|t| at - t),
        });
        if let Ok(segs) = &segments {
            let run = truth::Run {
                s: &o.settings,
                expect: &o.expect,
                segs,
                log: &log,
                fault,
                end,
                counts: o.wire_counts,
            };
            (o.wire_verdict, o.wire_notes) = truth::check(&run);
        }
        // nat-idle's fault is the NAT, there from the client's start: its bound counts from it.
        let moment = fate != "alive";
        o.timeline = events::timeline(
            &o.settings,
            &o.expect,
            segments.as_deref().unwrap_or(&[]),
            &log,
            &Log::read(&read("server.log").unwrap_or_default()),
            moment.then_some(fault),
        );
        o.fault_text = report::what(&fate, &o.wire_notes);
        o.diagram = report::draw(&o);
        grade::timing_holds(&o.settings, &o.expect, o.line.as_deref(), o.measured).is_ok()
    };
    o.verdict = match (ok, o.wire_verdict.as_str()) {
        (true, "agrees") => "ok".into(),
        (true, w) => format!("off: the wire {w}"),
        (false, _) => "off: not what was expected".into(),
    };
    if o.diagram.is_empty() {
        o.diagram = report::summary(&o);
    }
    if o.fault_text.is_empty() {
        o.fault_text = report::what(&o.settings.fate, &o.wire_notes);
    }
    Ok(o)
}

//! `index.html`: one page per `make lab` invocation — the table `make lab` printed, each row
//! linking to its run's picture (`timeline.svg`), text diagram, capture and logs, and the
//! settings it ran with. Self-contained: its style is inline, it loads nothing from the
//! network and needs no script; open it from the folder (`file://`) or hand the folder in.

use crate::report::shown;
use crate::svg::esc;
use crate::Outcome;
use std::fmt::Write as _;

/// The page for these runs; `title` names the invocation (its folder).
pub fn index(outcomes: &[Outcome], title: &str) -> String {
    let ok = outcomes.iter().filter(|o| o.verdict == "ok").count();
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>heartbeat lab {t}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
td.ok {{ background: #e6f4e6; }} td.off {{ background: #fbe3e3; }} td.skipped {{ background: #f4f0d0; }}
code, td.line {{ font-family: monospace; }}
</style></head><body>
<h1>heartbeat lab — {t}</h1>
<p>{n} runs, {ok} ok. Each run's fate befalls the server; the client watches. <b>expected</b> is
computed from the run's own settings (<code>F+</code>: seconds after the fault, otherwise after
the last byte the client received); <b>wire</b> is the capture's word on the verdict. Click a
picture to see every segment the capture saw, at its time.</p>
<table>
<tr><th>pair</th><th>fate</th><th>run</th><th>expected</th><th>measured</th><th>verdict</th><th>wire</th><th>line</th><th>files</th><th>settings</th></tr>
"#,
        t = esc(title),
        n = outcomes.len()
    );
    for o in outcomes {
        let s = &o.settings;
        let measured = match (o.false_deaths, o.measured) {
            (Some((n, m)), _) => format!("{n} in {m:.1} min"),
            (_, Some(m)) => format!("{m:.3} s"),
            _ => "-".into(),
        };
        let class = o.verdict.split(':').next().unwrap_or("");
        let d = esc(&o.name);
        let mut files = format!(
            r#"<a href="{d}/timeline.svg">picture</a> · <a href="{d}/diagram.txt">diagram</a>"#
        );
        for f in ["capture.pcap", "client.log", "server.log", "wire.log"] {
            if o.dir.join(f).exists() {
                let _ = write!(files, r#" · <a href="{d}/{f}">{f}</a>"#);
            }
        }
        let knobs = format!(
            "idle {} · interval {} · probes {}{}{}{}",
            s.idle,
            s.interval,
            s.probes,
            s.user_timeout
                .map_or(String::new(), |u| format!(" · user timeout {u}")),
            s.write.map_or(String::new(), |w| format!(" · write {w}")),
            match s.fate.as_str() {
                "flap" => format!(" · flap {}", s.flap),
                "nat-idle" => format!(" · NAT idle {}", s.nat_idle),
                "lossy" => format!(" · loss {} % · {} s", s.loss, s.duration),
                "slow" => format!(" · delay {} ± {} ms · {} s", s.delay, s.jitter, s.duration),
                _ => String::new(),
            }
        );
        let _ = writeln!(
            h,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td>{}</td><td class="line">{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&s.pair),
            esc(&s.fate),
            esc(o.variant().unwrap_or("-")),
            esc(&shown(&o.expect)),
            esc(&measured),
            esc(class),
            esc(&o.verdict),
            esc(&o.wire_verdict),
            esc(o.line.as_deref().unwrap_or("-")),
            files,
            esc(&knobs)
        );
    }
    h += "</table>\n<p>Open a capture in Wireshark, or read it with <code>tcpdump -n -tt -r RUN/capture.pcap</code>; docs/HANDOUT.md lists the display filters for each exercise.</p>\n</body></html>\n";
    h
}

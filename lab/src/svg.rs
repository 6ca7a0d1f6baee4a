//! A run as a picture a student can put in a report: an SVG timeline, time running down the
//! page as in seed 000's ASCII drawing. Client and server are two lanes; every segment the
//! capture saw is an arrow between them at its time (heartbeats, answers, urgent bytes,
//! keepalive probes, ACKs, retransmissions, FIN, RST, each kind its colour); what each
//! program printed is written in a column on the right beside a dot on its lane; the fault
//! is a red line across both lanes and the bound — when the client should have noticed — a
//! shaded band. The time of every row is printed on the left.
//!
//! Rows are spaced by time (40 px a second) but never closer than a line of text, so a burst
//! of segments in one millisecond stays readable and a silence still looks long. The file
//! is self-contained: no script, no font or style sheet from elsewhere. Each arrow is a
//! `<g class="seg KIND" data-t="SECONDS" data-from="client|server">`, which the tests read.

use crate::events::{Kind, Row, Side, Timeline};
use std::fmt::Write as _;

const ROW: f64 = 15.0;
const PX_PER_S: f64 = 40.0;
const TOP: f64 = 92.0;
const CLIENT_X: f64 = 150.0;
const SERVER_X: f64 = 590.0;
const TEXT_X: f64 = 650.0;
const WIDTH: f64 = 1400.0;

/// The class, colour and dash of an arrow of this kind.
fn style(k: Kind) -> (&'static str, &'static str, &'static str) {
    match k {
        Kind::Open => ("open", "#17becf", ""),
        Kind::Heartbeat => ("heartbeat", "#1f77b4", ""),
        Kind::Answer => ("answer", "#2ca02c", ""),
        Kind::Urgent => ("urgent", "#9467bd", ""),
        Kind::Data => ("data", "#7f7f7f", ""),
        Kind::Retransmission => ("retransmission", "#d62728", "6 3"),
        Kind::KeepaliveProbe => ("keepalive", "#ff7f0e", ""),
        Kind::Ack => ("ack", "#b0b0b0", ""),
        Kind::Fin => ("fin", "#8c564b", ""),
        Kind::Rst => ("rst", "#000000", ""),
    }
}

const KINDS: [Kind; 10] = [
    Kind::Heartbeat,
    Kind::Answer,
    Kind::Urgent,
    Kind::KeepaliveProbe,
    Kind::Ack,
    Kind::Retransmission,
    Kind::Data,
    Kind::Open,
    Kind::Fin,
    Kind::Rst,
];

/// XML text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG of a run. `title` heads it (pair / fate and the client's command line), `fault`
/// says what the fault was, `verdict` is the row's verdict.
pub fn draw(
    tl: &Timeline,
    title: &str,
    programs: (&str, &str),
    fault: &str,
    verdict: &str,
) -> String {
    let rows = tl.rows();
    // y of each row: spaced by time, never closer than a line of text.
    let mut ys = Vec::with_capacity(rows.len());
    let (mut y, mut last) = (TOP, rows.first().map_or(0.0, |r| r.0));
    for (t, _) in &rows {
        y += ROW.max((t - last) * PX_PER_S);
        last = *t;
        ys.push(y);
    }
    let height = y + 40.0;
    let y_of = |t: f64| {
        rows.iter()
            .zip(&ys)
            .find(|((rt, _), _)| *rt >= t)
            .map_or(height - 40.0, |(_, y)| *y)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="11">"#
    );
    let _ = writeln!(s, "<title>{}</title>", esc(title));
    s += "<defs>";
    for k in KINDS {
        let (class, colour, _) = style(k);
        let _ = write!(
            s,
            r#"<marker id="h-{class}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>"#
        );
    }
    s += "</defs>\n";
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="18" font-size="14" font-weight="bold">{}</text><text x="10" y="36">{}</text>"#,
        esc(title),
        esc(verdict)
    );
    // Legend.
    let mut x = 10.0;
    for k in KINDS {
        let (class, colour, dash) = style(k);
        let _ = write!(
            s,
            r#"<line x1="{x}" y1="52" x2="{:.0}" y2="52" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.0}" y="56">{class}</text>"#,
            x + 22.0,
            x + 26.0
        );
        x += 34.0 + 7.0 * class.len() as f64;
    }
    s += "\n";
    let (c, sv) = programs;
    let _ = writeln!(
        s,
        r##"<text x="{CLIENT_X}" y="{:.0}" text-anchor="middle" font-weight="bold">{}</text><text x="{SERVER_X}" y="{:.0}" text-anchor="middle" font-weight="bold">{}</text><text x="{TEXT_X}" y="{:.0}" font-weight="bold">what the programs printed</text><text x="10" y="{:.0}" font-weight="bold">time (s)</text>"##,
        TOP - 14.0,
        esc(c),
        TOP - 14.0,
        esc(sv),
        TOP - 14.0,
        TOP - 14.0
    );
    let _ = writeln!(
        s,
        r##"<line x1="{CLIENT_X}" y1="{:.0}" x2="{CLIENT_X}" y2="{:.0}" stroke="#333" stroke-width="2"/><line x1="{SERVER_X}" y1="{:.0}" x2="{SERVER_X}" y2="{:.0}" stroke="#333" stroke-width="2"/>"##,
        TOP - 8.0,
        height - 20.0,
        TOP - 8.0,
        height - 20.0
    );
    if let Some((lo, hi, what)) = &tl.bound {
        let (y0, y1) = (y_of(*lo), y_of(*hi));
        let _ = writeln!(
            s,
            r##"<g class="bound" data-t="{lo:.3}"><rect x="{:.0}" y="{:.1}" width="{:.0}" height="{:.1}" fill="#ffd700" fill-opacity="0.22" stroke="#b8860b" stroke-dasharray="4 2"/><text x="{:.0}" y="{:.1}" fill="#8b6508">bound: {}</text></g>"##,
            CLIENT_X - 30.0,
            y0 - 4.0,
            SERVER_X - CLIENT_X + 60.0,
            (y1 - y0) + 8.0,
            CLIENT_X + 6.0,
            y0 - 6.0,
            esc(what)
        );
    }
    for ((t, row), y) in rows.iter().zip(&ys) {
        match row {
            Row::Seg(w) => {
                let (class, colour, dash) = style(w.kind);
                let (x1, x2) = match w.from {
                    Side::Client => (CLIENT_X, SERVER_X),
                    Side::Server => (SERVER_X, CLIENT_X),
                };
                let from = if w.from == Side::Client {
                    "client"
                } else {
                    "server"
                };
                let width = if w.kind == Kind::Ack { 1 } else { 2 };
                let label = if w.conn == "sdata" {
                    w.label.clone()
                } else {
                    format!("{} on {}", w.label, w.conn)
                };
                let _ = writeln!(
                    s,
                    r##"<g class="seg {class}" data-t="{t:.6}" data-from="{from}"><text x="10" y="{:.1}" fill="#555">{t:8.3}</text><line x1="{x1}" y1="{:.1}" x2="{x2}" y2="{:.1}" stroke="{colour}" stroke-width="{width}" stroke-dasharray="{dash}" marker-end="url(#h-{class})"/><text x="{:.0}" y="{:.1}" text-anchor="middle" fill="{colour}">{}</text></g>"##,
                    y + 4.0,
                    y - 3.0,
                    y + 3.0,
                    (CLIENT_X + SERVER_X) / 2.0,
                    y - 2.0,
                    esc(&label)
                );
            }
            Row::Line(l) => {
                let (x, colour, who) = match l.side {
                    Side::Client => (CLIENT_X, "#1f4e9a", c),
                    Side::Server => (SERVER_X, "#1d6b2c", sv),
                };
                let weight = if l.ending { "bold" } else { "normal" };
                let mark = if l.ending {
                    format!(
                        r#"<path d="M{:.0},{:.1} l10,10 M{:.0},{:.1} l-10,10" stroke="{colour}" stroke-width="3"/>"#,
                        x - 5.0,
                        y - 5.0,
                        x + 5.0,
                        y - 5.0
                    )
                } else {
                    format!(r#"<circle cx="{x}" cy="{y:.1}" r="3.5" fill="{colour}"/>"#)
                };
                let _ = writeln!(
                    s,
                    r##"<g class="line {}" data-t="{t:.6}">{mark}<text x="10" y="{:.1}" fill="#555">{t:8.3}</text><text x="{TEXT_X}" y="{:.1}" fill="{colour}" font-weight="{weight}">{}: {}</text></g>"##,
                    if l.side == Side::Client {
                        "client"
                    } else {
                        "server"
                    },
                    y + 4.0,
                    y + 4.0,
                    esc(who),
                    esc(&l.text)
                );
            }
            Row::Fault(f) => {
                let _ = writeln!(
                    s,
                    r##"<g class="fault" data-t="{f:.6}"><line x1="{:.0}" y1="{y:.1}" x2="{:.0}" y2="{y:.1}" stroke="#d62728" stroke-width="2.5"/><text x="10" y="{:.1}" fill="#d62728">{f:8.3}</text><text x="{TEXT_X}" y="{:.1}" fill="#d62728" font-weight="bold">fault: {}</text></g>"##,
                    CLIENT_X - 30.0,
                    SERVER_X + 20.0,
                    y + 4.0,
                    y + 4.0,
                    esc(fault)
                );
            }
            Row::Bound(b, first) => {
                let what = match (first, tl.bound.as_ref()) {
                    (true, Some((lo, hi, _))) if lo == hi => "bound",
                    (true, _) => "earliest",
                    (false, _) => "latest",
                };
                let _ = writeln!(
                    s,
                    r##"<text x="10" y="{:.1}" fill="#8b6508">{b:8.3}</text><text x="{:.0}" y="{:.1}" fill="#8b6508" text-anchor="end">{what}</text>"##,
                    y + 4.0,
                    CLIENT_X - 8.0,
                    y + 4.0
                );
            }
        }
    }
    s + "</svg>\n"
}

/// The `data-t` of each element of `class` (`seg`, `line`, `fault`), in document order.
pub fn times(svg: &str, class: &str) -> Vec<f64> {
    let tag = format!("<g class=\"{class}");
    svg.match_indices(&tag)
        .filter_map(|(i, _)| {
            let rest = &svg[i..];
            let t = rest.split("data-t=\"").nth(1)?.split('"').next()?;
            t.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Line, Wire};

    fn wire(at: f64, from: Side, kind: Kind, label: &str) -> Wire {
        Wire {
            at,
            from,
            kind,
            label: label.into(),
            conn: "sdata".into(),
        }
    }

    #[test]
    fn every_event_is_drawn_once_in_time_order() {
        let tl = Timeline {
            wire: vec![
                wire(1.0, Side::Client, Kind::Heartbeat, "heartbeat 2004 B"),
                wire(1.001, Side::Server, Kind::Answer, "echo 2004 B"),
                wire(
                    3.2,
                    Side::Client,
                    Kind::Retransmission,
                    "retransmission 2004 B",
                ),
                wire(4.0, Side::Server, Kind::Rst, "RST"),
            ],
            lines: vec![Line {
                at: 4.0,
                side: Side::Client,
                text: "recv failure: Connection reset by peer (104)".into(),
                ending: true,
            }],
            fault: Some(2.6),
            bound: Some((3.5, 4.5, "1 s after the last answer".into())),
            zero: 0.0,
        };
        let svg = draw(
            &tl,
            "hb / rebooted",
            ("hb_client", "hb_server"),
            "REJECT",
            "ok",
        );
        assert_eq!(times(&svg, "seg"), [1.0, 1.001, 3.2, 4.0]);
        assert_eq!(times(&svg, "line"), [4.0]);
        assert_eq!(times(&svg, "fault"), [2.6]);
        assert!(svg.contains("class=\"seg rst\"") && svg.contains("retransmission 2004 B"));
        assert!(svg.contains("Connection reset by peer (104)"));
        assert!(!svg.contains("<script"));
        // Falsified: the events given out of order are still drawn in time order.
        let mut shuffled = tl.clone();
        shuffled.wire.reverse();
        let svg = draw(&shuffled, "t", ("c", "s"), "f", "v");
        let t = times(&svg, "seg");
        assert!(t.windows(2).all(|w| w[0] <= w[1]), "{t:?}");
        // And a picture missing an event is caught by the count.
        assert_ne!(
            times(&svg.replacen("<g class=\"seg", "<g class=\"gone", 1), "seg").len(),
            4
        );
    }
}

//! One run as a list of events in time order — what the wire carried (every segment of the
//! capture, named as a student would name it: heartbeat, echo, urgent probe, keepalive probe,
//! retransmission, FIN, RST …), what each program printed, the fault and the bound — the one
//! source both pictures draw from: the text diagram ([`crate::report::draw`]) and the SVG
//! timeline ([`crate::svg`]).
//!
//! The capture is taken on the client's veth, so a segment's time is when it left or reached
//! the client. A keepalive probe is the kernel's: a segment of no data whose sequence number
//! is one below what the client already sent (RFC 1122 §4.2.3.6, as Linux sends it), which
//! the peer's kernel answers with an ACK; a retransmission is data whose bytes the client
//! already sent once.

use crate::capture::{Segment, ACK, FIN, RST, SYN, URG};
use crate::expect::{Expect, Settings};
use crate::Log;

/// Which end a segment came from, or which program printed a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client (the one watching).
    Client,
    /// The server (the one meeting the fate).
    Server,
}

/// What a segment is, as the lab names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SYN, SYN-ACK: a connection opens.
    Open,
    /// The application's heartbeat (hb's 2004-byte message, hb1's byte on shb).
    Heartbeat,
    /// The server's answer to a heartbeat (its echo).
    Answer,
    /// An urgent byte (TCP URG): the OOB client's probe or the server's answer.
    Urgent,
    /// Other data (ka_client --write's bytes, hb1's port, the OOB echo).
    Data,
    /// Data sent again: its bytes were on the wire before.
    Retransmission,
    /// The kernel's keepalive probe.
    KeepaliveProbe,
    /// An ACK with nothing else.
    Ack,
    /// FIN.
    Fin,
    /// RST.
    Rst,
}

/// One segment, placed on the run's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Wire {
    /// Seconds since the client's `-t` zero.
    pub at: f64,
    /// Who sent it.
    pub from: Side,
    /// What it is.
    pub kind: Kind,
    /// The label drawn on its arrow (`heartbeat 2004 B`, `keepalive probe`, `RST`).
    pub label: String,
    /// The connection it belongs to (`sdata`, `shb`, `conn 3` …).
    pub conn: String,
}

/// A line a program printed (not its debug detail), on the run's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Seconds since the client's `-t` zero.
    pub at: f64,
    /// Which program.
    pub side: Side,
    /// The text after `PROG: `.
    pub text: String,
    /// Whether it ended the client's watch.
    pub ending: bool,
}

/// A whole run: segments, lines, fault and bound, all on the client's clock.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Every captured segment, in time order.
    pub wire: Vec<Wire>,
    /// Every line the two programs printed, in time order.
    pub lines: Vec<Line>,
    /// The fault, if the fate has one at a moment (not `alive`, not `nat-idle`).
    pub fault: Option<f64>,
    /// Where the client should have noticed: (earliest, latest, what it is measured from).
    pub bound: Option<(f64, f64, String)>,
    /// The client's `-t` zero (Unix seconds).
    pub zero: f64,
}

/// One row of a drawing: a segment, a program's line, the fault, an end of the bound
/// (`true` for its earliest end).
pub enum Row<'a> {
    /// A captured segment.
    Seg(&'a Wire),
    /// A program's line.
    Line(&'a Line),
    /// The fault.
    Fault(f64),
    /// The bound's earliest (`true`) or latest end.
    Bound(f64, bool),
}

impl Timeline {
    /// Everything to draw, in the order of [`order`]: what the text diagram and the SVG
    /// both draw from.
    pub fn rows(&self) -> Vec<(f64, Row<'_>)> {
        let mut rows: Vec<(f64, Row)> = Vec::new();
        rows.extend(self.wire.iter().map(|w| (w.at, Row::Seg(w))));
        rows.extend(self.lines.iter().map(|l| (l.at, Row::Line(l))));
        if let Some(f) = self.fault {
            rows.push((f, Row::Fault(f)));
        }
        if let Some((lo, hi, _)) = &self.bound {
            rows.push((*lo, Row::Bound(*lo, true)));
            if hi > lo {
                rows.push((*hi, Row::Bound(*hi, false)));
            }
        }
        rows.sort_by_key(|(t, r)| {
            let side = match r {
                Row::Line(l) => Some(l.side),
                _ => None,
            };
            order(*t, side)
        });
        rows
    }
}

/// The server's port: the last word of its command line, as the run recorded it.
fn server_port(s: &Settings) -> Option<u16> {
    s.raw
        .iter()
        .find(|(k, _)| k == "server")
        .and_then(|(_, v)| v.split_whitespace().last()?.parse().ok())
}

/// Name every segment of a capture. `zero` is the clock they are placed on (Unix seconds).
pub fn classify(s: &Settings, segs: &[Segment], zero: f64) -> Vec<Wire> {
    let srv = crate::truth::server_ip(s);
    let port = server_port(s);
    // Per connection (client port, server port): its name and the client's and server's next
    // sequence number (what each already sent).
    struct Conn {
        key: (u16, u16),
        name: String,
        next: [Option<u32>; 2],
        probed: bool,
    }
    let mut conns: Vec<Conn> = Vec::new();
    let mut out = Vec::new();
    for x in segs {
        let from = if Some(x.src.0) == srv {
            Side::Server
        } else {
            Side::Client
        };
        let key = match from {
            Side::Client => (x.src.1, x.dst.1),
            Side::Server => (x.dst.1, x.src.1),
        };
        let n = match conns.iter().position(|c| c.key == key) {
            Some(n) => n,
            None => {
                let name = match (s.pair.as_str(), conns.len()) {
                    ("hb1", _) if from == Side::Server && x.has(SYN) => "shb".to_string(),
                    ("hb1", _) if port.is_some_and(|p| x.dst.1 == p || x.src.1 == p) => {
                        "sdata".to_string()
                    }
                    (_, 0) => "sdata".to_string(),
                    (_, k) => format!("conn {}", k + 1),
                };
                conns.push(Conn {
                    key,
                    name,
                    next: [None, None],
                    probed: false,
                });
                conns.len() - 1
            }
        };
        let c = &mut conns[n];
        let i = usize::from(from == Side::Server);
        let end = x
            .seq
            .wrapping_add(x.len as u32)
            .wrapping_add(u32::from(x.has(SYN)) + u32::from(x.has(FIN)));
        let before = c.next[i];
        // Sequence numbers wrap: "already sent" is a distance below 2^31.
        let sent =
            |upto: Option<u32>, seq: u32| upto.is_some_and(|u| u.wrapping_sub(seq) as i32 > 0);
        let (kind, label) = if x.has(RST) {
            (Kind::Rst, "RST".to_string())
        } else if x.has(SYN) {
            (
                Kind::Open,
                if x.has(ACK) { "SYN-ACK" } else { "SYN" }.to_string(),
            )
        } else if x.len > 0 && sent(before, x.seq) {
            (Kind::Retransmission, format!("retransmission {} B", x.len))
        } else if x.len > 0 && x.has(URG) {
            let who = if from == Side::Client {
                "probe"
            } else {
                "answer"
            };
            (Kind::Urgent, format!("urgent '1' ({who}), URG"))
        } else if x.len > 0 {
            match (s.pair.as_str(), from, c.name.as_str()) {
                ("hb", Side::Client, _) | ("hb1", Side::Client, "shb") => {
                    (Kind::Heartbeat, format!("heartbeat {} B", x.len))
                }
                ("hb", Side::Server, _) | ("hb1", Side::Server, "shb") => {
                    (Kind::Answer, format!("echo {} B", x.len))
                }
                ("hb1", Side::Client, _) if x.len == 2 => (Kind::Data, "port, 2 B".to_string()),
                _ => (Kind::Data, format!("data {} B", x.len)),
            }
        } else if x.has(FIN) {
            (Kind::Fin, "FIN".to_string())
        } else if before.is_some_and(|b| b.wrapping_sub(1) == x.seq) {
            c.probed = true;
            (Kind::KeepaliveProbe, "keepalive probe".to_string())
        } else if std::mem::take(&mut c.probed) {
            (Kind::Ack, "ACK (of the probe)".to_string())
        } else {
            (Kind::Ack, "ACK".to_string())
        };
        if !matches!(kind, Kind::KeepaliveProbe) && from == Side::Client {
            c.probed = false;
        }
        if !sent(before, end) {
            c.next[i] = Some(end);
        }
        out.push(Wire {
            at: x.at - zero,
            from,
            kind,
            label,
            conn: c.name.clone(),
        });
    }
    out
}

/// The lines a program printed, read from its `-t` log (its own zero is logged), placed on
/// the client's clock. Debug detail is left out: it is not what the program says.
pub fn lines(log: &Log, side: Side, client_zero: f64) -> Vec<Line> {
    let shift = if log.zero > 0.0 {
        log.zero - client_zero
    } else {
        0.0
    };
    log.events
        .iter()
        .enumerate()
        .filter(|(_, (_, t))| !t.starts_with("debug:"))
        .map(|(i, (at, t))| Line {
            at: at + shift,
            side,
            text: t.clone(),
            ending: side == Side::Client && log.ending == Some(i),
        })
        .collect()
}

/// The order of a run's rows: by time to the millisecond (the programs stamp their lines in
/// milliseconds, the capture in microseconds); within a millisecond the client's line first
/// (it prints `sending heartbeat` before it writes), then the wire, then the server's line.
/// `line` is the side of a program's line, `None` for the wire (and the fault, the bound).
pub fn order(at: f64, line: Option<Side>) -> (i64, u8, i64) {
    let rank = match line {
        Some(Side::Client) => 0,
        None => 1,
        Some(Side::Server) => 2,
    };
    ((at * 1000.0).round() as i64, rank, (at * 1e6) as i64)
}

/// The run's timeline: the capture named, both programs' lines, the fault and the bound.
pub fn timeline(
    s: &Settings,
    expect: &Expect,
    segs: &[Segment],
    client: &Log,
    server: &Log,
    fault_at: Option<f64>,
) -> Timeline {
    let zero = client.zero;
    let wire = classify(s, segs, zero);
    let mut lines = lines(client, Side::Client, zero);
    lines.extend(self::lines(server, Side::Server, zero));
    lines.sort_by(|a, b| a.at.total_cmp(&b.at));
    let fault = fault_at.map(|f| f - zero);
    let death = lines.iter().find(|l| l.ending).map(|l| l.at);
    // The wire's last answer before the client's line: what "after the last byte" counts from.
    let last_answer = wire
        .iter()
        .filter(|w| w.from == Side::Server && death.is_none_or(|d| w.at <= d))
        .filter(|w| {
            if s.is_kernel() {
                true
            } else {
                matches!(w.kind, Kind::Answer | Kind::Urgent | Kind::Data)
            }
        })
        .map(|w| w.at)
        .reduce(f64::max);
    let bound = match *expect {
        Expect::AtFault => fault.map(|f| (f, f + 0.3, "at once, from the fault".to_string())),
        Expect::AfterFault { lo, hi } => {
            fault.map(|f| (f + lo, f + hi, format!("{lo}-{hi} s after the fault")))
        }
        Expect::AfterLastByte { lo, hi } => last_answer.map(|a| {
            let what = if lo == hi {
                format!("{hi} s after the last answer")
            } else {
                format!("{lo}-{hi} s after the last answer")
            };
            (a + lo, a + hi, what)
        }),
        _ => None,
    };
    Timeline {
        wire,
        lines,
        fault,
        bound,
        zero,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Segment;
    use std::net::Ipv4Addr;

    fn seg(at: f64, from_server: bool, flags: u8, seq: u32, len: usize) -> Segment {
        let c = (Ipv4Addr::new(192, 0, 2, 2), 40000);
        let s = (Ipv4Addr::new(192, 0, 2, 66), 9000);
        let (src, dst) = if from_server { (s, c) } else { (c, s) };
        Segment {
            at,
            src,
            dst,
            flags,
            seq,
            ack: 0,
            len,
        }
    }

    fn settings(pair: &str) -> Settings {
        Settings::parse(&format!(
            "pair={pair}\nfate=gone\nidle=3\ninterval=1\nprobes=2\nserver_ip=192.0.2.66"
        ))
    }

    #[test]
    fn keepalive_probes_retransmissions_and_answers_are_named() {
        let ka = [
            seg(0.0, false, SYN, 100, 0),
            seg(0.001, true, SYN | ACK, 500, 0),
            seg(0.002, false, ACK, 101, 0),
            seg(3.0, false, ACK, 100, 0),
            seg(3.001, true, ACK, 501, 0),
            seg(4.0, false, ACK, 100, 0),
            seg(5.0, false, ACK | RST, 101, 0),
        ];
        let k: Vec<Kind> = classify(&settings("ka"), &ka, 0.0)
            .iter()
            .map(|w| w.kind)
            .collect();
        use Kind::*;
        assert_eq!(
            k,
            [Open, Open, Ack, KeepaliveProbe, Ack, KeepaliveProbe, Rst]
        );
        let hb = [
            seg(0.0, false, SYN, 100, 0),
            seg(1.0, false, ACK, 101, 2004),
            seg(1.001, true, ACK, 501, 2004),
            seg(2.0, false, ACK, 2105, 2004),
            seg(2.2, false, ACK, 2105, 1448),
            seg(2.6, false, ACK | FIN, 4109, 0),
        ];
        let w = classify(&settings("hb"), &hb, 0.0);
        let k: Vec<Kind> = w.iter().map(|w| w.kind).collect();
        assert_eq!(k, [Open, Heartbeat, Answer, Heartbeat, Retransmission, Fin]);
        assert_eq!(w[4].label, "retransmission 1448 B");
        // Falsified: the retransmission's bytes were never sent before — it is a heartbeat.
        let mut fresh = hb.to_vec();
        fresh[4].seq = 4109;
        assert_eq!(
            classify(&settings("hb"), &fresh, 0.0)[4].kind,
            Kind::Heartbeat
        );
    }
}

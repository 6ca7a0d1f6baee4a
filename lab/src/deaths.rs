//! The wire's word on a statistical run (lossy, slow): the lab restarts the client after
//! every death, so the capture holds one connection per attempt, in order. Each is held
//! against its attempt's log:
//! * every connection answered by a SYN-ACK — the server was alive — but the last, which
//!   may still wait for one when the run ends, if it did not die;
//! * every connection closed before the run's end is a death its log says (the client's
//!   bound: `connection dead`; the server's window: it closed first, `server terminated`),
//!   and every death closed its connection (its FIN may wait behind unsent heartbeats, long
//!   after the line); the run's end closes the last one after the end;
//! * on each, the heartbeats its log sent are on the wire and nothing else
//!   ([`crate::exchange`]);
//! * where no death is expected, the server answered throughout: its longest silence below
//!   the client's bound.

use crate::capture::{Segment, ACK, FIN, RST, SYN};
use crate::exchange::{self, longest_silence, Exchange, Stream, TOL};
use crate::expect::{Deaths, Settings};
use crate::truth::{quiet_bound, server_ip};
use crate::Log;

/// Deaths on the wire: by the client's own bound, and by the server's window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Split {
    /// The client gave up (`connection dead`).
    pub client: u32,
    /// The server gave up first and closed (`server terminated` at the client).
    pub server: u32,
}

/// `agrees` or `disagrees: why`, the notes, and the deaths split by side.
pub fn check(
    s: &Settings,
    want: Deaths,
    segs: &[Segment],
    logs: &[Log],
    end: f64,
) -> (String, Vec<String>, Split) {
    let mut notes = Vec::new();
    let mut split = Split::default();
    match verdict(s, want, segs, logs, end, &mut notes, &mut split) {
        Ok(()) => ("agrees".into(), notes, split),
        Err(why) => (format!("disagrees: {why}"), notes, split),
    }
}

fn verdict(
    s: &Settings,
    want: Deaths,
    segs: &[Segment],
    logs: &[Log],
    end: f64,
    notes: &mut Vec<String>,
    split: &mut Split,
) -> Result<(), String> {
    let srv = server_ip(s).ok_or("the settings name no server_ip")?;
    let conns = exchange::opened(segs, srv);
    let deaths = logs
        .iter()
        .filter(|l| l.end().is_some_and(|(t, _)| t < end))
        .count();
    let answered = |c: &exchange::Conn| {
        segs.iter()
            .any(|x| x.src == c.server && x.dst == c.client && x.has(SYN | ACK))
    };
    notes.push(format!(
        "{} connections on the wire, {} answered by a SYN-ACK; {} attempts, {deaths} deaths",
        conns.len(),
        conns.iter().filter(|c| answered(c)).count(),
        logs.len()
    ));
    if conns.len() != logs.len() {
        return Err(format!(
            "{} connections for {} attempts",
            conns.len(),
            logs.len()
        ));
    }
    let size = if s.pair == "hb" {
        heartbeat::message::MSG_LEN as u64
    } else {
        1
    };
    for (n, (c, log)) in conns.iter().zip(logs).enumerate() {
        let n = n + 1;
        let line = log.end().filter(|(t, _)| *t < end);
        let close = segs
            .iter()
            .filter(|x| c.has(x) && (x.has(FIN) || x.has(RST)))
            .min_by(|a, b| a.at.total_cmp(&b.at));
        if !answered(c) {
            if n == logs.len() && line.is_none() {
                continue; // its SYN-ACK was lost on the wire when the run ended
            }
            return Err(format!("connection {n} was never answered by a SYN-ACK"));
        }
        match (line, close) {
            // The close may come long after the line: a FIN waits behind unsent bytes.
            (Some((d, _)), Some(x)) => {
                if x.src == c.server && x.at <= d + TOL {
                    split.server += 1;
                } else {
                    split.client += 1;
                }
            }
            (Some((d, text)), _) => {
                return Err(format!(
                    "attempt {n} said '{text}' at {d:.3}, its connection did not close"
                ))
            }
            (None, Some(x)) if x.at < end => {
                return Err(format!(
                    "connection {n} closed ({}) {:.3} s before the end, its attempt said nothing",
                    x.name(),
                    end - x.at
                ))
            }
            (None, _) => {}
        }
        let st = Stream::of(segs, c).ok_or(format!("connection {n} has no handshake"))?;
        let sent = log.sent();
        let x = Exchange {
            stream: &st,
            sent: &sent,
            size,
            fault: log.zero,
        };
        let attempt = |e: String| format!("attempt {n}: {e}");
        x.nothing_unsaid().map_err(attempt)?;
        x.all_on_wire().map_err(attempt)?;
        if let Some((d, _)) = line {
            x.none_after(d).map_err(attempt)?;
        }
        if want == Deaths::None {
            let start = st.heard.first().copied().unwrap_or(end);
            let (gap, from) = longest_silence(&st.answers, start, end);
            let bound = quiet_bound(s);
            notes.push(format!(
                "attempt {n}: the server answered {} times, its longest silence {gap:.3} s (the client's bound {bound:.3} s)",
                st.answers.len()
            ));
            if gap >= bound {
                return Err(format!(
                    "the server was silent {gap:.3} s from {:.3} s before the end, past the client's bound of {bound:.3} s",
                    end - from
                ));
            }
        }
    }
    notes.push(format!(
        "deaths on the wire: {} by the client's bound, {} by the server's window",
        split.client, split.server
    ));
    Ok(())
}

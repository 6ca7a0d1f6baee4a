//! The wire's word on a verdict: the capture taken on the client's veth against what the
//! client said. A row is `ok` only when both agree. Each rule below fails on an input
//! falsified against it: `lab/tests/truth.rs` feeds every rule a real capture of this lab
//! that it must pass (for kaw and kaw-ut, of which no capture is kept, one built in the
//! test) and the same run with its capture, log or settings edited against the rule, which
//! it must fail.
//!
//! For the application heartbeats (hb, hb1, oob), the exchange is rebuilt byte by byte
//! ([`crate::exchange`]):
//! * every heartbeat or urgent probe the log says it sent is on the wire, in order, at its
//!   time — unless it was written behind unacknowledged bytes (held) — and nothing else is;
//! * no heartbeat leaves after the client's line;
//! * after the fault the server's kernel ACKs what the client sends (`hung`) or nothing does
//!   (`gone`, `partition`), and the server answers nothing;
//! * the line comes after the heartbeats the settings allow: `probes` unanswered (hb, hb1),
//!   the bound after the wire's last answer (all three).
//!
//! For every pair:
//! * the server closed (killed): a FIN or RST from the server at the fault, before the line;
//! * the server's kernel forgot the connection (rebooted): the line within
//!   [`RESET_BOUND`] of the server's RST;
//! * no server data after the fault, up to the run's end (the lab then wakes a stopped
//!   server to end it), where the fate leaves no server to send it;
//! * nothing noticed (alive, flap, nat-idle that lives): the server answered throughout — its
//!   longest silence below the client's bound; a flap cut frames (the wire's count) and an
//!   exchange crossed the cut: lost in it, re-sent or repeated after, answered;
//! * kernel keepalive ([`crate::kernel`]): `probes` probes (with a user timeout, one per
//!   tick before it) `interval` apart, the first `idle` after the last exchange, the line at
//!   the bound after it; while data waits, no probe at all, the data re-sent, and with a
//!   user timeout the line that long after the oldest unacknowledged byte went out;
//! * behind a NAT (hb1, nat-idle): no connection from the server reaches the client; the
//!   server says why on `sdata` and closes it, and the client's line follows its FIN.
//!
//! The statistical fates are checked in [`crate::deaths`].

use crate::capture::{Segment, FIN, RST, SYN};
use crate::exchange::{self, Exchange, Stream, TOL};
use crate::expect::{Expect, Settings};
use crate::wire::Counts;
use crate::Log;
use std::net::Ipv4Addr;

/// The most a client's line may follow the server's RST, seconds: the RST ends its `recv` at
/// once; this is scheduling on a loaded machine.
pub const RESET_BOUND: f64 = 0.25;

/// One run, as the wire check needs it.
pub struct Run<'a> {
    /// Its settings.
    pub s: &'a Settings,
    /// What was expected of it.
    pub expect: &'a Expect,
    /// The capture.
    pub segs: &'a [Segment],
    /// The client's log.
    pub log: &'a Log,
    /// The fault (Unix seconds).
    pub fault: f64,
    /// The run's end (Unix seconds).
    pub end: f64,
    /// The wire's counts, from `wire.log`.
    pub counts: Option<Counts>,
}

impl Run<'_> {
    /// A time of the run as the notes give it: `F+0.365 s` from the fault, or, for `alive`
    /// (no fault: `fault` is the client's zero), the seconds since the client started.
    pub fn at(&self, t: f64) -> String {
        match self.s.fate.as_str() {
            "alive" => format!(
                "{:.3} s after the client started (no fault)",
                t - self.fault
            ),
            _ => crate::exchange::from_fault(t - self.fault),
        }
    }
}

/// The server's address, as the run's `settings` recorded it from lab/topology.sh.
pub fn server_ip(s: &Settings) -> Option<Ipv4Addr> {
    s.raw
        .iter()
        .find(|(k, _)| k == "server_ip")
        .and_then(|(_, v)| v.parse().ok())
}

/// Bytes per heartbeat: a `msg_t` for hb, one byte for hb1 and oob.
fn size(pair: &str) -> u64 {
    if pair == "hb" {
        heartbeat::message::MSG_LEN as u64
    } else {
        1
    }
}

/// The longest silence of the server that does not kill the client, seconds.
pub fn quiet_bound(s: &Settings) -> f64 {
    let death = match s.pair.as_str() {
        "oob" => (f64::from(s.probes) + 1.0) * s.interval,
        _ if s.is_kernel() => s.keepalive_bound() + s.slack(s.keepalive_bound()),
        _ => s.idle + s.tolerance(),
    };
    death + 2.0 * (s.delay + s.jitter) / 1000.0 + 0.25
}

/// `agrees` or `disagrees: why`, and what the wire saw, line by line.
pub fn check(r: &Run) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    match verdict(r, &mut notes) {
        Ok(()) => ("agrees".into(), notes),
        Err(why) => (format!("disagrees: {why}"), notes),
    }
}

fn verdict(r: &Run, notes: &mut Vec<String>) -> Result<(), String> {
    let (s, segs, fault) = (r.s, r.segs, r.fault);
    let srv = server_ip(s).ok_or("the settings name no server_ip")?;
    let from_server = |x: &&Segment| x.src.0 == srv;
    let death = r.log.end().map(|(t, _)| t);
    notes.push(format!(
        "{} segments captured, {} from the server",
        segs.len(),
        segs.iter().filter(from_server).count()
    ));
    if s.fate == "nat-idle" && s.pair == "hb1" {
        notes.push("the server's connection back went to the NAT's address, not the client".into());
        let back = segs
            .iter()
            .filter(from_server)
            .any(|x| x.has(SYN) && !x.has(crate::capture::ACK));
        if back {
            return Err("a connection from the server reached the client".into());
        }
        // It sent something on sdata (its reason: the answers test reads the words the client
        // printed) and closed it; the client's line follows the FIN.
        let fin = segs
            .iter()
            .filter(from_server)
            .find(|x| x.has(FIN))
            .ok_or("the server never closed sdata (no FIN from it)")?;
        if !segs
            .iter()
            .filter(from_server)
            .any(|x| x.len > 0 && x.at <= fin.at)
        {
            return Err(
                "the server closed sdata without a word (no data from it before its FIN)".into(),
            );
        }
        notes.push(format!(
            "the server sent its reason on sdata and closed it (FIN) at {}",
            r.at(fin.at)
        ));
        return match death {
            Some(d) if d + 0.005 < fin.at => Err(format!(
                "the client ended {:.3} s before the server's FIN",
                fin.at - d
            )),
            _ => Ok(()),
        };
    }
    // No server data after the fault where no server is left to send it.
    if matches!(
        s.fate.as_str(),
        "killed" | "hung" | "gone" | "partition" | "rebooted" | "busy-gone"
    ) {
        if let Some(x) = segs
            .iter()
            .filter(from_server)
            .find(|x| x.len > 0 && x.at > fault + TOL && x.at < r.end)
        {
            return Err(format!(
                "the server sent {} B at {}: a {} server sends nothing after the fault",
                x.len,
                r.at(x.at),
                s.fate
            ));
        }
    }
    let app = !s.is_kernel();
    let link = exchange::heartbeat_link(segs, srv, r.log.listener_port(), s.pair == "hb1");
    let stream = link.and_then(|c| Stream::of(segs, &c));
    let sent = r.log.sent();
    // The application heartbeat's exchange, rebuilt once for every rule below.
    let exchange = match (app, stream.as_ref()) {
        (false, _) => None,
        (true, None) => return Err("the heartbeat link is not in the capture".into()),
        (true, Some(st)) => Some(Exchange {
            stream: st,
            sent: &sent,
            size: size(&s.pair),
            fault,
        }),
    };
    if let Some(x) = &exchange {
        let st = x.stream;
        notes.push(format!(
            "heartbeat link: the log sent {}, the wire carried {} B of them ({} segments, {} re-sent), the server answered {} times",
            sent.len(),
            st.high(f64::MAX),
            st.first.len(),
            st.resent.len(),
            st.answers.len()
        ));
        x.nothing_unsaid()?;
        x.all_on_wire()?;
        if let Some(d) = death {
            x.none_after(d)?;
        }
    }
    match *r.expect {
        Expect::AtFault => {
            let c = segs
                .iter()
                .filter(from_server)
                .find(|x| x.at > fault - 0.01 && (x.has(FIN) || x.has(RST)))
                .ok_or("no FIN or RST from the server after the fault")?;
            notes.push(format!(
                "the server's kernel sent {} at {}",
                c.name(),
                r.at(c.at)
            ));
            match death {
                Some(d) if d + 0.005 < c.at => Err(format!(
                    "the client ended {:.3} s before the {}",
                    c.at - d,
                    c.name()
                )),
                _ => Ok(()),
            }
        }
        Expect::Never => crate::alive::never(r, srv, stream.as_ref(), notes),
        Expect::AfterFault { lo, hi } | Expect::AfterLastByte { lo, hi } => {
            let d = death.ok_or("the client never ended")?;
            if s.fate == "rebooted" {
                let rst = segs
                    .iter()
                    .filter(from_server)
                    .find(|x| x.has(RST) && x.at > fault - 0.01 && x.at <= d + 0.005)
                    .ok_or("no RST from the server before the line")?;
                notes.push(format!(
                    "RST from the server at {}, the line {:.3} s later",
                    r.at(rst.at),
                    (d - rst.at).max(0.0)
                ));
                if d - rst.at > RESET_BOUND {
                    return Err(format!(
                        "the line came {:.3} s after the RST (at most {RESET_BOUND} s)",
                        d - rst.at
                    ));
                }
                return Ok(());
            }
            match &exchange {
                Some(x) => silent_server(r, x, d, lo, hi, notes),
                None => crate::kernel::gone(r, srv, d, notes),
            }
        }
        Expect::FalseDeaths(_) => Ok(()),
    }
}

/// A fate the client must notice by silence (hung, gone, partition, nat-idle, flap past
/// its bound): who answered what after the fault, and the line after the allowed probes.
fn silent_server(
    r: &Run,
    x: &Exchange,
    d: f64,
    lo: f64,
    hi: f64,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let (s, st, fault) = (r.s, x.stream, r.fault);
    if matches!(s.fate.as_str(), "hung" | "gone" | "partition") {
        let at_fault = st.high(fault);
        let acked = st.acked(d); // the lab wakes a stopped server after the end
        if st.high(d) <= at_fault {
            return Err("the client sent no heartbeat after the fault".into());
        }
        match (s.fate == "hung", acked > at_fault) {
            (true, true) => notes.push(format!(
                "the stopped server's kernel ACKed {} B sent after the fault, the server answered none",
                acked - at_fault
            )),
            (true, false) => {
                return Err(
                    "the server's kernel ACKed nothing sent after the fault: hung looks gone"
                        .into(),
                )
            }
            (false, true) => {
                return Err(format!(
                    "the server's kernel ACKed {} B sent after the fault: {} looks hung",
                    acked - at_fault,
                    s.fate
                ))
            }
            (false, false) => notes.push("nothing answered after the fault, not even a kernel".into()),
        }
    }
    // That the server answered nothing after the fault is checked in `verdict`, for every
    // pair, up to the run's end.
    let last = st
        .answers
        .iter()
        .copied()
        .filter(|&t| t <= d)
        .reduce(f64::max)
        .ok_or("no answer from the server before the line")?;
    let n = x.sent_between(last + 0.001, d);
    notes.push(format!(
        "last answer on the wire at {}, then {n} heartbeats, the line {:.3} s after it",
        r.at(last),
        d - last
    ));
    let allowed = s.probes as usize;
    let count_ok = match s.pair.as_str() {
        "oob" => (1..=allowed).contains(&n),
        _ => n == allowed,
    };
    if !count_ok {
        return Err(format!(
            "the line came after {n} heartbeats unanswered; the settings allow {allowed}"
        ));
    }
    let said = r.log.last_answer(d).unwrap_or(0.0);
    if (said - last).abs() > TOL {
        return Err(format!(
            "the client's last answer was at {}, the wire's at {}",
            r.at(said),
            r.at(last)
        ));
    }
    if let Expect::AfterLastByte { .. } = r.expect {
        if d - last < lo - TOL || d - last > hi + s.slack(hi) {
            return Err(format!(
                "the line came {:.3} s after the wire's last answer, not {lo}-{hi} s",
                d - last
            ));
        }
    }
    Ok(())
}

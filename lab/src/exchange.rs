//! The heartbeat exchange rebuilt from the capture: which of the client's heartbeat bytes
//! went on the wire when, which the server's kernel acknowledged, and when the server
//! answered — so that a claim in the client's log can be held against the wire byte by byte.
//!
//! A heartbeat is a run of bytes in the client's TCP stream: 2004 (`msg_t`) for hb, one for
//! hb1 (on its heartbeat link) and for oob (an urgent byte). The k-th heartbeat the log
//! names is the k-th run of bytes, so a segment's sequence number says which heartbeat it
//! carries, whatever TCP did to it (split, coalesced, retransmitted). A heartbeat the program
//! wrote while earlier bytes were still unacknowledged is *held*: TCP may send it late (Nagle,
//! a full window) or not at all before the line — the partition's heartbeats #2 and #3.

use crate::capture::{Segment, ACK, SYN};
use std::net::Ipv4Addr;

/// How far a log's stamp and the capture's may differ for the same send, seconds: the stamp
/// is taken just before (hb) or after (oob) the `send`, on a loaded 2-core machine.
pub const TOL: f64 = 0.05;

/// One TCP connection: the client's end and the server's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conn {
    /// The client's address and port.
    pub client: (Ipv4Addr, u16),
    /// The server's address and port.
    pub server: (Ipv4Addr, u16),
}

impl Conn {
    /// Whether a segment belongs to this connection.
    pub fn has(&self, x: &Segment) -> bool {
        (x.src, x.dst) == (self.client, self.server) || (x.src, x.dst) == (self.server, self.client)
    }
}

/// Every connection the client opened to the server, in the order of their SYNs.
pub fn opened(segs: &[Segment], server: Ipv4Addr) -> Vec<Conn> {
    let mut out: Vec<Conn> = Vec::new();
    for x in segs.iter().filter(|x| x.has(SYN) && !x.has(ACK)) {
        if x.src.0 != server && x.dst.0 == server {
            let c = Conn {
                client: x.src,
                server: x.dst,
            };
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// The heartbeat link: hb1's connection back from the server to the client's listener
/// (`listener`, from the log), else the client's first connection to the server.
pub fn heartbeat_link(
    segs: &[Segment],
    server: Ipv4Addr,
    listener: Option<u16>,
    hb1: bool,
) -> Option<Conn> {
    if !hb1 {
        return opened(segs, server).first().copied();
    }
    segs.iter()
        .filter(|x| x.has(SYN) && !x.has(ACK) && x.src.0 == server)
        .find(|x| listener.is_none_or(|p| x.dst.1 == p))
        .map(|x| Conn {
            client: x.dst,
            server: x.src,
        })
}

/// The client's byte stream on one connection, as the capture shows it.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// (time, first, end) of each client segment that carried bytes never sent before,
    /// offsets from the stream's first byte.
    pub first: Vec<(f64, u64, u64)>,
    /// (time, first, end) of each client segment that re-sent bytes.
    pub resent: Vec<(f64, u64, u64)>,
    /// (time, bytes acknowledged) of each server segment with ACK.
    pub acks: Vec<(f64, u64)>,
    /// Times of the server's segments with data: its answers.
    pub answers: Vec<f64>,
    /// Times of every server segment.
    pub heard: Vec<f64>,
}

impl Stream {
    /// Rebuild it; `None` when the capture holds no handshake of this connection.
    pub fn of(segs: &[Segment], c: &Conn) -> Option<Stream> {
        let syn = segs
            .iter()
            .find(|x| x.src == c.client && x.dst == c.server && x.has(SYN))?;
        let base = syn.seq.wrapping_add(1);
        let rel = |n: u32| u64::from(n.wrapping_sub(base));
        let mut s = Stream::default();
        let mut high = 0u64;
        for x in segs.iter().filter(|x| c.has(x)) {
            if x.src == c.client && x.len > 0 && !x.has(SYN) {
                let (a, b) = (rel(x.seq), rel(x.seq) + x.len as u64);
                let before = high;
                if b > before {
                    s.first.push((x.at, a.max(before), b));
                    high = b;
                }
                if a < before {
                    s.resent.push((x.at, a, b.min(before)));
                }
            } else if x.src == c.server {
                s.heard.push(x.at);
                if x.len > 0 {
                    s.answers.push(x.at);
                }
                if x.has(ACK) && !x.has(SYN) {
                    s.acks.push((x.at, rel(x.ack).min(high + 1)));
                }
            }
        }
        Some(s)
    }

    /// Bytes on the wire by `t`.
    pub fn high(&self, t: f64) -> u64 {
        self.first
            .iter()
            .filter(|f| f.0 <= t)
            .map(|f| f.2)
            .max()
            .unwrap_or(0)
    }

    /// Bytes the server's kernel had acknowledged by `t`.
    pub fn acked(&self, t: f64) -> u64 {
        self.acks
            .iter()
            .filter(|a| a.0 <= t)
            .map(|a| a.1)
            .max()
            .unwrap_or(0)
    }

    /// When byte `at` first went on the wire.
    pub fn first_sent(&self, at: u64) -> Option<f64> {
        self.first
            .iter()
            .find(|f| f.1 <= at && at < f.2)
            .map(|f| f.0)
    }
}

/// The heartbeats a log says were sent, held against a stream.
pub struct Exchange<'a> {
    /// The stream.
    pub stream: &'a Stream,
    /// The log's sends (Unix seconds), in order.
    pub sent: &'a [f64],
    /// Bytes per heartbeat.
    pub size: u64,
    /// The fault (Unix seconds), for the messages.
    pub fault: f64,
}

/// `F+0.365 s`: `dt` seconds from the fault, as the notes give it. A segment the capture saw
/// a few microseconds before the wire stamped the flap it began is at `F+0.000 s`, not
/// `F-0.000 s`.
pub fn from_fault(dt: f64) -> String {
    let dt = if dt.abs() < 0.0005 { 0.0 } else { dt };
    format!("F{dt:+.3} s")
}

impl Exchange<'_> {
    fn rel(&self, t: f64) -> String {
        from_fault(t - self.fault)
    }

    /// Whether heartbeat `k` was written behind unacknowledged bytes.
    fn held(&self, k: usize) -> bool {
        self.stream.acked(self.sent[k] + TOL) < k as u64 * self.size
    }

    /// Nothing the log does not say: every byte on the wire belongs to a heartbeat the log
    /// named, and none left before the log said it was sent.
    pub fn nothing_unsaid(&self) -> Result<(), String> {
        for &(t, a, _) in &self.stream.first {
            let k = (a / self.size) as usize;
            match self.sent.get(k) {
                None => {
                    return Err(format!(
                        "heartbeat #{} of the connection is on the wire at {}, the log names {}",
                        k + 1,
                        self.rel(t),
                        self.sent.len()
                    ))
                }
                Some(&said) if t < said - TOL => {
                    return Err(format!(
                        "heartbeat #{} left at {}, before the log sent it at {}",
                        k + 1,
                        self.rel(t),
                        self.rel(said)
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Every heartbeat the log names is on the wire at its time, unless it was held.
    pub fn all_on_wire(&self) -> Result<(), String> {
        for (k, &said) in self.sent.iter().enumerate() {
            let w = self.stream.first_sent(k as u64 * self.size);
            let late = w.is_none_or(|w| w > said + TOL);
            if late && !self.held(k) {
                return Err(match w {
                    None => format!(
                        "heartbeat #{} the log sent at {} is not on the wire",
                        k + 1,
                        self.rel(said)
                    ),
                    Some(w) => format!(
                        "heartbeat #{} the log sent at {} left at {}, with nothing ahead of it",
                        k + 1,
                        self.rel(said),
                        self.rel(w)
                    ),
                });
            }
        }
        Ok(())
    }

    /// No heartbeat leaves after the client's line — but bytes of one the log sent before
    /// it that waited behind unacknowledged bytes (a window, a congestion window of one
    /// segment after a lost SYN), which the kernel still sends when the program is gone.
    pub fn none_after(&self, line: f64) -> Result<(), String> {
        let unheld = |f: &&(f64, u64, u64)| {
            let k = (f.1 / self.size) as usize;
            // Acknowledged only just before (the ACK that released them): they waited.
            let waited = self.stream.acked(f.0 - 0.0005) < f.1;
            !(self.sent.get(k).is_some_and(|&t| t <= line) && waited)
        };
        match self
            .stream
            .first
            .iter()
            .filter(|f| f.0 > line + TOL)
            .find(unheld)
        {
            Some(f) => Err(format!(
                "the client sent heartbeat bytes at {}, {:.3} s after its line",
                self.rel(f.0),
                f.0 - line
            )),
            None => Ok(()),
        }
    }

    /// How many heartbeats the log sent after `t` and up to `line`.
    pub fn sent_between(&self, t: f64, line: f64) -> usize {
        self.sent.iter().filter(|&&s| s > t && s <= line).count()
    }
}

/// The longest the server stays silent in `times` between `from` and `to`, and when it began.
pub fn longest_silence(times: &[f64], from: f64, to: f64) -> (f64, f64) {
    let mut at: Vec<f64> = times
        .iter()
        .copied()
        .filter(|&t| t >= from && t <= to)
        .collect();
    at.insert(0, from);
    at.push(to);
    at.windows(2)
        .map(|w| (w[1] - w[0], w[0]))
        .fold((0.0, from), |a, b| if b.0 > a.0 { b } else { a })
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_from_the_fault_never_say_minus_zero() {
        use super::from_fault;
        assert_eq!(from_fault(-0.000_04), "F+0.000 s");
        assert_eq!(from_fault(0.365), "F+0.365 s");
        assert_eq!(from_fault(-0.4), "F-0.400 s");
    }
}

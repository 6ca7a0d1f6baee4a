//! The soak's books: what the clients of one server counted while they ran (honest
//! connections, echoes compared, false deaths, hostile connections by kind), and the
//! problems they saw, each said in one line.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// The hostile clients' kinds, in the table's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Connects and says nothing (ended by the server's heartbeat, or held by ka_server).
    Silent,
    /// Connects and closes at once (FIN).
    Close,
    /// Connects and resets (SO_LINGER 0: RST).
    Reset,
    /// Bytes that are not the protocol: random message types, a non-zero byte on shb,
    /// random data and urgent bytes.
    Garbage,
    /// Sends as fast as it can and never reads.
    Flood,
    /// Sends, half-closes (`shutdown(SHUT_WR)`), reads what comes back.
    HalfClose,
    /// hb_server1 only: a port handshake of 1 byte, port 0, or a port nobody listens on.
    BadPort,
}

pub const KINDS: [Kind; 7] = [
    Kind::Silent,
    Kind::Close,
    Kind::Reset,
    Kind::Garbage,
    Kind::Flood,
    Kind::HalfClose,
    Kind::BadPort,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Silent => "silent",
            Kind::Close => "close",
            Kind::Reset => "reset",
            Kind::Garbage => "garbage",
            Kind::Flood => "flood",
            Kind::HalfClose => "halfclose",
            Kind::BadPort => "badport",
        }
    }
    pub fn index(self) -> usize {
        KINDS.iter().position(|&k| k == self).unwrap_or(0)
    }
}

/// Problems kept word for word; beyond this many only counted.
const KEPT: usize = 12;

/// One server's counters, shared by all its clients.
#[derive(Default)]
pub struct Tally {
    /// Honest connections made (in-process clients and the project's client programs).
    pub honest: AtomicU64,
    /// Echoes (or answers, or holds) compared byte for byte and found exact.
    pub echoes: AtomicU64,
    /// Bytes those echoes held.
    pub echo_bytes: AtomicU64,
    /// Echoes that came back different, late past the death bound, or not at all.
    pub wrong: AtomicU64,
    /// An honest client declared dead or turned away: by itself, or by the server's line.
    pub false_deaths: AtomicU64,
    /// Real clients' heartbeats answered only after a second probe (late, not dead).
    pub late: AtomicU64,
    /// Hostile connections made, by kind.
    pub hostile: [AtomicU64; 7],
    /// Hostile connections whose connect failed (counted apart: never made).
    pub hostile_failed: AtomicU64,
    /// Floods the server ended (its close or reset reached the sender) before ours.
    pub floods_ended: AtomicU64,
    /// Hostile connections open right now.
    pub open: AtomicUsize,
    problems: Mutex<(u64, Vec<String>)>,
}

impl Tally {
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
    /// Something an honest check found wrong; `counter` says what it counts as.
    pub fn problem(&self, counter: &AtomicU64, text: String) {
        counter.fetch_add(1, Relaxed);
        let mut p = self.problems.lock().unwrap_or_else(|e| e.into_inner());
        p.0 += 1;
        if p.1.len() < KEPT {
            p.1.push(text);
        }
    }
    /// (how many problems, the first few word for word)
    pub fn problems(&self) -> (u64, Vec<String>) {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The four servers' protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// hb_server: 2004-byte msg_t, heartbeats echoed whole.
    Hb,
    /// hb_server1: a 2-byte port on sdata, the server connects back, 0x00 echoed on shb.
    Hb1,
    /// hb_server_oob: normal data echoed, urgent bytes answered.
    Oob,
    /// ka_server: held, nothing sent.
    Ka,
}

pub use crate::rng::Rng;

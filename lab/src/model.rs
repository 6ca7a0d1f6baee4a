//! The statistical fates' model: how many false deaths a run of `lossy` or `slow` should
//! see, from both ends of the in-band heartbeat (hb). Printed beside the count measured.
//!
//! One cycle: the client reads an echo at `c0`, sends heartbeat #1 `idle` later, #2 one
//! `interval` after that, …; the server last heard a heartbeat at `s0 = c0 − back₀`.
//! * The **client** dies when no echo comes within `probes × interval` of #1: the round trip
//!   `fwd + back` is longer. Later heartbeats can rescue it only while the delay alone is to
//!   blame (under loss they queue behind #1 in the same stream).
//! * The **server** dies when no heartbeat comes within `(probes + 1) × interval` of `idle`
//!   after `s0`: `back₀ + fwd₁` is longer, and `back₀` longer than an interval (else the
//!   client's deadline comes first). While an echo is late the client keeps probing, each
//!   probe resetting the server, unless the forward path is blocked as well: the low estimate
//!   counts that. The high one assumes no probe gets through, and adds one round trip to the
//!   echo when the client sent a second heartbeat before the first echo came back: Nagle
//!   holds the second echo's short tail until the first is acknowledged.
//!
//! A one-way trip of a message is the latest of its segments (2 for a 2004-byte `msg_t` at
//! MSS 1448; jitter reorders them, the message is whole only when both are in), each uniform
//! in `delay ± jitter`, plus repair: a lost segment is re-sent at once by RACK or the tail
//! loss probe (~10 ms), then by the retransmission timer, 200 ms and doubling; the message is
//! late when every try up to the deadline is lost. The estimates are sums over cycles: the
//! low one both ends without the Nagle hold; the high one with it, and the client's side
//! with the slow first timer of a connection whose handshake lost a segment (`SLOW_RTO`).

/// Expected false deaths in one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// By the client's bound.
    pub client: f64,
    /// By the client's bound, with the slow retransmission timer of a connection whose
    /// handshake lost a segment (no round trip measured yet).
    pub client_slow_rto: f64,
    /// By the server's window, without and with the Nagle hold.
    pub server: (f64, f64),
    /// Heartbeat cycles in the run.
    pub cycles: f64,
}

impl Prediction {
    /// The low estimate: both ends, without the Nagle hold.
    pub fn low(&self) -> f64 {
        self.client + self.server.0
    }

    /// The high estimate: both ends, the server's with the Nagle hold.
    pub fn high(&self) -> f64 {
        self.client_slow_rto.max(self.client) + self.server.1
    }
}

/// One direction of the path: `a..b` seconds of delay per segment, `segs` segments a
/// message, loss `l` per segment.
struct Path {
    a: f64,
    b: f64,
    segs: i32,
    l: f64,
    /// The first retransmission timeout, seconds: Linux's 200 ms floor once a round trip is
    /// measured; [`SLOW_RTO`] before that.
    rto: f64,
}

/// The first retransmission timeout of a connection whose handshake lost a segment: no round
/// trip was measured (Karn), the timer starts at seconds, not 200 ms. Measured here, after
/// two lost SYNs: a heartbeat's lost tail re-sent 1.72, 5.50 and 12.92 s after it left, so a
/// 16 s tolerance died after four tries (issue 19's lossy-loose `none`, which failed once).
const SLOW_RTO: f64 = 2.0;

impl Path {
    /// P(the message's delay ≤ x): the latest of `segs` uniform delays.
    fn cdf(&self, x: f64) -> f64 {
        if self.b <= self.a {
            return f64::from(u8::from(x > self.a));
        }
        ((x - self.a) / (self.b - self.a))
            .clamp(0.0, 1.0)
            .powi(self.segs)
    }

    /// P(fwd + back delays > z), both directions on this path.
    fn tail2(&self, z: f64) -> f64 {
        if z < 2.0 * self.a {
            return 1.0;
        }
        if z >= 2.0 * self.b {
            return 0.0;
        }
        const N: usize = 400;
        let h = (self.b - self.a) / N as f64;
        (0..N)
            .map(|k| {
                let (u0, u1) = (self.a + k as f64 * h, self.a + (k + 1) as f64 * h);
                (self.cdf(u1) - self.cdf(u0)) * (1.0 - self.cdf(z - (u0 + u1) / 2.0))
            })
            .sum()
    }

    /// The repair delays and their chances: (extra seconds, probability).
    fn repairs(&self) -> Vec<(f64, f64)> {
        let first = 1.0 - (1.0 - self.l).powi(self.segs);
        let mut out = vec![(0.0, 1.0 - first)];
        let mut p = first;
        for k in 1..40 {
            let extra = 0.01 + self.rto * (2f64.powi(k - 1) - 1.0);
            out.push((extra, p * (1.0 - self.l)));
            p *= self.l;
            if p < 1e-15 {
                break;
            }
        }
        out
    }

    /// P(fwd + back > y), delay and repair of both directions.
    fn late(&self, y: f64) -> f64 {
        let r = self.repairs();
        let mut sum = 0.0;
        for &(x1, p1) in &r {
            for &(x2, p2) in &r {
                sum += p1 * p2 * self.tail2(y - x1 - x2);
            }
        }
        sum.min(1.0)
    }

    /// The one-way delay of a message with its repair, on a grid of [`STEP`] seconds:
    /// `pmf[k]` is P(delay in step k).
    fn pmf(&self, len: usize) -> Vec<f64> {
        let mut out = vec![0.0; len];
        for (extra, p) in self.repairs() {
            for (k, slot) in out.iter_mut().enumerate() {
                let (x0, x1) = (k as f64 * STEP - extra, (k + 1) as f64 * STEP - extra);
                *slot += p * (self.cdf(x1) - self.cdf(x0));
            }
        }
        out
    }
}

/// The grid of [`Path::pmf`], seconds.
const STEP: f64 = 0.002;

/// P(the server's window runs out first in a cycle): the last echo `back` took longer than
/// one interval (so the server's deadline comes before the client's) plus `hold`, and with
/// the next heartbeat's trip it passes the server's `window`.
fn server_first(path: &Path, i: f64, window: f64, hold: f64) -> f64 {
    let len = ((window + 1.0) / STEP) as usize;
    let pmf = path.pmf(len);
    let mut cdf = Vec::with_capacity(len);
    let mut acc = 0.0;
    for p in &pmf {
        acc += p;
        cdf.push(acc);
    }
    let tail = |x: f64| {
        if x < 0.0 {
            1.0
        } else {
            1.0 - cdf.get((x / STEP) as usize).copied().unwrap_or(1.0)
        }
    };
    let mut q = 0.0;
    for (k, p) in pmf.iter().enumerate() {
        let back = (k as f64 + 0.5) * STEP + hold;
        if back > i {
            q += p * tail(window - back);
        }
    }
    q + tail(len as f64 * STEP - hold) // an echo later than the grid: always too late
}

/// The prediction for a run with these settings (hb's 2004-byte messages; one byte for hb1
/// and oob). An attempt dies in its first cycle by the client's bound alone (the server's
/// window starts with the connection); later cycles by either end. Deaths in a run are its
/// length over an attempt's mean length: the connection, then the cycles until a death.
pub fn predict(s: &crate::expect::Settings) -> Prediction {
    let segs = if s.pair == "hb" { 2 } else { 1 };
    let path = Path {
        a: ((s.delay - s.jitter) / 1000.0).max(0.0),
        b: (s.delay + s.jitter) / 1000.0,
        segs,
        l: s.loss / 100.0,
        rto: 0.2,
    };
    let (i, p) = (s.interval, f64::from(s.probes));
    let bound = p * i;
    // The client: the delay alone, rescued by later heartbeats; or a repair too slow.
    let no_loss = Path { l: 0.0, ..path };
    let by_delay: f64 = (0..s.probes)
        .map(|k| no_loss.tail2(bound - f64::from(k) * i))
        .product();
    let by_loss = |rto: f64| {
        Path {
            a: path.a,
            b: path.a,
            rto,
            ..path
        }
        .late(bound)
    };
    let client_q = |rto: f64| 1.0 - (1.0 - by_delay) * (1.0 - by_loss(rto));
    let qc = client_q(0.2);
    // The server: its longer window, against the last echo and the next heartbeat.
    let window = (p + 1.0) * i;
    let mean_rtt = path.a + path.b;
    let second = no_loss.tail2(i); // the client sends #2 before the echo of #1 is back
                                   // While the echo is late the client keeps probing, each probe resetting the server —
                                   // unless the forward path is blocked too (a repair longer than an interval): the low
                                   // estimate counts that; the high one assumes no probe gets through, and the Nagle hold.
    let qs = server_first(&path, i, window, 0.0);
    let blocked = 1.0 - path.pmf((i / STEP) as usize).iter().sum::<f64>();
    let qs_held = second * server_first(&path, i, window, mean_rtt) + (1.0 - second) * qs;
    let qs = qs * blocked;
    let cycle = s.idle + mean_rtt + 0.01;
    let setup = mean_rtt / 2.0 + 0.06; // the handshake, the lab's restart poll
    let deaths = |qc: f64, qs: f64| {
        let q = (qc + qs).min(1.0);
        if q <= 0.0 {
            return (0.0, 0.0);
        }
        let cycles = 1.0 + (1.0 - qc) / q; // per attempt
        let n = s.duration / (setup + cycles * cycle);
        let by_server = (1.0 - qc) * qs / q;
        (n * (1.0 - by_server), n * by_server)
    };
    let (client, server) = deaths(qc, qs);
    let (_, held) = deaths(qc, qs_held);
    let (client_slow_rto, _) = deaths(client_q(SLOW_RTO), 0.0);
    Prediction {
        client,
        client_slow_rto,
        server: (server, held),
        cycles: s.duration / cycle,
    }
}

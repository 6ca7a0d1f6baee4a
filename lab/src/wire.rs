//! The lab's wire (issue 11): a cable between two Ethernet interfaces that delays, loses and
//! cuts frames — what `tc qdisc add dev IF root netem delay 300ms 100ms loss 10%` does, for
//! the kernels that have no `sch_netem` (WSL2's, and this project's CI machine's).
//!
//! Not a port: the articles break their connections by unplugging cables and rebooting hosts.
//! The lab needs those faults on demand, inside network namespaces, and `hb_wire` makes them.
//! It sits in the router's namespace between two veth ends, `A` and `B`, with no address of
//! its own: a raw `AF_PACKET` socket on each end reads every frame that arrives and writes it,
//! unchanged, out of the other end after `delay ± jitter` (uniform, as netem's default), or
//! never (with probability `loss`, or while the wire is cut). The kernels on either side see a
//! plain Ethernet link: the router routes and NATs above it, TCP retransmits across it.
//!
//! Why a frame copied byte for byte needs the veths' offloads off (`ethtool -K IF tx off tso
//! off gso off`): with them on, a veth hands over 64 KiB "super-frames" and TCP checksums left
//! for a NIC to fill in. The kernel's own forwarding knows; a raw socket copies them as they
//! are, too large and with a wrong checksum.
//!
//! Commands, one per line on standard input, each acknowledged on standard error (with `-t`
//! stamps): `cut`, `mend`, `flap SECONDS` (a cut that begins with the next TCP frame and ends
//! by itself: [`crate::cut`]), `delay MS [JITTER_MS]`, `loss PERCENT`, `stats`. At end of input the
//! wire prints its counts and exits.
//!
//! As honest as netem about what it loses: each direction holds at most [`LIMIT`] frames
//! waiting for their time (netem's default `limit 1000`); a frame that finds the queue full
//! is dropped and counted (`queue`). Frames the kernel dropped before the wire could read
//! them — its packet socket's receive buffer full — are read from `PACKET_STATISTICS` and
//! counted (`kernel`), and so are frames the kernel refused to send (`send`). Every count is
//! in each `stats` line and the last one: `passed`, `lost` (at random), `cut`, `dropped`.

use crate::cut::Cut;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the wire treats frames now. Shared by the command reader and both directions.
#[derive(Debug, Default)]
pub struct Settings {
    /// Mean one-way delay, microseconds.
    pub delay_us: AtomicU64,
    /// Jitter: the delay is uniform in `delay ± jitter`, microseconds.
    pub jitter_us: AtomicU64,
    /// Loss, in millionths (10 % = 100 000).
    pub loss_ppm: AtomicU64,
    /// Cut (for good, or a flap's): every frame is lost, those already on the wire too.
    pub cut: Cut,
    /// Frames passed, lost at random, lost to the cut.
    pub passed: AtomicU64,
    /// Frames lost at random.
    pub lost: AtomicU64,
    /// Frames lost to the cut.
    pub cut_lost: AtomicU64,
    /// Frames dropped because their direction's queue held [`LIMIT`] already.
    pub queue_dropped: AtomicU64,
    /// Frames the kernel dropped before the wire read them (`PACKET_STATISTICS`).
    pub kernel_dropped: AtomicU64,
    /// Frames the kernel would not send (`send` failed: `ENOBUFS` …).
    pub send_failed: AtomicU64,
}

/// Frames one direction holds waiting for their time, as netem's default `limit 1000`.
pub const LIMIT: usize = 1000;

impl Settings {
    /// Apply one command line; returns the acknowledgement to print.
    pub fn command(&self, line: &str) -> Result<String, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> Result<f64, String> {
            words
                .get(i)
                .and_then(|w| w.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("{}: needs a number, not {:?}", words[0], words.get(i)))
        };
        match words.first().copied() {
            Some("cut") => self.cut.set(true),
            Some("mend") => self.cut.set(false),
            Some("flap") => self
                .cut
                .arm(Duration::try_from_secs_f64(num(1)?).map_err(|e| format!("flap: {e}"))?),
            Some("delay") => {
                let jitter = if words.len() > 2 { num(2)? } else { 0.0 };
                self.delay_us.store((num(1)? * 1000.0) as u64, Relaxed);
                self.jitter_us.store((jitter * 1000.0) as u64, Relaxed);
            }
            Some("loss") => self
                .loss_ppm
                .store((num(1)?.min(100.0) * 10_000.0) as u64, Relaxed),
            Some("stats") => {}
            Some(w) => {
                return Err(format!(
                    "unknown command {w:?} (cut, mend, flap, delay, loss, stats)"
                ))
            }
            None => return Err("empty command".into()),
        }
        Ok(self.describe())
    }

    /// `delay 300 ± 100 ms, loss 10 %, limit 1000, up; passed 1234, lost 12, cut 0,
    /// dropped 0 (queue 0, kernel 0, send 0)` — the line [`Counts::parse`] reads back.
    pub fn describe(&self) -> String {
        let ms = |a: &AtomicU64| a.load(Relaxed) as f64 / 1000.0;
        let (q, k, f) = (
            self.queue_dropped.load(Relaxed),
            self.kernel_dropped.load(Relaxed),
            self.send_failed.load(Relaxed),
        );
        format!(
            "delay {} ± {} ms, loss {} %, limit {LIMIT}, {}; passed {}, lost {}, cut {}, dropped {} (queue {q}, kernel {k}, send {f})",
            ms(&self.delay_us),
            ms(&self.jitter_us),
            self.loss_ppm.load(Relaxed) as f64 / 10_000.0,
            self.cut.describe(),
            self.passed.load(Relaxed),
            self.lost.load(Relaxed),
            self.cut_lost.load(Relaxed),
            q + k + f
        )
    }
}

/// The wire's counts, as a `stats` line gives them (both directions together).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    /// Frames carried to the other end.
    pub passed: u64,
    /// Lost at random (`loss`).
    pub lost: u64,
    /// Lost to the cut.
    pub cut: u64,
    /// Dropped by a full queue, by the kernel before the wire read them, or refused by it.
    pub dropped: u64,
}

impl Counts {
    /// The counts in the last line of `wire.log` that has them.
    pub fn parse(log: &str) -> Option<Counts> {
        let line = log.lines().rev().find(|l| l.contains("; passed "))?;
        let counts = line.rsplit_once("; passed ")?.1;
        let num = |key: &str| -> Option<u64> {
            let at = counts.find(key)? + key.len();
            let digits: String = counts[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        };
        Some(Counts {
            passed: counts.split(',').next()?.trim().parse().ok()?,
            lost: num("lost ")?,
            cut: num("cut ")?,
            dropped: num("dropped ").unwrap_or(0),
        })
    }
}

/// A small xorshift generator: the wire's coin and dice (no cryptography needed).
pub struct Dice(u64);

impl Dice {
    /// Seeded from the clock and the process id.
    pub fn new(salt: u64) -> Dice {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Dice(
            (t ^ (u64::from(std::process::id()) << 32) ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                | 1,
        )
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// When a frame read now leaves, or `None` when it is lost. The frame that begins a flap
/// says so on standard error (see [`crate::cut`]).
pub fn schedule(s: &Settings, dice: &mut Dice, now: Instant, frame: &[u8]) -> Option<Instant> {
    let (cut, began) = s.cut.at_read(now, frame);
    if let Some(b) = began {
        heartbeat::error::say(&b.line());
    }
    if cut {
        s.cut_lost.fetch_add(1, Relaxed);
        return None;
    }
    if dice.below(1_000_000) < s.loss_ppm.load(Relaxed) {
        s.lost.fetch_add(1, Relaxed);
        return None;
    }
    let (d, j) = (s.delay_us.load(Relaxed), s.jitter_us.load(Relaxed));
    let us = (d + dice.below(2 * j + 1)).saturating_sub(j);
    Some(now + Duration::from_micros(us))
}

/// Whether a frame scheduled to leave finds room in its direction's queue (`queued` frames
/// wait already): counted in, or dropped and counted as netem drops past its `limit`.
pub fn admit(s: &Settings, queued: &AtomicUsize) -> bool {
    if queued.load(Relaxed) >= LIMIT {
        s.queue_dropped.fetch_add(1, Relaxed);
        return false;
    }
    queued.fetch_add(1, Relaxed);
    true
}

/// Add what the kernel dropped on the wire's packet sockets since the last look.
pub fn count_kernel_drops(s: &Settings, sockets: &[&packet::Raw]) {
    for r in sockets {
        match r.drops() {
            Ok(n) => {
                s.kernel_dropped.fetch_add(n, Relaxed);
            }
            Err(e) => log::debug!("PACKET_STATISTICS: {e}"),
        }
    }
}

/// A frame waiting for its time, earliest first in a [`BinaryHeap`].
struct Due(Instant, u64, Vec<u8>);

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.0, o.1).cmp(&(self.0, self.1)) // reversed: the heap's top is the earliest
    }
}

/// One direction of the wire: every frame read on `from` is written to `to` when its time
/// comes. Runs until a socket fails.
pub fn carry(
    from: Arc<packet::Raw>,
    to: Arc<packet::Raw>,
    s: Arc<Settings>,
    salt: u64,
) -> io::Error {
    let (tx, rx) = crossbeam_channel::unbounded::<(Instant, Vec<u8>)>();
    let settings = Arc::clone(&s);
    // Frames of this direction read and not yet sent: in the channel or the heap.
    let queued = Arc::new(AtomicUsize::new(0));
    let held = Arc::clone(&queued);
    let reader = std::thread::spawn(move || {
        let mut dice = Dice::new(salt);
        let mut buf = vec![0u8; 65_536];
        loop {
            match from.recv(&mut buf) {
                Ok(Some(n)) => {
                    if let Some(at) = schedule(&settings, &mut dice, Instant::now(), &buf[..n]) {
                        if !admit(&settings, &held) {
                            continue;
                        }
                        if tx.send((at, buf[..n].to_vec())).is_err() {
                            return io::Error::other("sender gone");
                        }
                    }
                }
                Ok(None) => {} // a frame this socket sent itself
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return e,
            }
        }
    });
    let mut heap = BinaryHeap::new();
    let mut n = 0u64;
    loop {
        let wait = heap
            .peek()
            .map(|Due(at, _, _)| at.saturating_duration_since(Instant::now()));
        let got = match wait {
            Some(w) => rx.recv_timeout(w).map_err(|e| e.is_disconnected()),
            None => rx.recv().map_err(|_| true),
        };
        match got {
            Ok((at, frame)) => {
                n += 1;
                heap.push(Due(at, n, frame));
            }
            Err(true) => {
                return reader
                    .join()
                    .unwrap_or_else(|_| io::Error::other("reader panicked"))
            }
            Err(false) => {}
        }
        while heap
            .peek()
            .is_some_and(|Due(at, _, _)| *at <= Instant::now())
        {
            let Some(Due(_, _, frame)) = heap.pop() else {
                break;
            };
            queued.fetch_sub(1, Relaxed);
            if s.cut.at_send(Instant::now()) {
                s.cut_lost.fetch_add(1, Relaxed); // on the wire when it was cut
                continue;
            }
            match to.send(&frame) {
                Ok(()) => {
                    s.passed.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    s.send_failed.fetch_add(1, Relaxed);
                    log::debug!("send of {} bytes failed: {e}", frame.len())
                }
            }
        }
    }
}

pub use crate::packet;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_as_netem_does() {
        let s = Settings::default();
        let q = AtomicUsize::new(0);
        assert!((0..LIMIT).all(|_| admit(&s, &q)));
        assert!(!admit(&s, &q), "the 1001st frame finds the queue full");
        assert_eq!(s.queue_dropped.load(Relaxed), 1);
        q.fetch_sub(1, Relaxed);
        assert!(admit(&s, &q));
    }

    #[test]
    fn the_counts_read_back_from_the_stats_line() {
        let s = Settings::default();
        s.passed.store(1234, Relaxed);
        s.lost.store(12, Relaxed);
        s.cut_lost.store(3, Relaxed);
        s.queue_dropped.store(4, Relaxed);
        s.kernel_dropped.store(5, Relaxed);
        let log = format!(
            "[ 0.1] hb_wire: w1 <-> ws: {}\n[ 9.0] hb_wire: stats: {}\n",
            Settings::default().describe(),
            s.describe()
        );
        let c = Counts::parse(&log).unwrap();
        assert_eq!(
            c,
            Counts {
                passed: 1234,
                lost: 12,
                cut: 3,
                dropped: 9
            }
        );
        assert!(s.describe().contains("limit 1000"));
        assert_eq!(Counts::parse("nothing counted here"), None);
    }
}

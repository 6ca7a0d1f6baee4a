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
//! stamps): `cut`, `mend`, `delay MS [JITTER_MS]`, `loss PERCENT`, `stats`. At end of input the
//! wire prints its counts and exits.

use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
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
    /// Cut: every frame is lost, those already on the wire too.
    pub cut: AtomicBool,
    /// Frames passed, lost at random, lost to the cut.
    pub passed: AtomicU64,
    /// Frames lost at random.
    pub lost: AtomicU64,
    /// Frames lost to the cut.
    pub cut_lost: AtomicU64,
}

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
            Some("cut") => self.cut.store(true, Relaxed),
            Some("mend") => self.cut.store(false, Relaxed),
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
                    "unknown command {w:?} (cut, mend, delay, loss, stats)"
                ))
            }
            None => return Err("empty command".into()),
        }
        Ok(self.describe())
    }

    /// `delay 300 ± 100 ms, loss 10 %, up; passed 1234, lost 12, cut 0`.
    pub fn describe(&self) -> String {
        let ms = |a: &AtomicU64| a.load(Relaxed) as f64 / 1000.0;
        format!(
            "delay {} ± {} ms, loss {} %, {}; passed {}, lost {}, cut {}",
            ms(&self.delay_us),
            ms(&self.jitter_us),
            self.loss_ppm.load(Relaxed) as f64 / 10_000.0,
            if self.cut.load(Relaxed) { "cut" } else { "up" },
            self.passed.load(Relaxed),
            self.lost.load(Relaxed),
            self.cut_lost.load(Relaxed)
        )
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

/// When a frame read now leaves, or `None` when it is lost.
pub fn schedule(s: &Settings, dice: &mut Dice, now: Instant) -> Option<Instant> {
    if s.cut.load(Relaxed) {
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
    let reader = std::thread::spawn(move || {
        let mut dice = Dice::new(salt);
        let mut buf = vec![0u8; 65_536];
        loop {
            match from.recv(&mut buf) {
                Ok(Some(n)) => {
                    if let Some(at) = schedule(&settings, &mut dice, Instant::now()) {
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
            if s.cut.load(Relaxed) {
                s.cut_lost.fetch_add(1, Relaxed); // on the wire when it was cut
                continue;
            }
            match to.send(&frame) {
                Ok(()) => {
                    s.passed.fetch_add(1, Relaxed);
                }
                Err(e) => log::debug!("send of {} bytes failed: {e}", frame.len()),
            }
        }
    }
}

/// Raw Ethernet frames on one interface (`AF_PACKET`, Linux only).
pub mod packet {
    use std::io;

    /// A raw `AF_PACKET` socket bound to one interface.
    pub struct Raw {
        fd: i32,
    }

    impl Raw {
        /// Open a raw socket on interface `name` for every protocol (`ETH_P_ALL`).
        #[cfg(target_os = "linux")]
        pub fn open(name: &str) -> io::Result<Raw> {
            let cname = std::ffi::CString::new(name).map_err(io::Error::other)?;
            // SAFETY: plain libc calls on a NUL-terminated name and a zeroed sockaddr_ll.
            unsafe {
                let index = libc::if_nametoindex(cname.as_ptr()) as i32;
                if index == 0 {
                    return Err(io::Error::last_os_error());
                }
                let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
                let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                sll.sll_family = libc::AF_PACKET as u16;
                sll.sll_protocol = proto as u16;
                sll.sll_ifindex = index;
                let len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                if libc::bind(fd, &sll as *const _ as *const libc::sockaddr, len) < 0 {
                    let e = io::Error::last_os_error();
                    libc::close(fd);
                    return Err(e);
                }
                Ok(Raw { fd })
            }
        }

        /// Read one frame: `Some(len)`, or `None` for a frame going out of this interface
        /// (one the wire itself sent: `PACKET_OUTGOING`).
        #[cfg(target_os = "linux")]
        pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
            // SAFETY: buf and sll are valid for the lengths given.
            unsafe {
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(
                    self.fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    &mut sll as *mut _ as *mut libc::sockaddr,
                    &mut len,
                );
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok((sll.sll_pkttype != libc::PACKET_OUTGOING).then_some(n as usize))
            }
        }

        /// Write one whole frame out of the interface.
        #[cfg(target_os = "linux")]
        pub fn send(&self, frame: &[u8]) -> io::Result<()> {
            // SAFETY: frame is valid for its length; the socket is bound to one interface.
            let n = unsafe { libc::send(self.fd, frame.as_ptr().cast(), frame.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Not on this system: `AF_PACKET` is Linux's.
        #[cfg(not(target_os = "linux"))]
        pub fn open(_name: &str) -> io::Result<Raw> {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "raw Ethernet frames (AF_PACKET) need Linux",
            ))
        }

        /// Not on this system.
        #[cfg(not(target_os = "linux"))]
        pub fn recv(&self, _buf: &mut [u8]) -> io::Result<Option<usize>> {
            Err(io::ErrorKind::Unsupported.into())
        }

        /// Not on this system.
        #[cfg(not(target_os = "linux"))]
        pub fn send(&self, _frame: &[u8]) -> io::Result<()> {
            let _ = self.fd;
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    impl Drop for Raw {
        fn drop(&mut self) {
            #[cfg(target_os = "linux")]
            // SAFETY: fd is ours and closed once.
            unsafe {
                libc::close(self.fd);
            }
        }
    }
}

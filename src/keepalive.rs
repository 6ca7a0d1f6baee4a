//! Kernel keepalive: seed 000 §1 (`SO_KEEPALIVE`, `TCP_KEEPIDLE`/`TCP_KEEPINTVL`/`TCP_KEEPCNT`),
//! seed 001 (the three fates of a probed peer, and the 2 h 11 min 15 s default), seed 002
//! (keepalive on a dedicated link so a backup takes over), seed 003 (the `heartbeat(fd)`
//! helper) and seed 004 (Windows' `SIO_KEEPALIVE_VALS`).
//!
//! With `SO_KEEPALIVE` on, a connection that has been idle for `idle` seconds gets a probe:
//! an empty segment the peer's kernel must ACK. Unanswered, a probe is repeated every
//! `interval`; after `probes` of them the kernel ends the connection with `ETIMEDOUT`. A peer
//! whose kernel has forgotten the connection (it rebooted) answers with RST: `ECONNRESET`.
//! A peer *process* that hangs is not noticed at all — its kernel still ACKs — which is why
//! the articles also build an application heartbeat. The detection bound is
//! `idle + interval × probes`; with Linux's defaults (`/proc/sys/net/ipv4/tcp_keepalive_time`,
//! `_intvl`, `_probes` = 7200, 75, 9) that is 2 h 11 min 15 s.
//!
//! The options are set through `socket2::TcpKeepalive`, so the same call becomes
//! `setsockopt(TCP_KEEPIDLE …)` on Linux, `TCP_KEEPALIVE` on macOS and the
//! `WSAIoctl(SIO_KEEPALIVE_VALS)` of seed 004 on Windows (which takes milliseconds and has no
//! probe count before Windows 10 1703: there the count is reported as unsupported and the
//! program goes on). The values are read back after setting: what the kernel took, not what
//! was asked.
//!
//! Keepalive only probes an *idle* connection. When data is waiting to be sent and is not
//! acknowledged, retransmission rules apply instead (up to ~15 minutes on Linux);
//! `TCP_USER_TIMEOUT` bounds that, and the recommended value is the keepalive bound itself
//! (Cloudflare, "When TCP sockets refuse to die").

mod os;

pub use os::Defaults;
use std::fmt;
use std::io;
use std::net::TcpStream;
use std::time::Duration;

/// Keepalive timings (seed 000's `keepidle`, `keepinterval`, `keepcount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `TCP_KEEPIDLE`: idle time before the first probe.
    pub idle: Duration,
    /// `TCP_KEEPINTVL`: time between probes.
    pub interval: Duration,
    /// `TCP_KEEPCNT`: unanswered probes before the connection is dropped.
    pub probes: u32,
}

impl Settings {
    /// `idle + interval × probes`: how long after the last byte a vanished peer is reported.
    pub fn bound(&self) -> Duration {
        self.idle + self.interval * self.probes
    }

    /// The bound under Linux's `TCP_USER_TIMEOUT` `u`: probes go out at `idle`, `idle +
    /// interval`, …; the first probe time at least `u` after the last byte, once one probe
    /// went unanswered, drops the connection, whatever the probe count
    /// (`tcp_keepalive_timer`).
    pub fn bound_with_user_timeout(&self, u: Duration) -> Duration {
        let first = self.idle + self.interval;
        if u <= first || self.interval.is_zero() {
            return first;
        }
        let ticks = (u - self.idle)
            .as_nanos()
            .div_ceil(self.interval.as_nanos());
        self.idle + self.interval * ticks.min(u32::MAX as u128) as u32
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "idle {} s, interval {} s, probes {}",
            self.idle.as_secs(),
            self.interval.as_secs(),
            self.probes
        )
    }
}

/// `2 h 11 min 15 s` for 7875 s, as seed 001 writes it.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min {s} s"),
    }
}

/// The system-wide defaults, from the system's own source (`keepalive/os.rs`): on Linux
/// `/proc/sys/net/ipv4/tcp_keepalive_{time,intvl,probes}`.
#[doc(alias = "tcp_keepalive_time")]
pub fn system_defaults() -> io::Result<Defaults> {
    os::defaults()
}

/// What the kernel reports after setting; `Err` where the system cannot tell (Windows before
/// 10 1709, and Wine, cannot read the timings back).
#[derive(Debug)]
pub struct Effective {
    /// `SO_KEEPALIVE` read back.
    pub enabled: io::Result<bool>,
    /// `TCP_KEEPIDLE` read back.
    pub idle: io::Result<Duration>,
    /// `TCP_KEEPINTVL` read back.
    pub interval: io::Result<Duration>,
    /// `TCP_KEEPCNT` read back.
    pub probes: io::Result<u32>,
}

impl Effective {
    /// The read-back values as [`Settings`], when all three could be read.
    pub fn settings(&self) -> Option<Settings> {
        match (&self.idle, &self.interval, &self.probes) {
            (Ok(i), Ok(v), Ok(p)) => Some(Settings {
                idle: *i,
                interval: *v,
                probes: *p,
            }),
            _ => None,
        }
    }
}

/// Read `SO_KEEPALIVE` and the three timings back from the socket.
pub fn read_back(s: &TcpStream) -> Effective {
    let sock = socket2::SockRef::from(s);
    Effective {
        enabled: sock.keepalive(),
        idle: os::idle_of(s),
        interval: os::interval_of(s),
        probes: sock.tcp_keepalive_retries(),
    }
}

/// Turn keepalive on with `want` (seed 000's four `setsockopt` calls; seed 004's `WSAIoctl`).
/// Returns a note when the probe count could not be set (old Windows) and the rest was.
#[doc(alias = "heartbeat")]
#[doc(alias = "SIO_KEEPALIVE_VALS")]
pub fn enable(s: &TcpStream, want: &Settings) -> io::Result<Option<String>> {
    let sock = socket2::SockRef::from(s);
    sock.set_keepalive(true)?;
    let timings = socket2::TcpKeepalive::new()
        .with_time(want.idle)
        .with_interval(want.interval);
    match sock.set_tcp_keepalive(&timings.clone().with_retries(want.probes)) {
        Ok(()) => Ok(None),
        Err(e) if cfg!(windows) => {
            sock.set_tcp_keepalive(&timings)?;
            Ok(Some(format!(
                "TCP_KEEPCNT not set: {}; the system's probe count applies",
                crate::error::describe(&e)
            )))
        }
        Err(e) => Err(e),
    }
}

/// Set `TCP_USER_TIMEOUT` (Linux; `os::USER_TIMEOUT` elsewhere): the longest sent data may
/// stay unacknowledged.
pub fn set_user_timeout(s: &TcpStream, timeout: Duration) -> io::Result<()> {
    os::set_user_timeout(s, timeout)
}

/// Read `TCP_USER_TIMEOUT` back (`None`: the system's retransmission rules apply).
pub fn user_timeout_of(s: &TcpStream) -> io::Result<Option<Duration>> {
    os::user_timeout_of(s)
}

/// How the kernel ended a connection the program only read from.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// `ETIMEDOUT` (Windows: `WSAENETRESET`): probes (or data) went unanswered: the peer is
    /// gone.
    TimedOut,
    /// `ECONNRESET`: the peer's kernel does not know the connection: it rebooted.
    Reset,
    /// EOF: the peer closed (its process ended: the kernel sent FIN).
    Terminated,
    /// Anything else.
    Other,
}

impl Ending {
    /// Classify the result of the `read` that ended the connection.
    pub fn of(result: &io::Result<usize>) -> Ending {
        match result {
            Ok(0) => Ending::Terminated,
            Ok(_) => Ending::Other,
            Err(e) if os::is_keepalive_failure(e) => Ending::TimedOut,
            Err(e) => match e.kind() {
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Ending::Reset,
                _ => Ending::Other,
            },
        }
    }
}

/// Turn keepalive on with `want` and, if asked, `TCP_USER_TIMEOUT`; return the lines a
/// program prints about it: what was asked, what the kernel reports back, the bound that
/// really applies, and a note for each option this system lacks (the program goes on).
pub fn apply(
    s: &TcpStream,
    want: &Settings,
    user_timeout: Option<Duration>,
) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    let count_note = enable(s, want)?;
    let count_set = count_note.is_none();
    lines.extend(count_note);
    let back = read_back(s);
    let shown = |r: &io::Result<Duration>| match r {
        Ok(d) => format!("{} s", d.as_secs()),
        Err(_) => "?".to_string(),
    };
    let probes = back
        .probes
        .as_ref()
        .map_or("?".to_string(), |p| p.to_string());
    lines.push(format!(
        "keepalive on: {want}; read back: idle {}, interval {}, probes {probes}",
        shown(&back.idle),
        shown(&back.interval)
    ));
    // What applies: the value read back; else what was set; else (a count the system
    // refused) the system's own count.
    let applies = Settings {
        idle: *back.idle.as_ref().unwrap_or(&want.idle),
        interval: *back.interval.as_ref().unwrap_or(&want.interval),
        probes: match (&back.probes, count_set) {
            (Ok(p), _) => *p,
            (Err(_), true) => want.probes,
            (Err(_), false) => system_defaults().map_or(want.probes, |d| d.settings.probes),
        },
    };
    let mut user = None;
    if let Some(t) = user_timeout {
        let name = os::USER_TIMEOUT;
        // Linux takes milliseconds; the equivalents elsewhere whole seconds.
        let shown = |d: Duration| match cfg!(any(target_os = "linux", target_os = "android")) {
            true => format!("{} ms", d.as_millis()),
            false => format!("{} s", d.as_secs_f64().ceil()),
        };
        match set_user_timeout(s, t).and_then(|()| user_timeout_of(s)) {
            Ok(back) => {
                user = back;
                let back = shown(back.unwrap_or_default());
                lines.push(format!("{name} {}; read back {back}", shown(t)));
            }
            Err(e) => lines.push(format!(
                "{name} not set: {}; going on without it",
                crate::error::describe(&e)
            )),
        }
    }
    lines.push(match user.filter(|_| os::USER_TIMEOUT_ENDS_PROBES) {
        Some(u) => format!(
            "a vanished peer is reported {} s after the last byte (the first probe at least {} {} s after it)",
            applies.bound_with_user_timeout(u).as_secs(),
            os::USER_TIMEOUT,
            u.as_secs_f64()
        ),
        None => format!(
            "a vanished peer is reported {} s after the last byte (idle + interval × probes)",
            applies.bound().as_secs()
        ),
    });
    Ok(lines)
}

/// Block reading `s` until the kernel ends the connection, handing every piece read to
/// `heard` (`ka_server` stamps its clients' last byte, `ka_client` keeps what a server said
/// before it closed); return how, the `read` result, and the time since the last byte (or
/// since the call, when nothing came). This is the whole life of seed 002's keepalive link.
pub fn wait_for_end(
    s: &TcpStream,
    mut heard: impl FnMut(&[u8]),
) -> (Ending, io::Result<usize>, Duration) {
    use std::io::Read;
    let mut last = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        let r = (&mut &*s).read(&mut buf);
        match r {
            Ok(n) if n > 0 => {
                log::debug!("read {n} bytes");
                heard(&buf[..n]);
                last = std::time::Instant::now();
            }
            Err(ref e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return (Ending::of(&r), r, last.elapsed()),
        }
    }
}

/// `--write SECS[,BYTES]`: send `bytes` every `every` on a thread of its own, so the program
/// is a busy peer. Why the lab needs one (Cloudflare, "When TCP sockets refuse to die"): the
/// kernel sends keepalive probes only on an idle connection; while data waits to be
/// acknowledged it retransmits instead, for about 15 minutes (`tcp_retries2`), unless
/// `TCP_USER_TIMEOUT` bounds it. The thread stops at the first failed write; the reader
/// reports how the connection ended.
pub fn keep_writing(s: &TcpStream, every: Duration, bytes: usize) -> io::Result<()> {
    use std::io::Write;
    let mut out = s.try_clone()?;
    let data = vec![b'x'; bytes];
    std::thread::spawn(move || loop {
        std::thread::sleep(every);
        if let Err(e) = out.write_all(&data) {
            log::debug!("write stopped: {e}");
            return;
        }
        log::debug!("wrote {bytes} bytes");
    });
    Ok(())
}

/// The line for an ending: `connection timed out: Connection timed out (110), 3.046 s after
/// the last byte`; `peer` names the other side for EOF (`server terminated, …`).
pub fn describe_end(ending: &Ending, r: &io::Result<usize>, since: Duration, peer: &str) -> String {
    let after = format!("{:.3} s after the last byte", since.as_secs_f64());
    let why = |e: &io::Error| crate::error::describe(e);
    match (ending, r) {
        (Ending::TimedOut, Err(e)) => format!("connection timed out: {}, {after}", why(e)),
        (Ending::Reset, Err(e)) => format!("connection reset: {}, {after}", why(e)),
        (Ending::Terminated, _) => format!("{peer} terminated, {after}"),
        (_, Err(e)) => format!("recv failure: {}, {after}", why(e)),
        (_, Ok(n)) => format!("read returned {n}, {after}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_default_bound_is_2_h_11_min_15_s() {
        let d = Settings {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            probes: 9,
        };
        assert_eq!(d.bound(), Duration::from_secs(7875));
        assert_eq!(human(d.bound()), "2 h 11 min 15 s");
        assert_eq!(human(Duration::from_secs(75)), "1 min 15 s");
        assert_eq!(human(Duration::from_secs(3)), "3 s");
    }

    #[test]
    fn user_timeout_bound_is_the_first_probe_past_it() {
        let s = |idle, interval, probes| Settings {
            idle: Duration::from_secs(idle),
            interval: Duration::from_secs(interval),
            probes,
        };
        let secs = Duration::from_secs;
        // Issue 11's measurement: idle 2, interval 1, 10 s user timeout: 10 s.
        assert_eq!(s(2, 1, 2).bound_with_user_timeout(secs(10)), secs(10));
        // Between two probes: the next probe.
        assert_eq!(s(2, 3, 2).bound_with_user_timeout(secs(10)), secs(11));
        // Shorter than idle: one probe must have gone unanswered first.
        assert_eq!(s(5, 2, 9).bound_with_user_timeout(secs(1)), secs(7));
        assert_eq!(s(7, 3, 4).bound_with_user_timeout(secs(19)), secs(19));
    }
}

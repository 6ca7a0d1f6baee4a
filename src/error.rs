//! The article's `error()` function and its line formats (seed 000, every `hb_*.c`).
//!
//! Each C program carries its own copy of
//!
//! ```c
//! static void error( int status, int err, char *fmt, ... )
//! ```
//!
//! which prints `program_name: ` and the message to stderr, then, when `err` is non-zero,
//! `: strerror(err) (err)`, and exits with `status` when it is non-zero. That gives the two
//! line shapes students see in the lab:
//!
//! ```text
//! hb_client: connection dead
//! hb_client: connect failed: Connection refused (111)
//! ```
//!
//! This module keeps those shapes. The program name is set once by [`crate::cli`] (the
//! C `INIT()` macro); `-t` prefixes each line with the seconds since start, so detection
//! times can be read straight off the output. Library functions that fail in an OS call
//! wrap the `io::Error` with the C text of the failing step ([`context`]), so that
//! `tcp_client` failing prints `hb_client: connect failed: Connection refused (111)`, in the
//! programs' own shape. The C helpers in `readn.c` differ there: they call glibc's
//! `error(3)`, which prints the name as invoked and no errno (`./hb_client: connect failed:
//! Connection refused`), and a blank line after `unknown host: X` (the article's message
//! ends in `\n`). README, "The programs and their C originals", says so.

use std::fmt;
use std::io;
use std::sync::OnceLock;
use std::time::Instant;

static PROGRAM_NAME: OnceLock<String> = OnceLock::new();
static START: OnceLock<Instant> = OnceLock::new();
static TIMESTAMPS: OnceLock<bool> = OnceLock::new();
static EPOCH: OnceLock<f64> = OnceLock::new();

/// Set the program name (the C `INIT()` macro: `strrchr(argv[0], '/')`) and start the clock
/// used by `-t`. Later calls keep the first name.
#[doc(alias = "INIT")]
pub fn init(program_name: &str, timestamps: bool) {
    let name = program_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(program_name);
    let _ = PROGRAM_NAME.set(name.to_string());
    let _ = START.set(Instant::now());
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let _ = EPOCH.set(since_epoch.map_or(0.0, |d| d.as_secs_f64()));
    let _ = TIMESTAMPS.set(timestamps);
    crate::stderr::set_prefix(prefix);
}

/// The wall-clock time of `-t`'s zero, in seconds since the Unix epoch: the lab lines a
/// program's stamps up with the faults it makes and the packets it captures.
pub fn clock_zero() -> f64 {
    EPOCH.get().copied().unwrap_or(0.0)
}

/// The program name set by [`init`] (`heartbeat` before that).
pub fn program_name() -> &'static str {
    PROGRAM_NAME
        .get()
        .map(String::as_str)
        .unwrap_or("heartbeat")
}

/// Seconds since [`init`], for the `-t` prefix.
pub fn elapsed() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// The prefix every line starts with: `[  2.003] ` when `-t` is on, then `PROG: `.
pub fn prefix() -> String {
    if TIMESTAMPS.get().copied().unwrap_or(false) {
        format!("[{:8.3}] {}: ", elapsed(), program_name())
    } else {
        format!("{}: ", program_name())
    }
}

/// The C library's `strerror(errno)` text, without Rust's ` (os error N)` suffix.
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // Windows systems without the Winsock message table (Wine) give only the number.
    if text.starts_with("OS Error ") {
        if let Some(name) = winsock_name(errno) {
            return name.to_string();
        }
    }
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The Winsock error names the programs can meet, for systems that have no text for them.
fn winsock_name(code: i32) -> Option<&'static str> {
    Some(match code {
        10004 => "WSAEINTR",
        10035 => "WSAEWOULDBLOCK",
        10042 => "WSAENOPROTOOPT: option not supported",
        10048 => "WSAEADDRINUSE: address already in use",
        10050 => "WSAENETDOWN: network is down",
        10051 => "WSAENETUNREACH: network is unreachable",
        10052 => "WSAENETRESET: connection broken by keep-alive",
        10053 => "WSAECONNABORTED: connection aborted",
        10054 => "WSAECONNRESET: connection reset by peer",
        10057 => "WSAENOTCONN: socket not connected",
        10060 => "WSAETIMEDOUT: connection timed out",
        10061 => "WSAECONNREFUSED: connection refused",
        10065 => "WSAEHOSTUNREACH: no route to host",
        _ => return None,
    })
}

/// An OS error with the C text of the step that failed (`connect failed`), printed as
/// `connect failed: Connection refused (111)`.
#[derive(Debug)]
pub struct Context {
    /// What was being done, in the C program's words.
    pub what: String,
    /// The underlying error.
    pub source: io::Error,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, describe(&self.source))
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Wrap `e` with the C text of the failing step. The kind is kept, so callers can still
/// match on `ErrorKind`; [`os_errno`] still finds the errno.
pub fn context(e: io::Error, what: impl Into<String>) -> io::Error {
    io::Error::new(
        e.kind(),
        Context {
            what: what.into(),
            source: e,
        },
    )
}

/// The errno behind `e`, looking through [`context`] wrappers.
pub fn os_errno(e: &io::Error) -> Option<i32> {
    if let Some(n) = e.raw_os_error() {
        return Some(n);
    }
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Context>())
        .and_then(|c| os_errno(&c.source))
}

/// An ending named by what happened, where the errno would mislead: printed alone, in place
/// of the C's `send failure: strerror (errno)` ([`failure_line`]).
#[derive(Debug)]
pub struct Named(pub String);

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Named {}

/// A send on `s` that failed: if it was its send timeout (`SO_SNDTIMEO` makes a blocking
/// send fail with `EAGAIN`, which `strerror` calls "Resource temporarily unavailable"), the
/// ending it is, `send timed out: the peer took nothing for 2.500 s`; any other error as is.
pub fn send_timeout(e: io::Error, s: &std::net::TcpStream) -> io::Error {
    if !matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return e;
    }
    let after = match s.write_timeout() {
        Ok(Some(t)) => format!(": the peer took nothing for {:.3} s", t.as_secs_f64()),
        _ => String::new(),
    };
    io::Error::new(
        io::ErrorKind::TimedOut,
        Named(format!("send timed out{after}")),
    )
}

/// An error on a connection the peer reset, where a reader and a writer share the socket
/// (the OOB pair): the kernel reports the reset (`ECONNRESET`) once, to whichever call comes
/// first, and the other thread's next call fails otherwise — a `recv` with `ENOTCONN`
/// ("Transport endpoint is not connected": closed without a FIN), a `send` with `EPIPE`
/// ("Broken pipe"; the writer sends nothing after its own half-close). Either is the reset,
/// and is said as `ECONNRESET`, whichever thread tells the monitor first. Any other error
/// as is.
pub fn after_reset(e: io::Error) -> io::Error {
    #[cfg(unix)]
    if matches!(e.raw_os_error(), Some(libc::ENOTCONN | libc::EPIPE)) {
        return reset();
    }
    e
}

/// The reset as the reader would have met it: `Connection reset by peer (104)`.
pub fn reset() -> io::Error {
    #[cfg(unix)]
    return io::Error::from_raw_os_error(libc::ECONNRESET);
    #[cfg(not(unix))]
    io::ErrorKind::ConnectionReset.into()
}

/// The line for a failed step: `what: strerror (errno)` as the C `error()`, or a [`Named`]
/// ending alone (`send timed out: …`).
pub fn failure_line(what: &str, e: &io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Named>()) {
        Some(named) => named.0.clone(),
        None if what.is_empty() => describe(e),
        None => format!("{what}: {}", describe(e)),
    }
}

/// `e` as the C `error()` prints it after the message: `strerror (errno)` for an OS error,
/// `what: strerror (errno)` for a [`context`] error, the error's own text otherwise.
pub fn describe(e: &io::Error) -> String {
    if let Some(n) = e.raw_os_error() {
        return format!("{} ({n})", strerror(n));
    }
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}

/// Print one line, `PROG: text`, to stderr (one write, so lines from several connection
/// threads never interleave), without waiting: through [`crate::stderr`]'s queue, so a
/// stderr that does not drain never holds up a connection. If stderr is gone, the program
/// ends as the C does ([`output_gone`]).
pub fn say(text: &str) {
    crate::stderr::line(format!("{}{text}\n", prefix()).into_bytes());
}

/// A program's last line before it exits: [`say`], but waiting (a bounded time) for room.
fn say_last(text: &str) {
    crate::stderr::last(format!("{}{text}\n", prefix()).into_bytes());
}

/// `exit(status)`, once the lines said before have been written to stderr (waiting at most
/// [`crate::stderr::EXIT_WAIT`]: a stderr that never drains does not keep the program alive).
pub fn exit(status: i32) -> ! {
    crate::stderr::flush(crate::stderr::EXIT_WAIT);
    std::process::exit(status)
}

pub use crate::stderr::output_gone;

/// The C `error(status, err, fmt, ...)`: print `PROG: text` or, with an error,
/// `PROG: text: strerror (errno)`; exit with `status` when it is non-zero.
pub fn error(status: i32, err: Option<&io::Error>, text: &str) {
    let line = match err {
        Some(e) => failure_line(text, e),
        None => text.to_string(),
    };
    if status != 0 {
        say_last(&line);
        exit(status);
    }
    say(&line);
}

/// The lines a server prints about one client: `PROG: PEER: text`.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::SocketAddr);

impl Peer {
    /// `PROG: PEER: text`.
    pub fn say(&self, text: &str) {
        say(&format!("{}: {text}", self.0));
    }

    /// `PROG: PEER: text: strerror (errno)`; the connection's end, so it returns the C
    /// status, 1.
    pub fn fail(&self, e: &io::Error, text: &str) -> i32 {
        self.say(&failure_line(text, e));
        1
    }
}

/// `error(1, …)`: print the line and exit 1. For the fatal paths of the programs.
pub fn die(err: Option<&io::Error>, text: &str) -> ! {
    error(1, err, text);
    exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        not(target_os = "linux"),
        ignore = "needs Linux: errno numbers are Linux's"
    )]
    fn strerror_is_the_c_text() {
        assert_eq!(strerror(111), "Connection refused");
        assert_eq!(strerror(104), "Connection reset by peer");
    }

    #[test]
    #[cfg_attr(
        not(target_os = "linux"),
        ignore = "needs Linux: errno numbers are Linux's"
    )]
    fn context_prints_like_c_error() {
        let e = context(io::Error::from_raw_os_error(111), "connect failed");
        assert_eq!(describe(&e), "connect failed: Connection refused (111)");
        assert_eq!(os_errno(&e), Some(111));
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        let plain = io::Error::new(io::ErrorKind::NotFound, "unknown host: nowhere");
        assert_eq!(describe(&plain), "unknown host: nowhere");
    }
}

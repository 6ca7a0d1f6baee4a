//! `s1 = accept( s, NULL, NULL )` for a server that must not stall when the process runs out
//! of descriptors.
//!
//! When every descriptor is in use, `accept` fails with `EMFILE` and leaves the connection in
//! the listen queue: the client sits connected, unanswered, and the next `accept` fails the
//! same way at once. The C exits (`error( 1, errno, "accept failed" )`); a server for a class
//! must go on, but retrying in a loop only logs the failure ten times a second while clients
//! wait. So [`Gate`] keeps one descriptor in reserve (an open `/dev/null`, as libevent and
//! nginx do): on `EMFILE` it gives the reserve up, accepts the waiting client with it, and
//! takes the reserve back. If that works, descriptors were freed meanwhile and the client is
//! served; if not, the client is turned away at once — closed, with one line — instead of
//! left waiting. A burst of such refusals is logged as its first line and then a count.

use crate::error;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How often a long burst of refusals is summed up.
const SUMMARY_EVERY: Duration = Duration::from_secs(10);
/// A burst ends when no client has come for this long.
const QUIET: Duration = Duration::from_secs(1);

/// The accepting end of a server, with its descriptor in reserve and its refusal count.
pub struct Gate {
    /// Send a refused client the reason as one line ([`crate::net::tell`]).
    tell: bool,
    reserve: Option<File>,
    /// In a burst of refusals: its first line is out.
    burst: bool,
    /// Refusals since the burst's last line, and when that line was written.
    pending: usize,
    said_at: Instant,
}

/// A descriptor to hold in reserve (Unix; elsewhere sockets are not counted this way).
fn reserve() -> Option<File> {
    if cfg!(unix) {
        File::open("/dev/null").ok()
    } else {
        None
    }
}

/// `EMFILE` (this process) or `ENFILE` (the whole system).
fn out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(unix)]
    return matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
    #[cfg(not(unix))]
    return matches!(e.raw_os_error(), Some(10024)); // WSAEMFILE
}

impl Gate {
    /// A gate for a server of many clients: one descriptor held in reserve; `tell`: send a
    /// client refused for want of descriptors the reason as one line.
    pub fn new(tell: bool) -> Gate {
        Gate {
            tell,
            reserve: reserve(),
            burst: false,
            pending: 0,
            said_at: Instant::now(),
        }
    }

    /// A gate as the C's: no reserve, so running out of descriptors is an `accept` failure
    /// (`--once` exits on it).
    pub fn plain() -> Gate {
        Gate {
            reserve: None,
            ..Gate::new(false)
        }
    }

    /// The next client to serve. Clients that cannot get a descriptor are closed here, and
    /// said so; other failures are returned.
    pub fn accept(&mut self, listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            if self.burst && !self.next_within(listener, QUIET) {
                self.burst_over(); // nobody else is waiting: the burst has ended
            }
            let e = match listener.accept() {
                Ok(c) => {
                    self.burst_over();
                    return Ok(c);
                }
                Err(e) if out_of_descriptors(&e) && self.reserve.is_some() => e,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            // Give the reserve up to take the waiting client, then take the reserve back.
            self.reserve = None;
            let taken = listener.accept();
            self.reserve = reserve();
            let (stream, peer) = match taken {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if self.reserve.is_some() {
                // Descriptors were freed meanwhile: serve it.
                self.burst_over();
                return Ok((stream, peer));
            }
            // Still out: turn this client away now, and take the reserve back.
            if self.tell {
                crate::net::tell(&stream, "refused: out of descriptors");
            }
            drop(stream);
            self.reserve = reserve();
            self.refuse(crate::net::canonical(peer), &e);
        }
    }

    /// Whether a client is waiting or comes within `limit` (no descriptor needed to ask).
    fn next_within(&self, listener: &TcpListener, limit: Duration) -> bool {
        let want = crate::sys::Events {
            read: true,
            ..Default::default()
        };
        crate::sys::ready(socket2::SockRef::from(listener), want, Some(limit))
            .map_or(true, |r| r.read)
    }

    /// One client turned away: the first of a burst gets its own line, the rest a count.
    fn refuse(&mut self, peer: SocketAddr, e: &io::Error) {
        if !self.burst {
            error::say(&format!(
                "{peer}: refused: out of descriptors: {}",
                error::describe(e)
            ));
            self.burst = true;
            self.said_at = Instant::now();
            return;
        }
        self.pending += 1;
        log::debug!("{peer}: refused: out of descriptors");
        if self.said_at.elapsed() >= SUMMARY_EVERY {
            self.sum_up();
        }
    }

    /// The burst is over: say how many more were turned away.
    fn burst_over(&mut self) {
        if self.burst {
            self.sum_up();
            self.burst = false;
        }
    }

    fn sum_up(&mut self) {
        if self.pending > 0 {
            error::say(&format!(
                "refused {} more clients while out of descriptors",
                self.pending
            ));
        }
        self.pending = 0;
        self.said_at = Instant::now();
    }
}

//! What a connection's threads share: the types of seed 000's `select` loop that every
//! part of the monitor speaks — which socket (`sdata`, `shb`), which call failed (`recv
//! failure`, `send failure`), what ends a connection — and the one piece of state they share,
//! the time of the last sign of life (the C's `heartbeats = 0; tv = T1` as one atomic store),
//! and what a writer has taken and written (how the peer progresses).
//!
//! The bottom layer of the monitor: [`crate::writer`], [`crate::reader`], [`crate::oob`] and
//! [`crate::monitor`] build on it, and it builds on nothing of theirs.

use crossbeam_channel::Sender;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Stack size of reader and writer threads: they hold a buffer of a few KiB; small stacks
/// let one server hold thousands of connections.
pub(crate) const READER_STACK: usize = 128 * 1024;

/// Where an input came from or an output went (`hb_client1` has two sockets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The data connection (the only one of the in-band and OOB pairs): `sdata`.
    Data,
    /// The separate heartbeat connection of `hb_client1`/`hb_server1`: `shb`.
    Heartbeat,
    /// The program's standard output (`hb_client_oob` prints the echo there).
    Stdout,
}

impl Link {
    /// `sdata` / `shb` (the C variable names, as the programs print them) / `stdout`.
    pub fn c_name(self) -> &'static str {
        match self {
            Link::Data => "sdata",
            Link::Heartbeat => "shb",
            Link::Stdout => "stdout",
        }
    }
}

/// Which way an I/O call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `recv` (or the peer sent what the link may not carry).
    Recv,
    /// `send`: an answer, an echo or output.
    Send,
}

impl Op {
    /// `recv failure` / `send failure`, the C programs' words.
    pub fn failure(self) -> &'static str {
        match self {
            Op::Recv => "recv failure",
            Op::Send => "send failure",
        }
    }
}

/// What ends a connection: all a program must act on (the rest its readers do, as the
/// program's own decision tells them: [`crate::reader::Verdict`]).
#[derive(Debug)]
pub enum Input {
    /// EOF: the peer closed (`recv` returned 0). With [`Reading::Urgent`](crate::reader::Reading::Urgent), it comes after
    /// every byte read before it was written out.
    Closed {
        /// Where.
        link: Link,
        /// Bytes of an unfinished message lost with the close (0 between messages).
        pending: usize,
    },
    /// A `recv` or `send` failed — a reset, a timeout — or the program's decision on what
    /// came ended the connection ([`Verdict::End`](crate::reader::Verdict::End)):
    /// `ErrorKind::InvalidData`, the program's line as the error's text.
    Failed {
        /// Where.
        link: Link,
        /// Which call.
        op: Op,
        /// The error.
        error: io::Error,
    },
}

/// What a connection's readers and writers share with its monitor: when a sign of life
/// last came, and the monitor's thread to wake for an [`Input`].
#[derive(Debug)]
pub(crate) struct Shared {
    epoch: Instant,
    /// Nanoseconds since `epoch` of the last sign of life, plus one (0: none yet).
    last: AtomicU64,
    /// This side shut its writing half (`str_cli` at the end of stdin): no urgent byte can
    /// go out any more, and normal data from the peer counts as its sign of life.
    half_closed: AtomicBool,
    /// Held across our own `shutdown(SHUT_WR)` and the setting of `half_closed`, so that a
    /// reader which meets the peer's FIN in between waits for the flag
    /// ([`Shared::half_closed_settled`]) instead of reading the closed state as a reset.
    half_closing: Mutex<()>,
    /// The connection's one reader blocks in `read` with an early wake-up as its timeout
    /// and wakes the monitor before the window ends: while that holds, the monitor sleeps
    /// without a timer until then.
    cover: AtomicBool,
    /// That reader is writing an echo that did not go out at once (not in `read`).
    writing: AtomicBool,
    /// An urgent probe is out: queued, or answered but not yet read past (its mark not
    /// reached), so a new one would hide it (see [`crate::oob`]).
    urgent_out: AtomicBool,
    monitor: Mutex<Thread>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
            half_closed: AtomicBool::new(false),
            half_closing: Mutex::new(()),
            cover: AtomicBool::new(false),
            writing: AtomicBool::new(false),
            urgent_out: AtomicBool::new(false),
            monitor: Mutex::new(thread::current()),
        }
    }

    /// A sign of life now.
    pub(crate) fn touch(&self) {
        let now = self.epoch.elapsed().as_nanos() as u64 + 1;
        self.last.fetch_max(now, Ordering::Release);
    }

    /// The last sign of life if it is newer than `*seen` (which is then updated).
    pub(crate) fn heard_since(&self, seen: &mut u64) -> Option<Instant> {
        let last = self.last.load(Ordering::Acquire);
        if last == *seen {
            return None;
        }
        *seen = last;
        Some(self.epoch + Duration::from_nanos(last - 1))
    }

    /// Our own half-close: `shutdown` (the `shutdown(SHUT_WR)` call), then the flag, under
    /// one lock. On loopback the peer's FIN can answer ours before the next instruction:
    /// a reader that meets it sees a connection in `TCP_CLOSE` (its TIME_WAIT is kept apart
    /// from the socket), as after a reset, and must know the half-close was ours.
    pub(crate) fn half_close_with(
        &self,
        shutdown: impl FnOnce() -> io::Result<()>,
    ) -> io::Result<()> {
        let _held = self.half_closing.lock().unwrap_or_else(|p| p.into_inner());
        shutdown()?;
        self.half_closed.store(true, Ordering::Release);
        Ok(())
    }

    /// Whether this side has half-closed, after waiting for a half-close under way
    /// ([`Shared::half_close_with`]) to finish: what an end of file is read against.
    pub(crate) fn half_closed_settled(&self) -> bool {
        drop(self.half_closing.lock().unwrap_or_else(|p| p.into_inner()));
        self.half_closed()
    }

    pub(crate) fn half_closed(&self) -> bool {
        self.half_closed.load(Ordering::Acquire)
    }

    pub(crate) fn set_urgent_out(&self, out: bool) {
        self.urgent_out.store(out, Ordering::Release);
    }

    pub(crate) fn urgent_out(&self) -> bool {
        self.urgent_out.load(Ordering::Acquire)
    }

    pub(crate) fn set_cover(&self, on: bool) {
        self.cover.store(on, Ordering::Release);
    }

    /// Whether the reader's read timeout will wake the monitor before the window ends.
    pub(crate) fn covered(&self) -> bool {
        self.cover.load(Ordering::Acquire) && !self.writing.load(Ordering::Acquire)
    }

    /// The reader is (`true`) or is no longer writing an echo that did not go out at once.
    pub(crate) fn set_writing(&self, on: bool) {
        self.writing.store(on, Ordering::Release);
    }

    /// The monitor waits on this thread (set again if the monitor moved to another one).
    pub(crate) fn set_monitor(&self, t: Thread) {
        *self.monitor.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
}

/// Bytes of data a writer was given and has written (its sink took them), and since when
/// its sink has taken nothing while data waited.
#[derive(Debug)]
pub(crate) struct Counts {
    epoch: Instant,
    queued: AtomicU64,
    written: AtomicU64,
    /// Nanoseconds since `epoch` of the last write, or of data queued with none waiting.
    moved: AtomicU64,
}

impl Counts {
    pub(crate) fn new() -> Self {
        Counts {
            epoch: Instant::now(),
            queued: AtomicU64::new(0),
            written: AtomicU64::new(0),
            moved: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    pub(crate) fn queued(&self, n: u64) {
        if self.queued.fetch_add(n, Ordering::AcqRel) <= self.written.load(Ordering::Acquire) {
            self.moved.store(self.now(), Ordering::Release); // none was waiting
        }
    }

    pub(crate) fn wrote(&self, n: u64) {
        self.written.fetch_add(n, Ordering::AcqRel);
        self.moved.store(self.now(), Ordering::Release);
    }

    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    pub(crate) fn backlog(&self) -> u64 {
        let written = self.written();
        self.queued.load(Ordering::Acquire).saturating_sub(written)
    }

    /// Time since the last write, or since data came with none waiting.
    pub(crate) fn since_moved(&self) -> Duration {
        let moved = Duration::from_nanos(self.moved.load(Ordering::Acquire));
        self.epoch.elapsed().saturating_sub(moved)
    }
}

/// A reader's or writer's way to the monitor: the channel, and an unpark of its thread.
#[derive(Clone)]
pub(crate) struct Notify {
    pub(crate) tx: Sender<Input>,
    pub(crate) shared: Arc<Shared>,
}

impl Notify {
    /// Send `input` and wake the monitor; `false` if the monitor has gone.
    pub(crate) fn tell(&self, input: Input) -> bool {
        let sent = self.tx.send(input).is_ok();
        self.wake();
        sent
    }

    /// Wake the monitor to look at its clock.
    pub(crate) fn wake(&self) {
        let monitor = self.shared.monitor.lock();
        monitor.unwrap_or_else(|p| p.into_inner()).unpark();
    }
}

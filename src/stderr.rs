//! stderr's one writer: what `fprintf( stderr, … )` in the C `error()` becomes when many
//! connections share one process.
//!
//! The C programs write each line to stderr from the one thread they have, and a write to a
//! pipe nobody reads (a stuck log collector, a terminal paused with Ctrl-S) blocks that
//! thread: the `select` loop and its clock stop with it. A server of many connections that
//! wrote under the stderr lock from each connection's threads would stop all of them at
//! once, holding their threads and descriptors past their deaths and turning honest clients
//! away as `--max-clients` fills up with connections that cannot end.
//!
//! So no connection's thread writes to stderr. [`line()`] puts the finished line (its `-t`
//! stamp taken when it was said) on a bounded queue of [`LINES`] lines and returns at once;
//! one writer thread, started with the first line, writes them in order, each with one
//! `write`. When the queue is full the line is dropped and counted, and the next line that
//! finds room is preceded by `PROG: N lines dropped: stderr was not draining`, so a reader
//! of the log sees where and how much is missing. Lines are never cut or merged.
//!
//! A program's last line before it exits (`connection dead`, `server terminated`) must
//! not be lost: [`last`] waits up to [`EXIT_WAIT`] for room, and [`crate::error::exit`]
//! waits up to [`EXIT_WAIT`] for the queue to be written before the process ends.
//! Both are bounded: a stderr that never drains does not keep a program from exiting.
//! stderr a closed pipe still ends the program as the C does (killed by `SIGPIPE`,
//! [`output_gone`]).

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Lines waiting for stderr before new ones are dropped: about 1 MB of 100-byte lines, room
/// for a burst of debug lines from a thousand clients (tests/hardening.rs) while the reader of
/// stderr catches up.
pub const LINES: usize = 8192;

/// How long a program's last line may wait for room, and its exit for the queue to drain.
pub const EXIT_WAIT: Duration = Duration::from_secs(2);

enum Item {
    Line(Vec<u8>),
    Dropped(u64),
}

struct Queue {
    tx: Sender<Item>,
    /// Lines dropped since the last note about it.
    dropped: AtomicU64,
    /// Items queued so far; items written so far (under the lock, for [`flush`]).
    queued: AtomicU64,
    written: Mutex<u64>,
    progress: Condvar,
}

static QUEUE: OnceLock<Option<Queue>> = OnceLock::new();

/// The queue, its writer started on first use; `None` if no thread could be started (the
/// lines are then written directly, as before).
fn queue() -> Option<&'static Queue> {
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = bounded(LINES);
            let started = std::thread::Builder::new()
                .name("stderr".into())
                .stack_size(64 * 1024)
                .spawn(move || write_out(rx));
            started.ok().map(|_| Queue {
                tx,
                dropped: AtomicU64::new(0),
                queued: AtomicU64::new(0),
                written: Mutex::new(0),
                progress: Condvar::new(),
            })
        })
        .as_ref()
}

/// The writer thread: each item with one `write_all`, in order.
fn write_out(rx: Receiver<Item>) {
    for item in rx {
        let bytes = match item {
            Item::Line(b) => b,
            Item::Dropped(n) => dropped_note(n),
        };
        put(&bytes);
        if let Some(q) = QUEUE.get().and_then(Option::as_ref) {
            let mut w = q.written.lock().unwrap_or_else(|p| p.into_inner());
            *w += 1;
            q.progress.notify_all();
        }
    }
}

/// How every line starts (`PROG: `, after the `-t` stamp): [`crate::error::prefix`], handed
/// in by [`crate::error::init`] so that this layer needs nothing above it.
static PREFIX: OnceLock<fn() -> String> = OnceLock::new();

/// Set how the note of dropped lines starts, as every other line does.
pub fn set_prefix(prefix: fn() -> String) {
    let _ = PREFIX.set(prefix);
}

fn dropped_note(n: u64) -> Vec<u8> {
    let s = if n == 1 { "" } else { "s" };
    let prefix = PREFIX.get().map_or_else(String::new, |f| f());
    format!("{prefix}{n} line{s} dropped: stderr was not draining\n").into_bytes()
}

/// Write to stderr itself; a closed pipe ends the program as the C's would.
fn put(bytes: &[u8]) {
    if let Err(e) = io::stderr().lock().write_all(bytes) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            output_gone();
        }
    }
}

/// stdout or stderr is a pipe whose reader has gone (`./hb_client … 2>&1 | head -1`): end
/// the way the C program does, killed by `SIGPIPE` (status 141 in the shell). Rust ignores
/// `SIGPIPE` so that a write returns `EPIPE`; only here is it let through, so a socket whose
/// peer has gone still ends just its connection.
#[doc(alias = "SIGPIPE")]
pub fn output_gone() -> ! {
    crate::sys::default_sigpipe();
    crate::sys::raise_sigpipe();
    std::process::exit(141)
}

impl Queue {
    /// Queue `item`, waiting up to `wait` for room; `false` if there was none.
    fn send(&self, item: Item, wait: Duration) -> bool {
        let sent = if wait.is_zero() {
            self.tx
                .try_send(item)
                .map_err(|e| matches!(e, TrySendError::Full(_)))
        } else {
            self.tx.send_timeout(item, wait).map_err(|e| e.is_timeout())
        };
        match sent {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::SeqCst);
                true
            }
            Err(_) => false,
        }
    }

    /// Queue `bytes` (one line), after the note of what was dropped before it.
    fn push(&self, bytes: Vec<u8>, wait: Duration) {
        let n = self.dropped.swap(0, Ordering::SeqCst);
        if n > 0 && !self.send(Item::Dropped(n), wait) {
            self.dropped.fetch_add(n + 1, Ordering::SeqCst);
            return;
        }
        if !self.send(Item::Line(bytes), wait) {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Write one finished line (with its `\n`) to stderr without waiting: queued, or dropped and
/// counted when [`LINES`] lines are already waiting.
#[doc(alias = "fprintf")]
pub fn line(bytes: Vec<u8>) {
    match queue() {
        Some(q) => q.push(bytes, Duration::ZERO),
        None => put(&bytes),
    }
}

/// [`line()`] for a program's last line: waits up to [`EXIT_WAIT`] for room.
pub fn last(bytes: Vec<u8>) {
    match queue() {
        Some(q) => q.push(bytes, EXIT_WAIT),
        None => put(&bytes),
    }
}

/// Wait until every queued line is written (and the count of dropped ones, if any is still
/// untold), at most `limit`; `true` if it all went.
pub fn flush(limit: Duration) -> bool {
    let Some(q) = QUEUE.get().and_then(Option::as_ref) else {
        return true; // nothing was ever queued
    };
    let end = Instant::now() + limit;
    let n = q.dropped.swap(0, Ordering::SeqCst);
    if n > 0 && !q.send(Item::Dropped(n), limit) {
        return false;
    }
    let target = q.queued.load(Ordering::SeqCst);
    let mut w = q.written.lock().unwrap_or_else(|p| p.into_inner());
    while *w < target {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        w = q
            .progress
            .wait_timeout(w, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    true
}

/// A `Write` for `env_logger`'s `Target::Pipe`: each record (one `write_all` of the whole
/// formatted line) becomes one queued line, so debug lines and `PROG: text` lines keep their
/// order and neither blocks.
pub struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        line(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

//! A connection's writer thread: every write that may block, kept off the two threads that
//! must never block — the monitor, which keeps the deadlines, and the reader, which must
//! keep reading so that every sign of life is stamped when it arrives.
//!
//! In seed 000 one thread does everything, and a `send` that blocks (the peer stopped
//! reading, the send buffer is full) stops the `select` loop and its clock with it. Stevens'
//! OOB programs send from signal handlers, which block the same way. Here what can wait goes
//! to a writer, in order:
//!
//! * echoed data (`hb_server_oob`'s `str_echo`), stdin copied to the server and the echo
//!   printed on stdout (`hb_client_oob`'s `str_cli`), delayed answers (`--reply-delay`);
//! * ahead of all of it, urgent bytes (the OOB heartbeat and its answer): an urgent byte
//!   waits behind at most the one chunk (≤ 4 KiB) being written, never behind a queue.
//!
//! The queue is bounded (16 chunks): whoever fills it is slowed down, as TCP flow control
//! slows the peer. Delayed answers have a lane of their own, sized for rate × delay
//! ([`DELAYED`]): in the queue of 16, each answer waiting out its delay, at most 16 went
//! out per delay and every later heartbeat waited for room before its delay even began
//! (at `--reply-delay 3` and 10 heartbeats a second, 40 answers came up to 5.4 s late, p50
//! 4.2 s). The urgent lane holds one byte: one heartbeat already waiting answers for the
//! next as well. A write that fails is
//! reported to the monitor as [`Input::Failed`] with [`Op::Send`]. The writer ends when the
//! monitor does (it is told to stop and joined), and a blocked write returns because the
//! monitor shuts the socket down.

use crate::conn::{Counts, Input, Link, Notify, Op, Shared, READER_STACK};
use crossbeam_channel::{
    bounded, select_biased, Receiver, RecvTimeoutError, SendTimeoutError, Sender,
};
use log::debug;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Chunks a writer holds before whoever feeds it has to wait.
const QUEUE: usize = 16;

/// Delayed answers a writer holds ([`Writer::later`]): every answer due within the delay
/// must be held at once, so this bounds rate × delay (1024: 10 a second for 102 s, 100 a
/// second for 10 s); beyond it the reader waits for room, as TCP slows the peer.
pub const DELAYED: usize = 1024;

/// A delayed answer: when it is due, and its bytes (shared with the answer before it when
/// they are the same, so that a steady heartbeat costs a pointer an answer, not a message).
type Due = (Instant, Arc<[u8]>);

/// Where a writer writes.
#[derive(Clone, Debug)]
pub enum Sink {
    /// A socket, shared with its reader (one descriptor).
    Socket(Arc<TcpStream>),
    /// Standard output.
    Stdout,
}

enum Item {
    Data(Vec<u8>),
    HalfClose,
    Then(Input),
}

/// A handle on a writer thread (cheap to clone; the thread belongs to the monitor that made
/// it, see [`Monitor::writer`](crate::monitor::Monitor::writer)).
#[derive(Clone, Debug)]
pub struct Writer {
    urgent: Sender<u8>,
    items: Sender<Item>,
    delayed: Sender<Due>,
    last_due: Arc<Mutex<Option<Arc<[u8]>>>>,
    shared: Arc<Shared>,
    counts: Arc<Counts>,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("writer item")
    }
}

impl Writer {
    /// Start a writer on `sink`, named `NAME`; it reports failures through `to` and ends
    /// when `stop`'s sender is dropped.
    pub(crate) fn spawn(
        name: String,
        sink: Sink,
        to: Notify,
        stop: Receiver<()>,
    ) -> io::Result<(Writer, JoinHandle<()>)> {
        let (urgent, urgent_rx) = bounded(1);
        let (items, items_rx) = bounded(QUEUE);
        let (delayed, delayed_rx) = bounded(DELAYED);
        let counts = Arc::new(Counts::new());
        let w = Writer {
            urgent,
            items,
            delayed,
            last_due: Arc::new(Mutex::new(None)),
            shared: to.shared.clone(),
            counts: counts.clone(),
        };
        let run = Run { sink, to, counts };
        let h = thread::Builder::new()
            .name(name)
            .stack_size(READER_STACK)
            .spawn(move || run.serve(stop, urgent_rx, items_rx, delayed_rx))?;
        Ok((w, h))
    }

    /// Queue urgent byte `c` ahead of all data, without waiting: `false` when the previous
    /// one is still waiting (the peer is not taking data) or the writer has ended.
    #[doc(alias = "MSG_OOB")]
    pub fn urgent(&self, c: u8) -> bool {
        self.urgent.try_send(c).is_ok()
    }

    /// Queue `data`, waiting while the queue is full; `false` when the writer has ended.
    pub fn data(&self, data: Vec<u8>) -> bool {
        let n = data.len() as u64;
        let sent = self.items.send(Item::Data(data)).is_ok();
        if sent {
            self.counts.queued(n);
        }
        sent
    }

    /// Queue `data`, waiting up to `limit` for room; give it back if there was none
    /// (`Err(Some)`), or `Err(None)` when the writer has ended.
    pub(crate) fn data_within(
        &self,
        data: Vec<u8>,
        limit: Duration,
    ) -> Result<(), Option<Vec<u8>>> {
        let n = data.len() as u64;
        match self.items.send_timeout(Item::Data(data), limit) {
            Ok(()) => {
                self.counts.queued(n);
                Ok(())
            }
            Err(SendTimeoutError::Timeout(Item::Data(d))) => Err(Some(d)),
            Err(_) => Err(None),
        }
    }

    /// Write `data` at `at` (a delayed answer, `at` no earlier than the one before): each
    /// goes out when due, however many are due within the delay, up to [`DELAYED`] held at
    /// once (beyond, this waits for room).
    pub fn later(&self, at: Instant, data: &[u8]) {
        let bytes = {
            let mut last = self.last_due.lock().unwrap_or_else(|p| p.into_inner());
            match &*last {
                Some(same) if **same == *data => same.clone(),
                _ => last.insert(Arc::from(data)).clone(),
            }
        };
        let _ = self.delayed.send((at, bytes));
    }

    /// After what is queued, `shutdown(SHUT_WR)` (`str_cli` at the end of stdin).
    #[doc(alias = "shutdown")]
    pub(crate) fn half_close(&self) {
        let _ = self.items.send(Item::HalfClose);
    }

    /// Bytes of data its sink has taken so far (for a socket, the kernel's send buffer).
    pub fn written(&self) -> u64 {
        self.counts.written()
    }

    /// Bytes of data given to it and not yet taken by its sink.
    pub fn backlog(&self) -> u64 {
        self.counts.backlog()
    }

    /// How long data has waited with the sink taking none of it: for a socket, how long
    /// the peer has not read (`None` while nothing waits).
    pub fn stalled(&self) -> Option<Duration> {
        (self.backlog() > 0).then(|| self.counts.since_moved())
    }

    /// Whether the half-close has been done.
    pub fn half_closed(&self) -> bool {
        self.shared.half_closed()
    }

    /// After what is queued has been written, hand `input` to the monitor (an EOF that must
    /// not overtake the echo of the data before it).
    pub fn then(&self, input: Input) {
        let _ = self.items.send(Item::Then(input));
    }
}

struct Run {
    sink: Sink,
    to: Notify,
    counts: Arc<Counts>,
}

impl Run {
    fn serve(
        self,
        stop: Receiver<()>,
        urgent: Receiver<u8>,
        items: Receiver<Item>,
        delayed: Receiver<Due>,
    ) {
        let mut urgent = Some(urgent);
        loop {
            // The urgent lane first; once every handle has gone, what is queued still goes.
            let lane = urgent.clone().unwrap_or_else(crossbeam_channel::never);
            let done = select_biased! {
                recv(stop) -> _ => true, // the monitor has gone (the sender is never used)
                recv(lane) -> c => match c {
                    Ok(c) => self.send_urgent(c),
                    Err(_) => {
                        urgent = None;
                        false
                    }
                },
                recv(items) -> item => item.map_or(true, |item| self.write(item)),
                recv(delayed) -> due => due.map_or(true, |(at, d)| self.write_at(at, &d, &stop)),
            };
            if done {
                break;
            }
        }
        debug!("writer ended");
    }

    /// Returns `true` when the writer is done.
    fn send_urgent(&self, c: u8) -> bool {
        let Sink::Socket(s) = &self.sink else {
            return false; // stdout has no urgent data; no caller queues any there
        };
        if self.to.shared.half_closed() {
            debug!("no urgent byte after the half-close: the link cannot carry it");
            return false;
        }
        match crate::sys::send_urgent(s, c) {
            Ok(()) => false,
            Err(e) => self.failed(e),
        }
    }

    /// A delayed answer: sleep until `at`, or until the monitor goes (`true`: done).
    fn write_at(&self, at: Instant, d: &[u8], stop: &Receiver<()>) -> bool {
        match stop.recv_deadline(at) {
            Err(RecvTimeoutError::Timeout) => match self.write_all(d, false) {
                Ok(()) => false,
                Err(e) => self.failed(e),
            },
            _ => true,
        }
    }

    fn write(&self, item: Item) -> bool {
        let result = match item {
            Item::Data(d) => self.write_all(&d, true),
            Item::HalfClose => match &self.sink {
                // No urgent byte can go out after it: the echo is the only sign of life.
                Sink::Socket(s) => {
                    let shut = || s.shutdown(Shutdown::Write);
                    self.to.shared.half_close_with(shut).map(|()| {
                        debug!("end of input: half-closed (shutdown SHUT_WR)");
                    })
                }
                Sink::Stdout => Ok(()),
            },
            Item::Then(input) => return !self.to.tell(input),
        };
        match result {
            Ok(()) => false,
            Err(e) => self.failed(e),
        }
    }

    /// Write `d` whole. With `progress`, each write the kernel takes on a socket counts as
    /// a sign of life: with bounded buffers room comes only when the peer's program reads,
    /// so it is the peer's progress (a peer that sends but never reads makes none). Delayed
    /// answers do not count: they would stretch a dead peer's life by the delay.
    fn write_all(&self, d: &[u8], progress: bool) -> io::Result<()> {
        match &self.sink {
            Sink::Socket(s) => {
                let mut rest = d;
                while !rest.is_empty() {
                    match (&**s).write(rest) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => {
                            rest = &rest[n..];
                            self.counts.wrote(n as u64);
                            if progress {
                                self.to.shared.touch();
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let e = crate::error::after_reset(e);
                            return Err(crate::error::send_timeout(e, s));
                        }
                    }
                }
                Ok(())
            }
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(d).and_then(|()| out.flush())?;
                self.counts.wrote(d.len() as u64);
                Ok(())
            }
        }
    }

    fn failed(&self, error: io::Error) -> bool {
        let link = match self.sink {
            Sink::Socket(_) => Link::Data,
            Sink::Stdout => Link::Stdout,
        };
        self.to.tell(Input::Failed {
            link,
            op: Op::Send,
            error,
        });
        true
    }
}

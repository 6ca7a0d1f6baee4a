//! The heartbeat monitor: the `select` loops of seed 000's `hb_client.c`, `hb_server.c`,
//! `hb_client1.c` and `hb_server1.c`, and the `alarm` clock of Stevens' OOB heartbeat
//! (UNP vol. 1 §24.7) — one monitor for all three application heartbeats.
//!
//! The C loop is one state machine:
//!
//! ```c
//! rc = select( s + 1, &readfd, NULL, NULL, &tv );
//! if ( rc == 0 ) {                      /* timed out */
//!     if ( ++heartbeats > 3 ) error( 1, 0, "connection dead\n" );
//!     /* client: send a heartbeat;  server: "missed heartbeat #n" */
//!     tv.tv_sec = T2;
//!     continue;
//! }
//! rc = recv( s, … );                    /* anything at all arrived */
//! heartbeats = 0;
//! tv.tv_sec = T1;                       /* server: T1 + T2 */
//! ```
//!
//! Here a connection has **reader threads** ([`crate::reader`]) that block in `read` and
//! stamp the time of every sign of life, **writer threads** ([`crate::writer`]) for every
//! write that may block, and one **monitor** (its own thread in servers, the main thread in
//! clients) that keeps the deadlines. `heartbeats = 0; tv = T1` is `Monitor::heard`; the
//! `rc == 0` branch is the end of [`Monitor::next_event`]. Three timing rules ([`Rule`]):
//!
//! * **prober** (`hb_client`, `hb_client1`): `idle` after the last byte, then a probe every
//!   `interval`; death `idle + probes × interval` after the last byte;
//! * **answerer** (`hb_server`, `hb_server1`; `hb_server_oob` with no idle): `idle +
//!   interval` first — the client's heartbeat gets an interval to arrive — then `interval`
//!   per missed heartbeat; death `idle + (probes + 1) × interval` after the last byte;
//! * **alarm** (`hb_client_oob`): Stevens' `alarm(nsec)` ticks every `interval` whatever
//!   happens; traffic only resets the count (`nprobes = 0`), so death comes at the tick where
//!   more than `probes` are unanswered, `probes × interval` to `(probes + 1) × interval` after
//!   the last answer.
//!
//! **The clock never waits on I/O.** The monitor's thread sleeps only until its deadline or
//! an input, and never writes anything that can block: the prober's heartbeat goes out with a
//! send that does not wait ([`Monitor::send_heartbeat`]); one that finds no room (the peer
//! stopped reading) counts as an unanswered probe and the count goes on. Echoes, output and
//! delayed answers are written by writer threads; readers never stop reading to answer.
//!
//! **A wake is one sleep.** Readers stamp an atomic time instead of sending each read over
//! the channel, so an answered heartbeat wakes nobody. The monitor sleeps with
//! `thread::park_timeout` and readers `unpark` it after sending an [`Input`] on the
//! `crossbeam-channel` (which the monitor only polls with `try_recv`): one futex wait per
//! wake. (A blocking `recv_deadline` spins and calls `sched_yield` 8 times first.) Where an
//! answerer has one reader, that reader's blocking `read` carries an early wake-up as its
//! timeout, as the C `select` carries its `tv`, and wakes the monitor only when most of the
//! window has passed in silence: while traffic flows the monitor sleeps with no timer at all.
//!
//! **Windows are exact deadlines**, within a few milliseconds at every length. Only hrtimers
//! end them (`park_timeout` is a futex wait), never a socket timeout: the kernel keeps
//! `SO_RCVTIMEO` on its timer wheel, which rounds it up by as much as 1/8 of its length, so
//! the covering reader's timeout is chosen to fire before the deadline even rounded up, and
//! the monitor waits the exact rest itself. The C reuses `tv` after a partial `select`, so a
//! left-over `tv_usec` stretches the next window by up to a second. When the monitor is dropped it
//! shuts the sockets down (blocked readers and writers return), stops its writers and joins
//! every thread: nothing outlives the connection.
//!
//! ```
//! use heartbeat::monitor::{Config, Event, Link, Monitor, Reading, Rule, Verdict};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::Duration;
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let _silent_peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
//! let (conn, peer) = listener.accept().unwrap();
//! let conn = std::sync::Arc::new(conn);
//! let ms = Duration::from_millis;
//! let config = Config { rule: Rule::Prober { idle: ms(40) }, interval: ms(20), probes: 2 };
//! let mut mon = Monitor::new(config, &peer.to_string());
//! mon.watch(Link::Data, &conn, Reading::Bytes(|_| Verdict::Take)).unwrap();
//! assert!(matches!(mon.next_event(), Event::Probe(1))); // after idle: send heartbeat #1
//! assert!(matches!(mon.next_event(), Event::Probe(2))); // after interval: #2
//! assert!(matches!(mon.next_event(), Event::Dead));     // idle + 2 × interval: dead
//! ```

pub use crate::conn::{Input, Link, Op};
use crate::conn::{Notify, Shared, READER_STACK};
use crate::oob;
use crate::reader::{read_bytes, read_messages, Echo};
pub use crate::reader::{Reading, Verdict};
use crate::sys::send_now;
pub use crate::writer::{Sink, Writer};
use crossbeam_channel::{bounded, Receiver, Sender};
use log::debug;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

/// When windows expire: the three timing rules (module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The client of seed 000: `T1` after traffic, then `T2` per heartbeat sent.
    Prober {
        /// `T1`: silence before the first heartbeat.
        idle: Duration,
    },
    /// The server of seed 000: `T1 + T2` after traffic, then `T2` per missed heartbeat.
    Answerer {
        /// `T1`.
        idle: Duration,
    },
    /// Stevens' `alarm(nsec)`: a tick every interval; traffic resets only the count.
    Alarm,
}

/// Timings: a rule, `T2` and the C's literal `3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// When windows expire.
    pub rule: Rule,
    /// `T2`: time between probes.
    pub interval: Duration,
    /// Probes allowed to go unanswered; one more is death.
    pub probes: u32,
}

impl Config {
    /// The window after traffic: `T1` (prober), `T1 + T2` (answerer), a tick (alarm).
    pub fn first_window(&self) -> Duration {
        match self.rule {
            Rule::Prober { idle } => idle,
            Rule::Answerer { idle } => idle + self.interval,
            Rule::Alarm => self.interval,
        }
    }

    /// Longest time from the last sign of life to [`Event::Dead`]:
    /// `first_window + probes × interval` (for the alarm, the earliest is one tick less).
    pub fn death_bound(&self) -> Duration {
        self.first_window() + self.interval * self.probes
    }
}

/// What the monitor reports.
#[derive(Debug)]
pub enum Event {
    /// The connection ended: EOF, a failure, or input the link may not carry.
    Input(Input),
    /// A window expired with no traffic: probe `n` (1 ≤ n ≤ probes). The prober sends
    /// heartbeat #n ([`Monitor::send_heartbeat`]); the answerer reports missed heartbeat #n.
    Probe(u32),
    /// More than `probes` windows expired: `connection dead`.
    Dead,
}

/// What a prober sends on each probe.
#[derive(Debug)]
pub enum Heartbeat {
    /// Bytes on a socket, sent without waiting: `send( s, &msg, sizeof( msg ), 0 )`
    /// (`hb_client`), `send( shb, "", 1, 0 )` (`hb_client1`).
    Bytes(Arc<TcpStream>, Vec<u8>),
    /// An urgent byte, queued ahead of all data on the connection's writer:
    /// `send( fd, "1", 1, MSG_OOB )` (`hb_client_oob`).
    Urgent(Writer, u8),
}

/// A per-connection heartbeat monitor. See the module documentation.
pub struct Monitor {
    config: Config,
    label: String,
    tx: Sender<Input>,
    rx: Receiver<Input>,
    shared: Arc<Shared>,
    on_thread: ThreadId,
    streams: Vec<Arc<TcpStream>>,
    readers: usize,
    /// How readers carry out [`Verdict::Echo`].
    echo: Echo,
    covering: Option<Arc<TcpStream>>,
    /// The covering reader's read timeout: it wakes this monitor that long after a read.
    early: Duration,
    threads: Vec<JoinHandle<()>>,
    stop: Option<Sender<()>>,
    stop_rx: Receiver<()>,
    heartbeat: Option<Heartbeat>,
    /// The tail of a heartbeat message the send buffer did not take whole.
    unsent: Vec<u8>,
    seen: u64,
    deadline: Instant,
    missed: u32,
}

impl Monitor {
    /// A monitor for the connection named `label` (the peer, for thread names and logs),
    /// waiting on the calling thread. The first window starts now.
    pub fn new(config: Config, label: &str) -> Self {
        let (tx, rx) = bounded(64);
        let (stop, stop_rx) = bounded(0);
        Monitor {
            config,
            label: label.to_string(),
            tx,
            rx,
            shared: Arc::new(Shared::new()),
            on_thread: thread::current().id(),
            streams: Vec::new(),
            readers: 0,
            echo: Echo::Now,
            covering: None,
            early: Duration::ZERO,
            threads: Vec::new(),
            stop: Some(stop),
            stop_rx,
            heartbeat: None,
            unsent: Vec::new(),
            seen: 0,
            deadline: Instant::now() + config.first_window(),
            missed: 0,
        }
    }

    fn notify(&self) -> Notify {
        Notify {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Start a reader thread on `stream` (shared with the caller, one descriptor), reading
    /// and deciding as `reading` says. Its signs of life count towards this monitor.
    pub fn watch(
        &mut self,
        link: Link,
        stream: &Arc<TcpStream>,
        reading: Reading,
    ) -> io::Result<()> {
        self.cover(stream, &reading)?;
        let s = Arc::clone(stream);
        self.streams.push(Arc::clone(stream));
        self.readers += 1;
        let (to, echo) = (self.notify(), self.echo.clone());
        let shb = if link == Link::Heartbeat { " shb" } else { "" };
        let handle = thread::Builder::new()
            .name(format!("reader {}{shb}", self.label))
            .stack_size(READER_STACK)
            .spawn(move || {
                debug!("reader started on {}", link.c_name());
                let end = match reading {
                    Reading::Bytes(decide) => Some(read_bytes(link, &s, decide, &echo, &to)),
                    Reading::Messages(decide) => Some(read_messages(link, &s, decide, &echo, &to)),
                    Reading::Urgent { answer, data } => oob::read_loop(&s, answer, data, &to),
                };
                if let Some(input) = end {
                    to.tell(input);
                }
                debug!("reader on {} ended", link.c_name());
            })?;
        self.threads.push(handle);
        Ok(())
    }

    /// Readers started after this carry out [`Verdict::Echo`] `delay` late, through a writer
    /// on `stream`, and go on reading meanwhile (`hb_server --reply-delay`, seed 001's
    /// `sleep(sleepingTime)` before the answer).
    pub fn delay_echoes(&mut self, stream: &Arc<TcpStream>, delay: Duration) -> io::Result<()> {
        let w = self.writer(Sink::Socket(Arc::clone(stream)))?;
        self.echo = Echo::After(delay, w);
        Ok(())
    }

    /// Readers started after this echo at once but then read nothing for `gap`, and end
    /// their link on a read of more than `burst` bytes (`hb_server1`'s `shb`: a local
    /// service sending zeros for ever is answered no faster than heartbeats can come).
    pub fn pace_echoes(&mut self, gap: Duration, burst: usize) {
        let stop = self.stop_rx.clone();
        self.echo = Echo::Paced { gap, burst, stop };
    }

    /// An answerer with one reader that reads and echoes lets that reader's blocking `read`
    /// wake the monitor before the window ends, as the C `select` does: the monitor then
    /// sleeps without a timer while traffic flows, instead of waking at every deadline that
    /// traffic has already moved (about 0.7 wakes per heartbeat). The read timeout is only an
    /// early wake-up, never the deadline: the kernel keeps socket timeouts on its timer wheel,
    /// which rounds them up by as much as 1/8 (2 s for a 16 s timeout at HZ = 250), so it is
    /// chosen to fire before the deadline even rounded up (`early_wake`), and the monitor
    /// waits out the exact rest with `park_timeout` (a futex: an hrtimer). A second reader
    /// (`hb_server1`) ends it: the monitor keeps every deadline itself.
    fn cover(&mut self, stream: &Arc<TcpStream>, reading: &Reading) -> io::Result<()> {
        let fits = matches!(self.echo, Echo::Now) && !matches!(reading, Reading::Urgent { .. });
        let early = early_wake(self.config.first_window());
        if cfg!(unix)
            && self.readers == 0
            && fits
            && matches!(self.config.rule, Rule::Answerer { .. })
            && early.is_some()
        {
            self.early = early.unwrap_or_default();
            stream.set_read_timeout(early)?;
            self.shared.set_cover(true);
            self.covering = Some(Arc::clone(stream));
        } else if let Some(first) = self.covering.take() {
            self.shared.set_cover(false);
            first.set_read_timeout(None)?;
        }
        Ok(())
    }

    /// Start a writer thread on `sink` that lives as long as this monitor.
    pub fn writer(&mut self, sink: Sink) -> io::Result<Writer> {
        if let Sink::Socket(s) = &sink {
            self.streams.push(Arc::clone(s));
        }
        let name = format!("writer {}", self.label);
        let (w, h) = Writer::spawn(name, sink, self.notify(), self.stop_rx.clone())?;
        self.threads.push(h);
        Ok(w)
    }

    /// What [`send_heartbeat`](Self::send_heartbeat) sends.
    pub fn heartbeat(&mut self, heartbeat: Heartbeat) {
        self.heartbeat = Some(heartbeat);
    }

    /// Send the heartbeat for the current probe without waiting; `true` if it went (or, for
    /// an urgent byte, is first in line). One the send buffer cannot take now (the peer is
    /// not reading) stays unanswered, with a debug line; the part of a message that did not
    /// fit goes first next time, so the stream stays whole. An error is the C `send failure`.
    ///
    /// An urgent byte goes only when the previous one has been answered and this side has
    /// read up to the answer's mark: TCP keeps one urgent mark per connection, and a new
    /// mark that overtakes the reader turns the old urgent byte into normal data (see
    /// [`crate::oob`]). The tick still counts.
    pub fn send_heartbeat(&mut self) -> io::Result<bool> {
        let n = self.missed;
        let whole = match &self.heartbeat {
            None => return Ok(false),
            Some(Heartbeat::Urgent(..)) if self.shared.urgent_out() => {
                debug!(
                    "{}: probe #{n} not sent: the last urgent exchange is not complete (one urgent mark)",
                    self.label
                );
                return Ok(false);
            }
            Some(Heartbeat::Urgent(w, c)) => {
                // Out before it is queued: the reader may clear it as soon as it is.
                self.shared.set_urgent_out(true);
                let queued = w.urgent(*c);
                if !queued {
                    self.shared.set_urgent_out(false);
                }
                queued
            }
            Some(Heartbeat::Bytes(s, bytes)) => send_whole(s, &mut self.unsent, bytes)?,
        };
        if !whole {
            debug!(
                "{}: heartbeat #{n} not sent: no room to send (the peer is not reading); it counts as unanswered",
                self.label
            );
        }
        Ok(whole)
    }

    /// `heartbeats = 0; tv.tv_sec = T1;` — a sign of life came at `at`.
    fn heard(&mut self, at: Instant) {
        self.missed = 0;
        match self.config.rule {
            Rule::Prober { .. } | Rule::Answerer { .. } => {
                self.deadline = at + self.config.first_window()
            }
            Rule::Alarm => {} // sig_urg: nprobes = 0; the alarm ticks on
        }
    }

    /// Wait for the next event: an input, or the end of the window.
    #[doc(alias = "select")]
    pub fn next_event(&mut self) -> Event {
        let me = thread::current();
        if me.id() != self.on_thread {
            self.on_thread = me.id();
            self.shared.set_monitor(me);
        }
        loop {
            if let Some(at) = self.shared.heard_since(&mut self.seen) {
                self.heard(at);
            }
            if let Ok(input) = self.rx.try_recv() {
                return Event::Input(input);
            }
            let now = Instant::now();
            if now < self.deadline {
                // select( …, &tv ): until the covering reader's early wake, then (or without
                // a covering reader) a timer of our own for the exact rest of the window.
                let left = self.deadline - now;
                let woken_early = left <= self.config.first_window().saturating_sub(self.early);
                if self.missed == 0 && self.shared.covered() && !woken_early {
                    thread::park();
                } else {
                    thread::park_timeout(left);
                }
                continue;
            }
            // rc == 0: timed out. From the old deadline, not from now: windows do not drift.
            self.deadline += self.config.interval; // tv.tv_sec = T2
            self.missed += 1;
            debug!("{}: window expired, missed {}", self.label, self.missed);
            return if self.missed > self.config.probes {
                Event::Dead
            } else {
                Event::Probe(self.missed)
            };
        }
    }
}

/// The read timeout that wakes an answerer's monitor before a window of `window` ends: the
/// timer wheel may fire a socket timeout `t` as late as `t + t/8` plus a tick or two (4 ms
/// each at HZ = 250, 10 ms at HZ = 100), so `t = (window - 30 ms - window/100) × 8/9` fires
/// at least 30 ms less two ticks, and 1 % of the window, before the deadline: room for the
/// reader's and the monitor's wake-ups on a loaded machine. It must still outlast the
/// heartbeat period for the monitor to sleep through it: the client's heartbeat comes every
/// T1, the window is T1 + T2, so it does when T2 > T1/7 + 30 ms or so (the article's 60/10:
/// 61.6 s > 60 s). `None` below 100 ms, where the monitor keeps the time itself.
fn early_wake(window: Duration) -> Option<Duration> {
    let ticks = Duration::from_millis(30);
    (window >= Duration::from_millis(100)).then(|| (window - ticks - window / 100) * 8 / 9)
}

/// Send `bytes` on `s` without waiting, after what is left of the previous heartbeat in
/// `unsent`; `true` if all of `bytes` went.
fn send_whole(s: &TcpStream, unsent: &mut Vec<u8>, bytes: &[u8]) -> io::Result<bool> {
    if !unsent.is_empty() {
        let n = send_now(s, unsent)?;
        unsent.drain(..n);
        if !unsent.is_empty() {
            return Ok(false);
        }
    }
    let n = send_now(s, bytes)?;
    unsent.extend_from_slice(&bytes[n..]);
    Ok(n == bytes.len())
}

impl Drop for Monitor {
    fn drop(&mut self) {
        for s in &self.streams {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.stop = None; // writers see the stop channel disconnected
        self.heartbeat = None;
        // A reader blocked on a full channel gets an error once the receiver is gone.
        self.rx = crossbeam_channel::never();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        debug!("{}: monitor ended, readers and writers joined", self.label);
    }
}

#[cfg(test)]
mod tests {
    use super::early_wake;
    use std::time::Duration;

    /// The early wake-up, rounded up as the timer wheel may (1/8, and two 10 ms ticks), still
    /// fires before the deadline at every length; and it outlasts the article's heartbeat
    /// period (T1 = 60 s in a 70 s window), so traffic at the article's timings wakes nobody.
    #[test]
    fn early_wake_fires_before_the_deadline_at_every_length() {
        assert_eq!(early_wake(Duration::from_millis(99)), None);
        for ms in [
            100, 300, 1_000, 3_000, 16_000, 70_000, 3_600_000, 86_400_000,
        ] {
            let w = Duration::from_millis(ms);
            let t = early_wake(w).unwrap();
            let worst = t + t / 8 + Duration::from_millis(20);
            assert!(worst < w, "{w:?}: the wake-up may come at {worst:?}");
            assert!(w - worst >= w / 100, "{w:?}: room {:?}", w - worst);
        }
        assert!(early_wake(Duration::from_secs(70)).unwrap() > Duration::from_secs(60));
        assert!(early_wake(Duration::from_secs(2)).unwrap() > Duration::from_secs(1));
    }
}

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

mod cover;
mod probe;

pub use crate::conn::{Input, Link, Op};
use crate::conn::{Notify, Shared, READER_STACK};
use crate::oob;
use crate::reader::{read_bytes, read_messages, Echo};
pub use crate::reader::{Reading, Verdict};
pub use crate::writer::{Sink, Writer};
use cover::Cover;
use crossbeam_channel::{bounded, Receiver, Sender};
use log::debug;
pub use probe::Heartbeat;
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
    /// The covering reader, if one wakes this monitor early ([`cover`]).
    cover: Cover,
    threads: Vec<JoinHandle<()>>,
    stop: Option<Sender<()>>,
    stop_rx: Receiver<()>,
    heartbeat: Option<Heartbeat>,
    /// The tail of a heartbeat message the send buffer did not take whole ([`probe`]).
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
            cover: Cover::default(),
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
        let answerer = matches!(self.config.rule, Rule::Answerer { .. });
        let fits = answerer
            && self.readers == 0
            && matches!(self.echo, Echo::Now)
            && !matches!(reading, Reading::Urgent { .. });
        let window = self.config.first_window();
        self.cover.cover(stream, fits, window, &self.shared)?;
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
                let woken_early = self.cover.woken_early(self.config.first_window(), left);
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

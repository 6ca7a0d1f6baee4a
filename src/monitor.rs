//! The heartbeat monitor: the `select` loops of seed 000's `hb_client.c`, `hb_server.c`,
//! `hb_client1.c` and `hb_server1.c`, with threads and a channel instead of `select`.
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
//! Here, per connection, a **reader thread** blocks in `read`, stamps the time of every byte
//! it gets, and sends over a `crossbeam-channel` what the program must act on ([`Input`]:
//! whole messages, data, EOF, errors). Where the program's answer is fixed — `hb_server`
//! echoing a heartbeat, `hb_server1` echoing a byte — the reader answers by itself
//! ([`Answer`]): no thread handoff on the echo path, and no wake-up of the monitor per
//! heartbeat. The **monitor** waits on the channel with a deadline (`recv_deadline`, the
//! `select` timeout) and runs the same machine:
//!
//! * any bytes at all — even part of a message — reset the probe count and restart the idle
//!   window (`heartbeats = 0; tv = T1`);
//! * a window that expires is a probe step ([`Event::Probe`]); the count passing `probes` is
//!   death ([`Event::Dead`]).
//!
//! The prober (the client) waits `idle` first, then `interval` per probe, so it declares
//! death `idle + probes × interval` after the last byte. The answerer (the server) waits
//! `idle + interval` first — it gives the client's first heartbeat an interval to arrive —
//! so its bound is `idle + (probes + 1) × interval`.
//!
//! Windows are exact deadlines. The C reuses `tv` after a partial `select`, so a left-over
//! `tv_usec` stretches the next window by up to a second; and on Linux `select` writes the
//! time left back into `tv`. Here each window is computed from an `Instant`.
//!
//! When the monitor is dropped it shuts the sockets down (the blocked readers return), drops
//! the channel (a reader blocked on a full channel returns) and joins the readers: no thread,
//! descriptor or channel outlives the connection. The channel is bounded, so a peer that
//! floods a slow monitor is slowed by TCP flow control instead of filling memory.
//!
//! ```
//! use heartbeat::monitor::{Config, Event, Framing, Link, Monitor, Role};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::Duration;
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let _silent_peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
//! let (conn, peer) = listener.accept().unwrap();
//! let conn = std::sync::Arc::new(conn);
//! let ms = Duration::from_millis;
//! let config = Config { idle: ms(40), interval: ms(20), probes: 2, role: Role::Prober };
//! let mut mon = Monitor::new(config, &peer.to_string());
//! mon.watch(Link::Data, &conn, Framing::Bytes).unwrap();
//! assert!(matches!(mon.next_event(), Event::Probe(1))); // after idle: send heartbeat #1
//! assert!(matches!(mon.next_event(), Event::Probe(2))); // after interval: #2
//! assert!(matches!(mon.next_event(), Event::Dead));     // idle + 2 × interval: dead
//! ```

use crate::reader::{read_loop, Traffic};
pub use crate::reader::{Answer, Framing, Input, Link, MessageAssembler, READER_STACK};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use log::debug;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Who does the probing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The client: first window `idle`, then sends a heartbeat every `interval`.
    Prober,
    /// The server: first window `idle + interval`, counts missed heartbeats.
    Answerer,
}

/// Timings (the C `T1`, `T2` and the literal `3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// `T1`: silence before the first probe.
    pub idle: Duration,
    /// `T2`: time between probes.
    pub interval: Duration,
    /// Probes allowed to go unanswered; one more is death.
    pub probes: u32,
    /// Prober (client) or answerer (server).
    pub role: Role,
}

impl Config {
    /// The window after traffic: `T1` for the prober, `T1 + T2` for the answerer.
    pub fn first_window(&self) -> Duration {
        match self.role {
            Role::Prober => self.idle,
            Role::Answerer => self.idle + self.interval,
        }
    }

    /// Time from the last byte received to [`Event::Dead`]:
    /// `first_window + probes × interval`.
    pub fn death_bound(&self) -> Duration {
        self.first_window() + self.interval * self.probes
    }
}

/// What the monitor reports.
#[derive(Debug)]
pub enum Event {
    /// Something a reader got; traffic has already reset the probe count.
    Input(Input),
    /// A window expired with no traffic: probe `n` (1 ≤ n ≤ probes). The prober sends
    /// heartbeat #n; the answerer reports missed heartbeat #n.
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
    streams: Vec<Arc<TcpStream>>,
    readers: Vec<JoinHandle<()>>,
    traffic: Arc<Traffic>,
    seen: u64,
    deadline: Instant,
    missed: u32,
}

impl Monitor {
    /// A monitor for the connection named `label` (the peer, for thread names and logs).
    /// The first window starts now.
    pub fn new(config: Config, label: &str) -> Self {
        let (tx, rx) = bounded(64);
        Monitor {
            config,
            label: label.to_string(),
            tx,
            rx,
            streams: Vec::new(),
            readers: Vec::new(),
            traffic: Arc::new(Traffic::new()),
            seen: 0,
            deadline: Instant::now() + config.first_window(),
            missed: 0,
        }
    }

    /// Start a reader thread on `stream`, shared with the caller (who writes on it) rather
    /// than duplicated: one descriptor per socket, however many threads use it. Its traffic
    /// counts towards this monitor.
    pub fn watch(
        &mut self,
        link: Link,
        stream: &Arc<TcpStream>,
        framing: Framing,
    ) -> io::Result<()> {
        self.watch_answering(link, stream, framing, Answer::Nothing)
    }

    /// [`watch`](Self::watch), with the reader answering by itself as `answer` says.
    pub fn watch_answering(
        &mut self,
        link: Link,
        stream: &Arc<TcpStream>,
        framing: Framing,
        answer: Answer,
    ) -> io::Result<()> {
        let reading = Arc::clone(stream);
        self.streams.push(Arc::clone(stream));
        let tx = self.tx.clone();
        let traffic = self.traffic.clone();
        let name = match link {
            Link::Data => format!("reader {}", self.label),
            Link::Heartbeat => format!("reader {} shb", self.label),
        };
        let handle = thread::Builder::new()
            .name(name)
            .stack_size(READER_STACK)
            .spawn(move || read_loop(link, reading, framing, answer, &traffic, tx))?;
        self.readers.push(handle);
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Probes missed in a row so far (`heartbeats` / `missed_heartbeats` in C).
    pub fn missed(&self) -> u32 {
        self.missed
    }

    /// Wait for the next event: an input, or the window's end.
    pub fn next_event(&mut self) -> Event {
        loop {
            match self.rx.recv_deadline(self.deadline) {
                Ok(input) => {
                    self.restart_after_traffic();
                    return Event::Input(input);
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    if self.restart_after_traffic() {
                        continue;
                    }
                    self.missed += 1;
                    // From the old deadline, not from now: windows do not drift.
                    self.deadline += self.config.interval;
                    debug!("{}: window expired, missed {}", self.label, self.missed);
                    return if self.missed > self.config.probes {
                        Event::Dead
                    } else {
                        Event::Probe(self.missed)
                    };
                }
            }
        }
    }

    /// `heartbeats = 0; tv.tv_sec = T1;` — if a reader got bytes since the window started,
    /// restart the window from the moment it did.
    fn restart_after_traffic(&mut self) -> bool {
        let (last, at) = self.traffic.last_at();
        let Some(at) = at.filter(|_| last != self.seen) else {
            return false;
        };
        self.seen = last;
        self.missed = 0;
        self.deadline = at + self.config.first_window();
        true
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        for s in &self.streams {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Drop the receiver so a reader blocked on a full channel gets an error and ends.
        self.rx = crossbeam_channel::never();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        debug!("{}: monitor ended, readers joined", self.label);
    }
}

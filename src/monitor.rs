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

use crate::message::{Message, MSG_HEARTBEAT, MSG_LEN};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use log::debug;
use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Stack size of reader threads: they hold one 2004-byte buffer; small stacks let one
/// server hold thousands of connections.
pub const READER_STACK: usize = 128 * 1024;

/// Which of a connection's sockets an input came on (`hb_client1` has two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The data connection (the only one of the in-band pair): `sdata` in `hb_client1`.
    Data,
    /// The separate heartbeat connection: `shb`.
    Heartbeat,
}

impl Link {
    /// `sdata` / `shb`, the C variable names, as the programs print them.
    pub fn c_name(self) -> &'static str {
        match self {
            Link::Data => "sdata",
            Link::Heartbeat => "shb",
        }
    }
}

/// How a reader cuts the byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Raw bytes, as each `read` returns them (up to 1024, the C `char msg[1024]`).
    Bytes,
    /// Whole 2004-byte `msg_t` messages, assembled like the C "in-line readn".
    Messages,
}

/// What a reader answers by itself, on its own thread, before it tells the monitor. The
/// server's answer is the round trip the client measures; answering here keeps the thread
/// handoff to the monitor off that path (the monitor still sees the traffic, for its count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Nothing: the monitor's owner answers, if anyone.
    Nothing,
    /// Echo every whole `MSG_HEARTBEAT` message ([`Framing::Messages`]; `hb_server`), after
    /// `delay` if given (`--reply-delay`, seed 001's `sleep(sleepingTime)`).
    Heartbeats {
        /// Wait before each answer.
        delay: Option<Duration>,
    },
    /// Echo every byte ([`Framing::Bytes`]; `hb_server1` on `shb`).
    Bytes,
}

/// What a reader thread got from one `read`.
#[derive(Debug)]
pub enum Input {
    /// Raw bytes ([`Framing::Bytes`]).
    Bytes {
        /// Where they came.
        link: Link,
        /// What one `read` returned.
        data: Vec<u8>,
    },
    /// A whole message ([`Framing::Messages`]).
    Message {
        /// Where it came.
        link: Link,
        /// The message.
        msg: Box<Message>,
    },
    /// EOF: the peer closed (`recv` returned 0).
    Closed {
        /// Where.
        link: Link,
        /// Bytes of an unfinished message lost with the close (0 between messages).
        pending: usize,
    },
    /// The reader's own answer ([`Answer`]) could not be sent (`send failure`).
    SendFailed {
        /// Where.
        link: Link,
        /// The error.
        error: io::Error,
    },
    /// `read` failed (`recv failure`): a reset, a timeout, …
    Failed {
        /// Where.
        link: Link,
        /// The error.
        error: io::Error,
    },
}

impl Input {
    /// Whether this input is bytes from the peer (which reset the probe count).
    pub fn is_traffic(&self) -> bool {
        matches!(self, Input::Bytes { .. } | Input::Message { .. })
    }
}

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

/// When a connection's readers last got bytes: nanoseconds since `epoch`, plus one (0:
/// never). Readers stamp it on every `read`; the monitor looks at it when a window expires.
struct Traffic {
    epoch: Instant,
    last: AtomicU64,
}

impl Traffic {
    fn touch(&self) {
        let now = self.epoch.elapsed().as_nanos() as u64 + 1;
        self.last.fetch_max(now, Ordering::Release);
    }
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
            traffic: Arc::new(Traffic {
                epoch: Instant::now(),
                last: AtomicU64::new(0),
            }),
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
        let last = self.traffic.last.load(Ordering::Acquire);
        if last == self.seen {
            return false;
        }
        self.seen = last;
        self.missed = 0;
        let at = self.traffic.epoch + Duration::from_nanos(last - 1);
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

/// The C "in-line readn" of `hb_server.c`: `recv( s1, (char *)&msg + sizeof(msg) - cnt,
/// cnt, 0 )` into one `msg_t`, whatever pieces TCP delivers it in.
///
/// ```
/// use heartbeat::monitor::MessageAssembler;
/// use heartbeat::message::Message;
/// let wire = Message::heartbeat().encode();
/// let mut asm = MessageAssembler::new();
/// asm.space()[..1000].copy_from_slice(&wire[..1000]);
/// assert!(asm.filled(1000).is_none());                 // cnt > 0: continue
/// asm.space().copy_from_slice(&wire[1000..]);
/// assert_eq!(asm.filled(1004), Some(Message::heartbeat())); // a whole message
/// ```
pub struct MessageAssembler {
    buf: [u8; MSG_LEN],
    got: usize,
}

impl Default for MessageAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl MessageAssembler {
    /// An empty assembler (`cnt = sizeof( msg )`).
    pub fn new() -> Self {
        MessageAssembler {
            buf: [0; MSG_LEN],
            got: 0,
        }
    }

    /// Where the next `read` goes: the rest of the current message, never beyond it.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.got..]
    }

    /// Record `n` bytes read into [`space`](Self::space); the message when it is complete.
    pub fn filled(&mut self, n: usize) -> Option<Message> {
        self.got = (self.got + n).min(MSG_LEN);
        if self.got < MSG_LEN {
            return None;
        }
        self.got = 0;
        Some(Message::decode(&self.buf))
    }

    /// Bytes of an unfinished message.
    pub fn pending(&self) -> usize {
        self.got
    }
}

/// The reader thread: block in `read`; stamp every byte's arrival for the monitor; answer
/// by itself where `answer` says; forward what the monitor's owner must act on; end at EOF,
/// on an error, or when the monitor has gone.
fn read_loop(
    link: Link,
    s: Arc<TcpStream>,
    framing: Framing,
    answer: Answer,
    traffic: &Traffic,
    tx: Sender<Input>,
) {
    debug!("reader started on {}", link.c_name());
    let mut bytes = [0u8; 1024];
    let mut asm = MessageAssembler::new();
    loop {
        let want = match framing {
            Framing::Bytes => &mut bytes[..],
            Framing::Messages => asm.space(),
        };
        let input = match (&*s).read(want) {
            Ok(0) => Input::Closed {
                link,
                pending: asm.pending(),
            },
            Ok(n) => {
                traffic.touch(); // any byte, even part of a message, resets the count
                debug!("read {n} bytes on {}", link.c_name());
                match framing {
                    Framing::Bytes => Input::Bytes {
                        link,
                        data: bytes[..n].to_vec(),
                    },
                    Framing::Messages => match asm.filled(n) {
                        None => continue, // cnt > 0: the stamp is all the monitor needs
                        Some(msg) => Input::Message {
                            link,
                            msg: Box::new(msg),
                        },
                    },
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(error) => Input::Failed { link, error },
        };
        let input = match answer_here(&s, &input, answer) {
            Ok(true) => continue, // answered: the stamp is all the monitor needs
            Ok(false) => input,
            Err(error) => Input::SendFailed { link, error },
        };
        let last = matches!(
            input,
            Input::Closed { .. } | Input::Failed { .. } | Input::SendFailed { .. }
        );
        if tx.send(input).is_err() || last {
            break;
        }
    }
    debug!("reader on {} ended", link.c_name());
}

/// Send the reader's own answer to `input` if `answer` calls for one; `true` if it did.
fn answer_here(mut s: &TcpStream, input: &Input, answer: Answer) -> io::Result<bool> {
    use std::io::Write;
    match (input, answer) {
        (Input::Message { msg, .. }, Answer::Heartbeats { delay })
            if msg.msg_type == MSG_HEARTBEAT =>
        {
            if let Some(d) = delay {
                thread::sleep(d);
            }
            s.write_all(&msg.encode())?;
            Ok(true)
        }
        (Input::Bytes { data, .. }, Answer::Bytes) => s.write_all(data).map(|()| true),
        _ => Ok(false),
    }
}

//! The reader side of a connection's heartbeat monitor: the `recv` calls of seed 000's
//! `select` loops, each on a thread of its own.
//!
//! A reader blocks in `read` on one socket. Every byte it gets — even part of a message —
//! is stamped in the connection's `Traffic` time, which is all the monitor needs to restart
//! its window (`heartbeats = 0; tv = T1`). Whole messages, raw data, EOF and errors go over
//! the channel as [`Input`]s for the program to act on. Where the program's answer is fixed —
//! `hb_server` echoing a `MSG_HEARTBEAT`, `hb_server1` echoing a byte on `shb` — the reader
//! sends it itself ([`Answer`]), so no thread handoff sits on the echo path.
//! [`MessageAssembler`] is the C "in-line readn" that rebuilds 2004-byte `msg_t`s from
//! whatever pieces TCP delivers.

use crate::message::{Message, MSG_HEARTBEAT, MSG_LEN};
use crossbeam_channel::Sender;
use log::debug;
use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
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
    /// Answer nothing and tell nothing: the bytes only restart the window (the C reads the
    /// data connection and drops what it gets; `hb_client` leaves "process message" empty).
    Ignore,
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

/// When a connection's readers last got bytes: nanoseconds since `epoch`, plus one (0:
/// never). Readers stamp it on every `read`; the monitor looks at it when a window expires.
pub(crate) struct Traffic {
    pub(crate) epoch: Instant,
    pub(crate) last: AtomicU64,
}

impl Traffic {
    /// No traffic yet; times count from now.
    pub(crate) fn new() -> Self {
        Traffic {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// The time of the last byte, if any has come: `Some(epoch + last - 1 ns)`.
    pub(crate) fn last_at(&self) -> (u64, Option<Instant>) {
        let last = self.last.load(Ordering::Acquire);
        (
            last,
            (last > 0).then(|| self.epoch + Duration::from_nanos(last - 1)),
        )
    }

    pub(crate) fn touch(&self) {
        let now = self.epoch.elapsed().as_nanos() as u64 + 1;
        self.last.fetch_max(now, Ordering::Release);
    }
}

/// The C "in-line readn" of `hb_server.c`: `recv( s1, (char *)&msg + sizeof(msg) - cnt,
/// cnt, 0 )` into one `msg_t`, whatever pieces TCP delivers it in.
///
/// ```
/// use heartbeat::reader::MessageAssembler;
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
pub(crate) fn read_loop(
    link: Link,
    s: Arc<TcpStream>,
    framing: Framing,
    answer: Answer,
    traffic: &Arc<Traffic>,
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
        (Input::Bytes { .. } | Input::Message { .. }, Answer::Ignore) => Ok(true),
        _ => Ok(false),
    }
}

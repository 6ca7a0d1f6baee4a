//! The reader side of a connection's monitor: the `recv` calls of seed 000's `select` loops,
//! each on a thread of its own, and the program's decision on what they read.
//!
//! A reader blocks in `read` on one socket. Every byte that counts as a sign of life is
//! stamped in the connection's shared time ([`crate::conn`]) — all the monitor needs for
//! `heartbeats = 0; tv = T1` — and the reader goes straight back to reading: it never waits
//! for the monitor, nor for an answer that is due later. What ends the connection (EOF, an
//! error, what the program refuses) goes over the `crossbeam-channel` as an
//! [`Input`], and the monitor's thread is unparked.
//!
//! What to do with what was read is the program's: each program passes its C loop's
//! decision as a plain function ([`Reading`]) that the reader calls on its own thread — for
//! `hb_server` the C's `switch ( ntohl( msg.type ) )` on each whole `msg_t`, for
//! `hb_server1`'s `shb` "echo the heartbeat byte". It answers with a [`Verdict`]: echo it,
//! take it, or end the connection with a line. The reader carries it out: an echo goes out
//! at once from the reader itself (no thread handoff on the round trip), or late through a
//! [`Writer`] (`--reply-delay`), so the reader keeps reading meanwhile.
//!
//! (The OOB pair's reader, which must learn of urgent data before it reads, is
//! [`crate::oob`].)

use crate::conn::{Input, Link, Notify, Op};
use crate::message::{Message, MSG_LEN};
use crate::sys::send_now;
use crate::writer::Writer;
use crossbeam_channel::Receiver;
use log::debug;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What a program decides about what its peer sent: the body of its C loop after `recv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it back as it came: `rc = send( s1, &msg, sizeof( msg ), 0 )` (`hb_server`),
    /// `rc = send( shb, hbmsg, 1, 0 )` (`hb_server1`).
    Echo,
    /// Take it and say nothing: `/* process message */`, `case MSG_TYPE1: break;`.
    Take,
    /// End the connection with this line (`unknown message type (9)`); nothing of it is
    /// echoed. It reaches the program as [`Input::Failed`] with `ErrorKind::InvalidData`
    /// and the line as the error's text (bad input, like a failed `recv`, ends the link).
    End(String),
}

/// What a reader reads, and the program's decision on each piece ([`Verdict`]).
#[derive(Clone, Debug)]
pub enum Reading {
    /// Bytes as they come (`recv( sdata, msg, sizeof( msg ), 0 )`, `recv( shb, hbmsg, 1, 0 )`):
    /// the function is called on each read's bytes. Any byte restarts the window.
    Bytes(fn(&[u8]) -> Verdict),
    /// Whole 2004-byte `msg_t`s, assembled like the C "in-line readn" (any byte, even part
    /// of a message, restarts the window): the function is called on each message.
    Messages(fn(&Message) -> Verdict),
    /// The OOB pair: urgent bytes are the heartbeat; each one is the only traffic that
    /// counts (Stevens' `sig_urg`: `nprobes = 0`) and, with `answer`, is answered by an urgent
    /// byte through that writer. Normal data goes to `data` (the echo, or stdout) and counts
    /// only once the writer half-closed the link (see [`crate::oob`]).
    Urgent {
        /// The writer that answers each urgent byte (the server), or `None` (the client).
        answer: Option<Writer>,
        /// Where normal data goes.
        data: Writer,
    },
}

/// How a reader carries out [`Verdict::Echo`] (`hb_server --reply-delay`).
#[derive(Clone, Debug)]
pub(crate) enum Echo {
    /// At once, by the reader itself: no thread handoff on the round trip.
    Now,
    /// After a delay (seed 001's `sleep(sleepingTime)`), by the writer, so the reader goes
    /// on reading meanwhile.
    After(Duration, Writer),
    /// At once, then not a read for `gap` (`hb_server1`'s `shb`): no faster than
    /// heartbeats can come. A read of more than `burst` bytes, more than a heartbeat client
    /// can have unanswered, ends the link. `stop` disconnects when the monitor goes.
    Paced {
        /// Least time between two echoes.
        gap: Duration,
        /// Most bytes one read may bring.
        burst: usize,
        /// The monitor's stop channel (never sent on).
        stop: Receiver<()>,
    },
}

impl Echo {
    /// Send `bytes` back as this says.
    fn send(&self, to: &Notify, s: &TcpStream, bytes: &[u8]) -> io::Result<()> {
        match self {
            Echo::Now => echo_now(to, s, bytes),
            Echo::Paced { gap, stop, .. } => {
                echo_now(to, s, bytes)?;
                let _ = stop.recv_timeout(*gap); // the next read waits, and TCP slows the peer
                Ok(())
            }
            Echo::After(delay, writer) => {
                writer.later(Instant::now() + *delay, bytes);
                Ok(())
            }
        }
    }
}

/// Write an echo without stopping to read for longer than it takes: at once if the send
/// buffer takes it, else, having told the monitor to keep time itself, waiting for room
/// (bounded by the socket's send timeout).
fn echo_now(to: &Notify, mut s: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    let n = send_now(s, bytes)?;
    if n == bytes.len() {
        return Ok(());
    }
    to.shared.set_writing(true);
    to.wake();
    let sent = s
        .write_all(&bytes[n..])
        .map_err(|e| crate::error::send_timeout(e, s));
    to.shared.set_writing(false);
    sent
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
#[doc(alias = "recv")]
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

    /// The wire bytes of the message [`filled`](Self::filled) just returned (until the next
    /// read into [`space`](Self::space)): an echo sends them as they came.
    pub fn wire(&self) -> &[u8; MSG_LEN] {
        &self.buf
    }

    /// Bytes of an unfinished message.
    pub fn pending(&self) -> usize {
        self.got
    }
}

/// One `read` that got something: its count; EOF and errors as the input that ends the
/// reader (`pending`: bytes of an unfinished message). A read timeout is the early wake-up
/// the monitor gave this socket: most of the window passed in silence, so wake the monitor
/// (it times the exact rest itself) and read on.
fn read_some(
    link: Link,
    mut s: &TcpStream,
    buf: &mut [u8],
    pending: usize,
    to: &Notify,
) -> Result<usize, Input> {
    loop {
        return match s.read(buf) {
            Ok(0) => Err(Input::Closed { link, pending }),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                to.wake(); // the window is nearly over: the monitor keeps its end
                continue;
            }
            Err(error) => Err(Input::Failed {
                link,
                op: Op::Recv,
                error,
            }),
        };
    }
}

/// Carry out the program's verdict on `bytes`: `None` to read on, or the input that ends.
fn carry_out(
    verdict: Verdict,
    link: Link,
    bytes: &[u8],
    echo: &Echo,
    to: &Notify,
    s: &TcpStream,
) -> Option<Input> {
    match verdict {
        Verdict::Take => None,
        Verdict::Echo => echo.send(to, s, bytes).err().map(|error| Input::Failed {
            link,
            op: Op::Send,
            error,
        }),
        Verdict::End(why) => Some(Input::Failed {
            link,
            op: Op::Recv,
            error: io::Error::new(ErrorKind::InvalidData, why),
        }),
    }
}

/// [`Reading::Bytes`]: read, stamp, decide; the input that ended it.
pub(crate) fn read_bytes(
    link: Link,
    s: &TcpStream,
    decide: fn(&[u8]) -> Verdict,
    echo: &Echo,
    to: &Notify,
) -> Input {
    let mut buf = [0u8; 1024];
    loop {
        let n = match read_some(link, s, &mut buf, 0, to) {
            Ok(n) => n,
            Err(end) => return end,
        };
        let verdict = match (decide(&buf[..n]), echo) {
            (Verdict::Echo, Echo::Paced { burst, .. }) if n > *burst => Verdict::End(format!(
                "{n} heartbeat bytes at once: a heartbeat client has at most {burst} unanswered"
            )),
            (verdict, _) => verdict,
        };
        if !matches!(verdict, Verdict::End(_)) {
            to.shared.touch(); // heartbeats = 0; tv = T1 (the monitor reads the stamp)
        }
        debug!("read {n} bytes on {}", link.c_name());
        if let Some(end) = carry_out(verdict, link, &buf[..n], echo, to, s) {
            return end;
        }
    }
}

/// [`Reading::Messages`]: the C "in-line readn" of whole `msg_t`s, and the program's
/// decision on each; the input that ended it.
pub(crate) fn read_messages(
    link: Link,
    s: &TcpStream,
    decide: fn(&Message) -> Verdict,
    echo: &Echo,
    to: &Notify,
) -> Input {
    let mut asm = MessageAssembler::new();
    loop {
        let pending = asm.pending();
        let n = match read_some(link, s, asm.space(), pending, to) {
            Ok(n) => n,
            Err(end) => return end,
        };
        to.shared.touch(); // any byte, even part of a message, resets the count
        debug!("read {n} bytes on {}", link.c_name());
        let Some(msg) = asm.filled(n) else {
            continue; // cnt > 0: the stamp is all the monitor needs
        };
        if let Some(end) = carry_out(decide(&msg), link, asm.wire(), echo, to, s) {
            return end;
        }
    }
}

//! The reader side of a connection's monitor: the `recv` calls of seed 000's `select` loops
//! (and of Stevens' `sig_urg`), each on a thread of its own.
//!
//! A reader blocks in `read` on one socket. Every byte that counts as a sign of life is
//! stamped in the connection's shared time — all the monitor needs for
//! `heartbeats = 0; tv = T1` — and the reader goes straight back to reading: it never waits
//! for the monitor, nor for an answer that is due later. What ends the connection (EOF, an
//! error, input the link may not carry) goes over the `crossbeam-channel` as an [`Input`],
//! and the monitor's thread is unparked.
//!
//! What a reader does with the bytes is one [`Reading`], one variant per kind of program:
//! bytes or `msg_t`s dropped, `msg_t` messages with the heartbeat echoed, heartbeat bytes echoed, or urgent
//! data. An echo the program always makes is written by the reader itself (no thread
//! handoff on the round trip); a delayed answer and echoed data go to a
//! [`Writer`] thread, so the reader keeps reading meanwhile.

use crate::message::{Message, MSG_HEARTBEAT, MSG_LEN, MSG_TYPE1, MSG_TYPE2};
use crate::writer::Writer;
use crossbeam_channel::Sender;
use log::debug;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Stack size of reader and writer threads: they hold a buffer of a few KiB; small stacks
/// let one server hold thousands of connections.
pub const READER_STACK: usize = 128 * 1024;

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

/// What a reader does with what it reads.
#[derive(Clone, Debug)]
pub enum Reading {
    /// Any byte restarts the window and is then dropped: both links of `hb_client1`,
    /// `hb_server1`'s `sdata` (`recv( sdata, msg, sizeof( msg ), 0 )`).
    Drop,
    /// Whole 2004-byte `msg_t`s, assembled like the C "in-line readn", and dropped:
    /// `hb_client`, whose "process message" is empty.
    DropMessages,
    /// Whole 2004-byte `msg_t`s, assembled like the C "in-line readn", and the C's
    /// `switch ( ntohl( msg.type ) )` (`hb_server`): each `MSG_HEARTBEAT` is echoed as
    /// `echo` says; `MSG_TYPE1`/`MSG_TYPE2` are taken; any other type ends the connection
    /// (`unknown message type (N)`).
    Messages {
        /// How the heartbeat is answered.
        echo: Echo,
    },
    /// Heartbeat bytes, each echoed by the reader (`hb_server1` on `shb`). The link carries
    /// only `0x00`, what `hb_client1` sends: any other byte ends it before anything is
    /// echoed, so `hb_server1` cannot be made to reflect another service's bytes.
    HeartbeatBytes,
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

/// What ends a connection: all a program must act on (the rest its readers do).
#[derive(Debug)]
pub enum Input {
    /// EOF: the peer closed (`recv` returned 0). With [`Reading::Urgent`], it comes after
    /// every byte read before it was written out.
    Closed {
        /// Where.
        link: Link,
        /// Bytes of an unfinished message lost with the close (0 between messages).
        pending: usize,
    },
    /// A `recv` or `send` failed — a reset, a timeout — or the peer sent what the link may
    /// not carry (an unknown message type, a byte that is not a heartbeat:
    /// `ErrorKind::InvalidData`, with the line to print).
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
    /// The connection's one reader blocks in `read` with the window as its timeout and
    /// wakes the monitor when it expires: while that holds, the monitor needs no timer.
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

    pub(crate) fn set_half_closed(&self) {
        self.half_closed.store(true, Ordering::Release);
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

    /// Whether the reader's read timeout will wake the monitor when the window ends.
    pub(crate) fn covered(&self) -> bool {
        self.cover.load(Ordering::Acquire) && !self.writing.load(Ordering::Acquire)
    }

    /// The monitor waits on this thread (set again if the monitor moved to another one).
    pub(crate) fn set_monitor(&self, t: Thread) {
        *self.monitor.lock().unwrap_or_else(|p| p.into_inner()) = t;
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

    /// Write an echo without stopping to read for longer than it takes: at once if the send
    /// buffer takes it, else, having told the monitor to keep time itself, waiting for room
    /// (bounded by the socket's send timeout).
    fn echo(&self, mut s: &TcpStream, bytes: &[u8]) -> io::Result<()> {
        let n = send_now(s, bytes)?;
        if n == bytes.len() {
            return Ok(());
        }
        self.shared.writing.store(true, Ordering::Release);
        self.wake();
        let sent = s
            .write_all(&bytes[n..])
            .map_err(|e| crate::error::send_timeout(e, s));
        self.shared.writing.store(false, Ordering::Release);
        sent
    }
}

/// `send( s, buf, len, MSG_DONTWAIT )`: what the send buffer takes now (0 when full).
#[doc(alias = "MSG_DONTWAIT")]
#[cfg(unix)]
pub(crate) fn send_now(s: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    match socket2::SockRef::from(s).send_with_flags(buf, libc::MSG_DONTWAIT) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        r => r,
    }
}

/// Winsock has no per-call `MSG_DONTWAIT` (and `FIONBIO` would change the socket for its
/// reader too): send only when `select` finds room, 0 when it finds none. Windows takes a
/// whole send once there is any room, so this does not wait in practice.
#[cfg(not(unix))]
pub(crate) fn send_now(s: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    let room = crate::wait::Events {
        write: true,
        ..Default::default()
    };
    let ready = crate::wait::ready(socket2::SockRef::from(s), room, Some(Duration::ZERO))?;
    if !ready.write {
        return Ok(0);
    }
    (&*s).write(buf)
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

/// The reader thread: read, stamp, answer or hand on, until EOF, an error, or the monitor
/// has gone.
pub(crate) fn read_loop(link: Link, s: Arc<TcpStream>, reading: Reading, to: Notify) {
    debug!("reader started on {}", link.c_name());
    let last = match reading {
        Reading::Drop => read_bytes(link, &s, false, &to),
        Reading::HeartbeatBytes => read_bytes(link, &s, true, &to),
        Reading::DropMessages => read_messages(link, &s, None, &to),
        Reading::Messages { echo } => read_messages(link, &s, Some(echo), &to),
        Reading::Urgent { answer, data } => crate::oob::read_loop(&s, answer, data, &to),
    };
    if let Some(input) = last {
        to.tell(input);
    }
    debug!("reader on {} ended", link.c_name());
}

/// One `read` that got something: its count; EOF and errors as the input that ends the
/// reader (`pending`: bytes of an unfinished message). A read timeout is the window the
/// monitor gave this socket passing in silence: wake the monitor and read on.
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
                to.wake(); // select() returned 0: the monitor counts it
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

/// [`Reading::Drop`] and, with `echo`, [`Reading::HeartbeatBytes`].
fn read_bytes(link: Link, s: &TcpStream, echo: bool, to: &Notify) -> Option<Input> {
    let mut buf = [0u8; 1024];
    loop {
        let n = match read_some(link, s, &mut buf, 0, to) {
            Ok(n) => n,
            Err(end) => return Some(end),
        };
        if let Some(&b) = buf[..n].iter().find(|&&b| b != 0).filter(|_| echo) {
            let what = format!("byte 0x{b:02x} on the heartbeat link, which carries only 0x00");
            let error = io::Error::new(ErrorKind::InvalidData, what);
            return Some(Input::Failed {
                link,
                op: Op::Recv,
                error,
            });
        }
        to.shared.touch(); // heartbeats = 0; tv = T1 (the monitor reads the stamp)
        debug!("read {n} bytes on {}", link.c_name());
        if echo {
            if let Err(error) = to.echo(s, &buf[..n]) {
                let op = Op::Send;
                return Some(Input::Failed { link, op, error });
            }
        }
    }
}

/// How `hb_server` answers a heartbeat (`rc = send( s1, &msg, sizeof( msg ), 0 )`).
#[derive(Clone, Debug)]
pub enum Echo {
    /// At once, by the reader itself: no thread handoff on the round trip.
    Now,
    /// After a delay (`--reply-delay`, seed 001's `sleep(sleepingTime)`), by the writer, so
    /// the reader goes on reading meanwhile.
    After(Duration, Writer),
}

/// [`Reading::Messages`] (with `echo`) and [`Reading::DropMessages`] (without): the C
/// "in-line readn" of whole `msg_t`s.
fn read_messages(link: Link, s: &TcpStream, echo: Option<Echo>, to: &Notify) -> Option<Input> {
    let mut asm = MessageAssembler::new();
    loop {
        let pending = asm.pending();
        let n = match read_some(link, s, asm.space(), pending, to) {
            Ok(n) => n,
            Err(end) => return Some(end),
        };
        to.shared.touch(); // any byte, even part of a message, resets the count
        debug!("read {n} bytes on {}", link.c_name());
        let Some(msg) = asm.filled(n) else {
            continue; // cnt > 0: the stamp is all the monitor needs
        };
        let Some(echo) = &echo else {
            continue; // /* process message */: nothing
        };
        // switch ( ntohl( msg.type ) ), as in hb_server.c
        let sent = match msg.msg_type {
            // rc = send( s1, &msg, sizeof( msg ), 0 ): at once, or late by the writer thread
            MSG_HEARTBEAT => match echo {
                Echo::Now => to.echo(s, asm.wire()),
                Echo::After(delay, writer) => {
                    writer.later(Instant::now() + *delay, asm.wire().to_vec());
                    Ok(())
                }
            },
            MSG_TYPE1 | MSG_TYPE2 => {
                debug!("message type {} on {}", msg.msg_type, link.c_name());
                Ok(())
            }
            other => {
                // %d of ntohl(msg.type), as the C prints it
                let what = format!("unknown message type ({})", other as i32);
                let error = io::Error::new(ErrorKind::InvalidData, what);
                let op = Op::Recv;
                return Some(Input::Failed { link, op, error });
            }
        };
        if let Err(error) = sent {
            let op = Op::Send;
            return Some(Input::Failed { link, op, error });
        }
    }
}

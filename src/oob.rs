//! The out-of-band heartbeat that seed 000 promised ("带外数据的心跳机制 (未完待续)") and never
//! wrote, after Stevens, *UNIX Network Programming* vol. 1 §24.7 (`heartbeat_cli`,
//! `heartbeat_serv`).
//!
//! TCP urgent data: `send(fd, "1", 1, MSG_OOB)` marks one byte urgent; the receiving kernel
//! keeps that byte aside (without `SO_OOBINLINE`), flags the connection, and the receiver
//! takes it with `recv(fd, &c, 1, MSG_OOB)` *out of band* — ahead of any normal data queued
//! before it. A heartbeat sent that way is not stuck behind a megabyte of application data,
//! and needs no message format of its own: that is why Stevens uses it.
//!
//! ## How the reader learns of urgent data
//!
//! Stevens' programs are single-threaded and learn of urgent data from `SIGURG`. Here each
//! connection has a reader thread, and on Linux a thread blocked in a plain `read` loses the
//! urgent byte: when the stream position reaches the urgent mark, `tcp_recvmsg` skips the
//! byte, and once the read has passed the mark the kernel forgets the urgent data, so a later
//! `recv(MSG_OOB)` finds nothing (`EINVAL`). Signals are process-wide and would need the
//! `F_SETOWN` owner to be the right thread.
//!
//! So the reader never blocks in `read`. It blocks in `poll(POLLIN | POLLPRI)`; when
//! `POLLPRI` is set it takes the urgent byte with `recv(MSG_OOB)` first, and only then reads
//! normal data. A normal `read` stops *before* the urgent mark whenever it has copied
//! anything (Linux: "are we at urgent data? stop if we have read anything"), so the next
//! `poll` sees `POLLPRI` before any read can pass the mark. Nothing is lost (the tests send a
//! steady stream of normal data beside the heartbeat and count every urgent byte).
//!
//! One side effect students can watch: the urgent byte's place in the normal stream is never
//! read (the byte itself was taken out of band), so the kernel counts it as unread data, and
//! a socket closed with unread data is reset. A killed OOB server therefore ends its client
//! with `Connection reset by peer`, where the in-band pair sees a FIN (`server terminated`).
//!
//! On platforms without `poll` (Windows) the reader falls back to plain reads: the programs
//! build, but urgent bytes are not seen there.

use crossbeam_channel::Sender;
use log::debug;
use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::thread::{self, JoinHandle};

/// What the reader got.
#[derive(Debug)]
pub enum OobInput {
    /// An urgent byte (`recv(…, MSG_OOB)`).
    Urgent(u8),
    /// Normal data, as one `read` returned it.
    Data(Vec<u8>),
    /// EOF.
    Closed,
    /// An error.
    Failed(io::Error),
}

/// Send one urgent byte (`send(fd, "1", 1, MSG_OOB)`).
#[doc(alias = "MSG_OOB")]
pub fn send_urgent(s: &TcpStream, byte: u8) -> io::Result<()> {
    let sent = socket2::SockRef::from(s).send_out_of_band(&[byte])?;
    if sent == 1 {
        Ok(())
    } else {
        Err(io::Error::new(ErrorKind::WriteZero, "urgent byte not sent"))
    }
}

/// Start the reader thread for `s` (a clone of it), named `reader LABEL`; it sends what it
/// gets on `tx` and ends at EOF, on an error, or when the receiver is gone.
pub fn spawn_reader(
    label: &str,
    s: &TcpStream,
    tx: Sender<OobInput>,
) -> io::Result<JoinHandle<()>> {
    let s = s.try_clone()?;
    thread::Builder::new()
        .name(format!("reader {label}"))
        .stack_size(crate::monitor::READER_STACK)
        .spawn(move || read_loop(s, tx))
}

fn read_loop(mut s: TcpStream, tx: Sender<OobInput>) {
    let mut buf = [0u8; 4096];
    loop {
        let (urgent, normal) = match wait(&s) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(OobInput::Failed(e));
                return;
            }
        };
        if urgent {
            match recv_urgent(&s) {
                Ok(Some(c)) => {
                    debug!("urgent byte {:?}", c as char);
                    if tx.send(OobInput::Urgent(c)).is_err() {
                        return;
                    }
                }
                // The urgent pointer came before its byte (or it was taken): look again.
                Ok(None) if !normal => thread::sleep(std::time::Duration::from_millis(1)),
                Ok(None) => {}
                Err(e) => {
                    let _ = tx.send(OobInput::Failed(e));
                    return;
                }
            }
        }
        if normal {
            let input = match s.read(&mut buf) {
                Ok(0) => OobInput::Closed,
                Ok(n) => OobInput::Data(buf[..n].to_vec()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => OobInput::Failed(e),
            };
            let last = !matches!(input, OobInput::Data(_));
            if tx.send(input).is_err() || last {
                return;
            }
        }
    }
}

/// `recv(fd, &c, 1, MSG_OOB)`: `None` when there is no urgent byte to take (yet).
fn recv_urgent(s: &TcpStream) -> io::Result<Option<u8>> {
    let mut c = [std::mem::MaybeUninit::<u8>::uninit()];
    match socket2::SockRef::from(s).recv_out_of_band(&mut c) {
        // SAFETY: recv wrote the one byte it reports.
        Ok(1) => Ok(Some(unsafe { c[0].assume_init() })),
        Ok(_) => Ok(None),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::InvalidInput) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Block until the socket has urgent data, normal data, EOF or an error:
/// `(urgent, readable)`.
#[cfg(unix)]
fn wait(s: &TcpStream) -> io::Result<(bool, bool)> {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLIN | libc::POLLPRI,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, count 1, no timeout; the fd outlives the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, -1) };
        if rc >= 0 {
            let r = pfd.revents;
            let urgent = r & libc::POLLPRI != 0;
            let readable = r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
            return Ok((urgent, readable));
        }
        let e = io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(not(unix))]
fn wait(_: &TcpStream) -> io::Result<(bool, bool)> {
    Ok((false, true))
}

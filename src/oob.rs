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
//! ## One monitor, like the other heartbeats
//!
//! Stevens' client ticks with `alarm(nsec)`: each tick counts a probe (`++nprobes`) and sends
//! one urgent byte, whatever happened; `sig_urg` only sets `nprobes = 0`. That is the
//! monitor's [`Rule::Alarm`](crate::monitor::Rule::Alarm); the server's "no probes from
//! client" window is the answerer's rule with no idle time. Two things count as the peer's
//! sign of life: an urgent byte from it, and its progress on normal data — each write of
//! ours its kernel takes (with bounded buffers, room comes only when the peer's program
//! reads; [`crate::writer`]). Data the peer merely sends does not count: a peer that sends
//! but never reads is not making progress. The second rule is what keeps a slow reader
//! alive: an urgent byte waits behind everything queued before it on both sides, so behind
//! a stdout read at 20 kB/s a probe's round trip takes longer than the death bound, while
//! the echo moves all the time. Normal data is the application's, echoed or printed
//! untouched by the heartbeat. It goes through a [`Writer`] so the reader never waits on a slow consumer: when
//! the writer's queue is full the reader stops taking normal data (TCP then slows the peer)
//! but keeps looking for urgent bytes every 20 ms.
//!
//! Limits of TCP urgent data that students can watch here: the urgent byte travels *in* the
//! stream, so it waits behind what the sender's send buffer already holds (both programs
//! bound their buffers, [`crate::net::BUFFER`]) and cannot pass a receive window that a reader which
//! stopped reading has closed. And a connection has one urgent mark: when a new mark arrives
//! before the reader's normal reads have reached the old one, the kernel forgets the old
//! byte's place, and the byte — already taken out of band — is read again as normal data.
//! So an exchange is complete only when the receiver has read up to the mark
//! (`sockatmark`): the server answers a probe then, and the client sends its next probe
//! only once the last answer's mark is reached. The reader reads on towards a pending mark
//! while its writer is full, but holds at most [`HELD`] bytes the writer has not taken:
//! a peer that sends data and urgent bytes and never reads its echo stops being read, its
//! window closes, and no more of its urgent bytes arrive. After `str_cli` half-closes at the
//! end of stdin no urgent byte can be sent at all (Stevens' `sig_alrm` would die of `SIGPIPE` there): the
//! client then counts the echo itself as the server's sign of life, until the server closes.
//!
//! Linux's `poll` reports urgent data as `POLLPRI`; macOS's does not, and Windows' `WSAPoll`
//! has no `POLLPRI` at all: there the reader waits in `select` with the socket in the
//! exception set, where both report it ([`crate::sys::ready`]).

use crate::conn::{Input, Link, Notify, Op};
use crate::sys::{self, at_mark, recv_urgent, Events};
use crate::writer::Writer;
use log::debug;
use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Most normal data a reader holds that its writer has not taken (one read's worth): with
/// the writer's queue ([`crate::writer`]) all the memory a peer can make it hold.
pub const HELD: usize = 4096;

/// While the writer has no room for normal data, how often the reader looks for urgent data.
const HELD_RETRY: Duration = Duration::from_millis(20);

/// The reader of an OOB connection ([`Reading::Urgent`](crate::reader::Reading::Urgent)):
/// urgent bytes first, stamped and answered; normal data to `data`. Returns the input that
/// ended it (EOF goes through `data`, after the data before it).
#[doc(alias = "sig_urg")]
pub(crate) fn read_loop(
    s: &TcpStream,
    answer: Option<Writer>,
    data: Writer,
    to: &Notify,
) -> Option<Input> {
    match urgent_first(s, answer.as_ref(), &data, to) {
        Ok(()) => None, // EOF went through `data`, or the writer ended and said why
        Err(error) => Some(Input::Failed {
            link: Link::Data,
            op: Op::Recv,
            error,
        }),
    }
}

/// [`read_loop`]'s work: `Ok` when it handed EOF (or a reset the writer met) to `data`,
/// or `data`'s writer has ended.
fn urgent_first(
    s: &TcpStream,
    answer: Option<&Writer>,
    data: &Writer,
    to: &Notify,
) -> io::Result<()> {
    let mut buf = [0u8; HELD];
    let mut held: Vec<u8> = Vec::new(); // normal data not yet taken by the writer
    let mut mark: Option<u8> = None; // an urgent byte taken, its place not reached yet
    loop {
        // Before waiting: at the mark with nothing after it, poll reports no POLLIN.
        match mark {
            // The exchange is complete: a new urgent mark can no longer hide this one.
            Some(c) if at_mark(s)? => {
                mark = None;
                match answer {
                    // The server: answer now.
                    Some(w) => {
                        debug!("its mark reached: answered with {:?}", c as char);
                        if !w.urgent(c) {
                            debug!("an urgent answer is still waiting; it answers this too");
                        }
                    }
                    // The client: the probe's exchange is over; the next may go.
                    None => to.shared.set_urgent_out(false),
                }
            }
            _ => {}
        }
        // Data read goes to the writer, waiting a little for room, but not while there is
        // still room to read on towards a pending mark.
        let toward_mark = mark.is_some() && held.len() < HELD;
        if !held.is_empty() {
            let wait = if toward_mark {
                Duration::ZERO
            } else {
                HELD_RETRY
            };
            match data.data_within(std::mem::take(&mut held), wait) {
                Ok(()) => {}
                Err(Some(d)) => held = d,
                Err(None) => return Ok(()),
            }
        }
        // Normal data while the writer has room, and up to a pending mark while `held` has.
        let take = held.is_empty() || (mark.is_some() && held.len() < HELD);
        let (urgent, readable) = wait(s, take)?;
        if urgent {
            if let Some(c) = recv_urgent(s).map_err(crate::error::after_reset)? {
                to.shared.touch(); // sig_urg: nprobes = 0
                let from = if answer.is_some() { "client" } else { "server" };
                debug!("urgent byte {:?} from the {from}", c as char);
                mark = Some(c);
                // Look for the mark before any read: a read that starts at the mark
                // skips it and reads on, and the kernel forgets the mark.
                continue;
            }
            // The urgent pointer came before its byte (or it was taken): look again.
            if !readable {
                thread::sleep(Duration::from_millis(1));
            }
        }
        if !readable || !take {
            continue;
        }
        // A read stops before the mark: the next turn of the loop finds it there.
        let room = HELD - held.len();
        let n = match (&*s).read(&mut buf[..room]) {
            // The kernel reports a reset once, to whichever call meets it first: when the
            // writer's send took it, this read sees only an end of file. The connection's
            // state (TCP_CLOSE, not CLOSE_WAIT after a FIN) says which it was. Said after
            // the data before it, as an end of file is. Not after our own half-close: the
            // peer's FIN then ends the connection in TIME_WAIT, which Linux keeps apart
            // from the socket, and the socket says TCP_CLOSE after an orderly end too; the
            // FIN can come before the writer has set the flag, so wait for a half-close
            // under way (`half_closed_settled`).
            Ok(0) if !to.shared.half_closed_settled() && crate::net::was_reset(s) => {
                if !held.is_empty() {
                    data.data(held);
                }
                data.then(Input::Failed {
                    link: Link::Data,
                    op: Op::Recv,
                    error: crate::error::reset(),
                });
                return Ok(());
            }
            Ok(0) => {
                if !held.is_empty() {
                    data.data(held);
                }
                data.then(Input::Closed {
                    link: Link::Data,
                    pending: 0,
                });
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(crate::error::after_reset(e)), // the writer took the reset
        };
        if to.shared.half_closed() {
            to.shared.touch(); // after the half-close the echo is the sign of life
        }
        debug!("read {n} bytes on sdata");
        held.extend_from_slice(&buf[..n]);
    }
}

/// Block until the socket has urgent data or (with `data`) normal data, EOF or an error:
/// `(urgent, readable)`. Without `data`, only look (no wait) for urgent data. How each
/// system reports urgent data: [`crate::sys`].
fn wait(s: &TcpStream, data: bool) -> io::Result<(bool, bool)> {
    let want = Events {
        read: data,
        write: false,
        urgent: true,
    };
    let timeout = if data { None } else { Some(Duration::ZERO) };
    let got = sys::ready(socket2::SockRef::from(s), want, timeout)?;
    Ok((got.urgent, got.read))
}

/// `str_cli`'s reading half (Stevens, `strcliselect02.c`): copy stdin to `w` on a thread of
/// its own, waiting whenever the writer's queue is full; at the end of stdin half-close
/// (`shutdown(SHUT_WR)`), so the server sees EOF after the last byte. The thread is not
/// joined: a read of stdin cannot be interrupted, and the program exits without it.
#[doc(alias = "str_cli")]
pub fn copy_stdin(w: Writer) -> io::Result<JoinHandle<()>> {
    use std::io::Read;
    thread::Builder::new().name("stdin".into()).spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => return w.half_close(),
                Ok(n) if w.data(buf[..n].to_vec()) => {}
                Ok(_) => return, // the writer has ended
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return debug!("stdin: {e}; the link stays open"),
            }
        }
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::conn::Shared;
    use crate::writer::Sink;
    use std::net::{Shutdown, TcpListener};
    use std::sync::Arc;

    /// The peer's FIN answering our own half-close before the writer has marked it done:
    /// the reader's end of file is an orderly end (`Closed`), not a reset, though the
    /// socket already says `TCP_CLOSE`. With the flag set after the shutdown, and read
    /// without waiting, `hb_client_oob` on a loaded loopback ended 3 of 36 runs with `recv
    /// failure: Connection reset by peer (104)` and exit 1, its echo whole, no RST on the
    /// wire (make soak found it).
    #[test]
    fn a_fin_that_answers_our_half_close_at_once_is_no_reset() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = Arc::new(TcpStream::connect(l.local_addr().unwrap()).unwrap());
        let (mut peer, _) = l.accept().unwrap();
        let (tx, rx) = crossbeam_channel::bounded(8);
        let to = Notify {
            tx,
            shared: Arc::new(Shared::new()),
        };
        let (_stop, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let (data, _writer) =
            Writer::spawn("writer test".into(), Sink::Stdout, to.clone(), stop_rx).unwrap();
        let (s, t) = (c.clone(), to.clone());
        let reader = thread::spawn(move || read_loop(&s, None, data, &t));
        // Our half-close, the peer's FIN and the reader's end of file, all before the flag.
        let shut = move || {
            c.shutdown(Shutdown::Write)?;
            assert_eq!(
                peer.read(&mut [0u8; 16]).unwrap(),
                0,
                "the peer sees our FIN"
            );
            drop(peer);
            thread::sleep(Duration::from_millis(200)); // the reader meets its FIN meanwhile
            Ok(())
        };
        to.shared.half_close_with(shut).unwrap();
        let got = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the reader ends");
        assert!(
            matches!(got, Input::Closed { pending: 0, .. }),
            "an orderly end after our half-close was read as {got:?}"
        );
        assert!(
            reader.join().unwrap().is_none(),
            "the end went through the writer"
        );
    }
}

//! The raw system calls, one per function, as `socket2` arranges them: what `std::net`
//! has no call for. Public are those a test or a program uses (`ready`, `readable`,
//! `send_urgent`); the rest serve the monitor's threads. Every other module reaches the
//! kernel through these or through `std`/`socket2`.
//!
//! | function | system call | used by |
//! | --- | --- | --- |
//! | [`ready`] | `poll` (Linux), `select` (macOS urgent data, Windows) | the OOB reader, `hb_server1`'s port handshake, a Windows send |
//! | [`readable`] | `poll` on two descriptors (Windows: `select`) | `hb_client1`'s wait for `shb`, watching `sdata` |
//! | `send_now` | `send(…, MSG_DONTWAIT)` (Windows: `select`, then `send`) | the prober's heartbeat, echoes, a refusal's line ([`crate::net::tell`]) |
//! | [`send_urgent`] | `send(…, MSG_OOB)` | the OOB writer |
//! | `recv_urgent` | `recv(…, MSG_OOB)` | the OOB reader |
//! | `at_mark` | `ioctl(SIOCATMARK)`, i.e. `sockatmark` | the OOB reader |
//! | `tcp_info` | `getsockopt(IPPROTO_TCP, TCP_INFO)` (Linux) | how a connection ended ([`crate::net::was_reset`]), whether a server sent anything |
//! | `default_sigpipe`, `raise_sigpipe` | `signal(SIGPIPE, SIG_DFL)`, `raise(SIGPIPE)` | a program whose output pipe closed |
//!
//! Waiting (`ready`, `readable`) lives in `sys/wait.rs`: why `poll` on Linux, `select` for
//! macOS's urgent data and on Windows.

mod wait;
pub use wait::{readable, ready, Events};

use socket2::SockRef;
use std::io::{self, ErrorKind};
use std::net::TcpStream;
#[cfg(not(unix))]
use std::time::Duration;

/// `send( s, buf, len, MSG_DONTWAIT )`: what the send buffer takes now (0 when full).
#[doc(alias = "MSG_DONTWAIT")]
#[cfg(unix)]
pub(crate) fn send_now(s: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    match SockRef::from(s).send_with_flags(buf, libc::MSG_DONTWAIT) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(0),
        r => r,
    }
}

/// Winsock has no per-call `MSG_DONTWAIT` (and `FIONBIO` would change the socket for its
/// reader too): send only when `select` finds room, 0 when it finds none. Windows takes a
/// whole send once there is any room, so this does not wait in practice. (Two calls: the
/// one place where a system lacks the one call.)
#[cfg(not(unix))]
pub(crate) fn send_now(s: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    let room = Events {
        write: true,
        ..Default::default()
    };
    if !ready(SockRef::from(s), room, Some(Duration::ZERO))?.write {
        return Ok(0);
    }
    (&*s).write(buf)
}

/// Send one urgent byte (`send(fd, "1", 1, MSG_OOB)`), waiting for room in the send buffer.
/// The monitor never calls this: it queues the byte on the connection's writer.
#[doc(alias = "MSG_OOB")]
pub fn send_urgent(s: &TcpStream, byte: u8) -> io::Result<()> {
    match SockRef::from(s).send_out_of_band(&[byte])? {
        1 => Ok(()),
        _ => Err(io::Error::new(ErrorKind::WriteZero, "urgent byte not sent")),
    }
}

/// `recv(fd, &c, 1, MSG_OOB)`: `None` when there is no urgent byte to take (yet).
#[doc(alias = "MSG_OOB")]
pub(crate) fn recv_urgent(s: &TcpStream) -> io::Result<Option<u8>> {
    let mut c = [std::mem::MaybeUninit::<u8>::uninit()];
    match SockRef::from(s).recv_out_of_band(&mut c) {
        // SAFETY: recv wrote the one byte it reports.
        Ok(1) => Ok(Some(unsafe { c[0].assume_init() })),
        Ok(_) => Ok(None),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::InvalidInput) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `getsockopt( s, IPPROTO_TCP, TCP_INFO )`, with the length the kernel filled in; `None`
/// if the call failed.
#[doc(alias = "TCP_INFO")]
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn tcp_info(s: &TcpStream) -> Option<(libc::tcp_info, usize)> {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed tcp_info is valid; getsockopt writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt on our socket into the struct above, its size in `len`.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some((info, len as usize))
}

/// `ioctl(fd, SIOCATMARK)` (`<linux/sockios.h>`; on macOS `_IOR('s', 7, int)`).
#[cfg(target_os = "linux")]
const SIOCATMARK: libc::c_ulong = 0x8905;
#[cfg(target_os = "macos")]
const SIOCATMARK: libc::c_ulong = 0x4004_7307;

/// `sockatmark(fd)`: whether the next normal read starts at the urgent mark.
#[doc(alias = "sockatmark")]
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub(crate) fn at_mark(s: &TcpStream) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut at: libc::c_int = 0;
    // SAFETY: SIOCATMARK writes one int through the pointer, which outlives the call.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), SIOCATMARK as _, &mut at) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(at != 0)
}

/// Winsock's `SIOCATMARK` answers another question ("is no urgent data waiting?", true as
/// soon as the byte is taken out of band), so on Windows every mark counts as reached once its
/// byte is taken: the server answers at once, as Stevens' `sig_urg` does. No call.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub(crate) fn at_mark(_: &TcpStream) -> io::Result<bool> {
    Ok(true)
}

/// `signal(SIGPIPE, SIG_DFL)`: undo the Rust runtime's `SIG_IGN`, so that a `SIGPIPE` kills
/// the process as it kills the C program. No-op off Unix.
#[doc(alias = "SIGPIPE")]
pub(crate) fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: signal on this process with a default disposition; no memory is touched.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `raise(SIGPIPE)`: with `default_sigpipe` first, the process dies of it (status 141 in
/// the shell). No-op off Unix.
#[doc(alias = "SIGPIPE")]
pub(crate) fn raise_sigpipe() {
    #[cfg(unix)]
    // SAFETY: raise on this process; no memory is touched.
    unsafe {
        libc::raise(libc::SIGPIPE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    #[test]
    fn readable_says_which_of_two_is_ready() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (a, _) = l.accept().unwrap();
        let short = Duration::from_millis(50);
        let t0 = Instant::now();
        assert_eq!(
            readable((&l).into(), (&a).into(), short).unwrap(),
            (false, false)
        );
        assert!(
            t0.elapsed() >= Duration::from_millis(45),
            "{:?}",
            t0.elapsed()
        );
        c.write_all(b"x").unwrap();
        assert_eq!(
            readable((&l).into(), (&a).into(), short).unwrap(),
            (false, true)
        );
        let _d = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        assert_eq!(
            readable((&l).into(), (&a).into(), short).unwrap(),
            (true, true)
        );
    }

    #[test]
    fn read_write_and_urgent_are_reported_and_timeouts_hold() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let short = Some(Duration::from_millis(50));
        let read = Events {
            read: true,
            ..Events::default()
        };
        let t0 = Instant::now();
        assert_eq!(
            ready(SockRef::from(&l), read, short).unwrap(),
            Events::default()
        );
        assert!(
            t0.elapsed() >= Duration::from_millis(45),
            "{:?}",
            t0.elapsed()
        );
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        assert!(
            ready(SockRef::from(&l), read, short).unwrap().read,
            "listener"
        );
        let (a, _) = l.accept().unwrap();
        let all = Events {
            read: true,
            write: true,
            urgent: true,
        };
        let now = ready(SockRef::from(&a), all, Some(Duration::ZERO)).unwrap();
        assert_eq!((now.read, now.write, now.urgent), (false, true, false));
        c.write_all(b"x").unwrap();
        assert!(ready(SockRef::from(&a), read, short).unwrap().read, "data");
        SockRef::from(&c).send_out_of_band(b"!").unwrap();
        let urgent = Events {
            urgent: true,
            ..Events::default()
        };
        assert!(
            ready(SockRef::from(&a), urgent, Some(Duration::from_secs(5)))
                .unwrap()
                .urgent,
            "urgent"
        );
    }
}

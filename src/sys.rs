//! The raw system calls, one per function, as `socket2` arranges them: what `std::net`
//! has no call for. Public are the two a test or a reader's own program uses (`ready`,
//! `send_urgent`); the rest serve the monitor's threads. Every other module reaches the kernel through these or through
//! `std`/`socket2`.
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
//! ## `ready`: `select` on one socket with a timeout
//!
//! The `select(maxfd + 1, &readmask, NULL, NULL, &tv)` of seed 000's loops, for the places
//! the port still needs it: the OOB reader's wait for urgent data (Stevens' `sig_urg`,
//! [`crate::oob`]), `hb_server1`'s port handshake
//! ([`crate::readn::readn_until`]), and a send that must not wait for room (Windows). Its
//! timeout is an hrtimer on Linux (exact to the millisecond it is given in), unlike a
//! socket's `SO_RCVTIMEO`, which the kernel's timer wheel rounds up by as much as 1/8.
//!
//! Why not one call everywhere: each system reports urgent data differently.
//! - **Linux**: `poll` with `POLLPRI` reports pending urgent data; it has no descriptor limit.
//! - **macOS**: `poll` is built on kqueue there and does not report urgent data unless normal
//!   data is readable too, so urgent data is looked for with `select` and the socket in the
//!   exception set, where BSD reports it. `select`'s `fd_set` holds descriptors below
//!   `FD_SETSIZE` (1024): a socket above that gets an error naming the limit; reads and
//!   writes use `poll`.
//! - **Windows**: `WSAPoll` has no `POLLPRI`; Winsock reports urgent data in `select`'s
//!   `exceptfds`. Its `fd_set` is a list of sockets, so there is no value limit.

use socket2::SockRef;
use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::time::Duration;

/// What to wait for, and what [`ready`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// Normal data, EOF, an error, or (on a listener) a connection to accept.
    pub read: bool,
    /// Room in the send buffer.
    pub write: bool,
    /// Urgent data (TCP `MSG_OOB`).
    pub urgent: bool,
}

/// Wait until `s` has one of `want`, or `timeout` passes (`None`: for ever; zero: only look).
/// Returns what is ready (all false on timeout). `EINTR` is retried.
#[doc(alias = "select")]
#[doc(alias = "poll")]
pub fn ready(s: SockRef<'_>, want: Events, timeout: Option<Duration>) -> io::Result<Events> {
    loop {
        match imp::ready(&s, want, timeout) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Milliseconds for `poll` (`-1`: for ever), rounded up so a short wait is not a spin.
#[cfg(unix)]
fn poll_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(t) => t
            .as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128) as libc::c_int,
    }
}

/// `poll` on one descriptor; `POLLPRI` asks for urgent data (Linux reports it).
#[cfg(unix)]
fn poll(s: &SockRef<'_>, want: Events, timeout: Option<Duration>) -> io::Result<Events> {
    use std::os::fd::AsRawFd;
    let mut events = 0;
    if want.read {
        events |= libc::POLLIN;
    }
    if want.write {
        events |= libc::POLLOUT;
    }
    if want.urgent {
        events |= libc::POLLPRI;
    }
    let mut pfd = libc::pollfd {
        fd: s.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1; the descriptor outlives the call.
    if unsafe { libc::poll(&mut pfd, 1, poll_ms(timeout)) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let r = pfd.revents;
    let failed = r & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
    Ok(Events {
        read: want.read && (r & libc::POLLIN != 0 || failed),
        write: want.write && (r & libc::POLLOUT != 0 || failed),
        urgent: r & libc::POLLPRI != 0,
    })
}

#[cfg(not(target_os = "macos"))]
#[cfg(unix)]
mod imp {
    pub(super) use super::poll as ready;
}

#[cfg(target_os = "macos")]
mod imp {
    use super::Events;
    use socket2::SockRef;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    /// Urgent data through `select`'s exception set; everything else through `poll`.
    pub(super) fn ready(
        s: &SockRef<'_>,
        want: Events,
        timeout: Option<Duration>,
    ) -> io::Result<Events> {
        if !want.urgent {
            return super::poll(s, want, timeout);
        }
        let fd = s.as_raw_fd();
        if fd as usize >= libc::FD_SETSIZE {
            let msg = format!(
                "descriptor {fd} is beyond select's FD_SETSIZE ({}): urgent data cannot be watched",
                libc::FD_SETSIZE
            );
            return Err(io::Error::other(msg));
        }
        // SAFETY: fd_set is plain data; FD_ZERO/FD_SET/FD_ISSET on sets we own, with fd
        // below FD_SETSIZE (checked above); select gets valid pointers for one call.
        unsafe {
            let mut r: libc::fd_set = std::mem::zeroed();
            let mut w: libc::fd_set = std::mem::zeroed();
            let mut x: libc::fd_set = std::mem::zeroed();
            libc::FD_ZERO(&mut r);
            libc::FD_ZERO(&mut w);
            libc::FD_ZERO(&mut x);
            if want.read {
                libc::FD_SET(fd, &mut r);
            }
            if want.write {
                libc::FD_SET(fd, &mut w);
            }
            libc::FD_SET(fd, &mut x);
            let mut tv = timeout.map(|t| libc::timeval {
                tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
                tv_usec: t.subsec_micros() as libc::suseconds_t,
            });
            let tvp = tv.as_mut().map_or(std::ptr::null_mut(), |t| t as *mut _);
            if libc::select(fd + 1, &mut r, &mut w, &mut x, tvp) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Events {
                read: libc::FD_ISSET(fd, &r),
                write: libc::FD_ISSET(fd, &w),
                urgent: libc::FD_ISSET(fd, &x),
            })
        }
    }
}

#[cfg(windows)]
mod imp {
    use super::Events;
    use socket2::SockRef;
    use std::io;
    use std::os::windows::io::AsRawSocket;
    use std::time::Duration;
    use windows_sys::Win32::Networking::WinSock::{
        select, WSAGetLastError, FD_SET, SOCKET, SOCKET_ERROR, TIMEVAL,
    };

    /// Winsock `select`: urgent data is reported in `exceptfds`.
    pub(super) fn ready(
        s: &SockRef<'_>,
        want: Events,
        timeout: Option<Duration>,
    ) -> io::Result<Events> {
        let sock = s.as_raw_socket() as SOCKET;
        let one = |on: bool| {
            let mut set = FD_SET::default();
            if on {
                set.fd_count = 1;
                set.fd_array[0] = sock;
            }
            set
        };
        let (mut r, mut w, mut x) = (one(want.read), one(want.write), one(want.urgent));
        let tv = timeout.map(|t| TIMEVAL {
            tv_sec: t.as_secs().min(i32::MAX as u64) as i32,
            tv_usec: t.subsec_micros() as i32,
        });
        let tvp = tv.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        // SAFETY: three FD_SETs and a TIMEVAL we own, valid for the call; nfds is ignored.
        let rc = unsafe { select(0, &mut r, &mut w, &mut x, tvp) };
        if rc == SOCKET_ERROR {
            // SAFETY: no preconditions.
            return Err(io::Error::from_raw_os_error(unsafe { WSAGetLastError() }));
        }
        // select leaves in each set only the sockets that are ready.
        Ok(Events {
            read: want.read && r.fd_count > 0,
            write: want.write && w.fd_count > 0,
            urgent: want.urgent && x.fd_count > 0,
        })
    }
}

/// Which of two sockets is readable (data, an end of file, an error, or on a listener a
/// connection to accept) within `timeout`: both false when it passes. The two-descriptor
/// `select( maxfd1, &readfd, NULL, NULL, &tv )` of seed 000's loops, for `hb_client1`'s wait
/// for the connection back while the server may close `sdata`. `EINTR` is retried.
#[doc(alias = "select")]
#[doc(alias = "poll")]
pub fn readable(a: SockRef<'_>, b: SockRef<'_>, timeout: Duration) -> io::Result<(bool, bool)> {
    loop {
        match imp_two::readable(&a, &b, timeout) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[cfg(unix)]
mod imp_two {
    use socket2::SockRef;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    /// `poll` on two descriptors for reading (macOS's `poll` reports reading well).
    pub(super) fn readable(
        a: &SockRef<'_>,
        b: &SockRef<'_>,
        timeout: Duration,
    ) -> io::Result<(bool, bool)> {
        let pfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [pfd(a.as_raw_fd()), pfd(b.as_raw_fd())];
        // SAFETY: two valid pollfds, count 2; the descriptors outlive the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, super::poll_ms(Some(timeout))) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let any = libc::POLLIN | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
        Ok((fds[0].revents & any != 0, fds[1].revents & any != 0))
    }
}

#[cfg(windows)]
mod imp_two {
    use socket2::SockRef;
    use std::io;
    use std::os::windows::io::AsRawSocket;
    use std::time::Duration;
    use windows_sys::Win32::Networking::WinSock::{
        select, WSAGetLastError, FD_SET, SOCKET, SOCKET_ERROR, TIMEVAL,
    };

    /// Winsock `select` with both sockets in `readfds`; it leaves there those that are ready.
    pub(super) fn readable(
        a: &SockRef<'_>,
        b: &SockRef<'_>,
        timeout: Duration,
    ) -> io::Result<(bool, bool)> {
        let (sa, sb) = (a.as_raw_socket() as SOCKET, b.as_raw_socket() as SOCKET);
        let mut r = FD_SET {
            fd_count: 2,
            ..Default::default()
        };
        r.fd_array[..2].copy_from_slice(&[sa, sb]);
        let tv = TIMEVAL {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as i32,
            tv_usec: timeout.subsec_micros() as i32,
        };
        // SAFETY: an FD_SET and a TIMEVAL we own, valid for the call; nfds is ignored.
        let rc = unsafe { select(0, &mut r, std::ptr::null_mut(), std::ptr::null_mut(), &tv) };
        if rc == SOCKET_ERROR {
            // SAFETY: no preconditions.
            return Err(io::Error::from_raw_os_error(unsafe { WSAGetLastError() }));
        }
        let left = &r.fd_array[..r.fd_count as usize];
        Ok((left.contains(&sa), left.contains(&sb)))
    }
}

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
    use std::time::Instant;

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

//! Waiting on sockets: `select`/`poll` with a timeout, for [`crate::sys`].
//!
//! ## `ready`: `select` on one socket with a timeout; `readable`: on two
//!
//! The `select(maxfd + 1, &readmask, NULL, NULL, &tv)` of seed 000's loops, for the places
//! the port still needs it: the OOB reader's wait for urgent data (Stevens' `sig_urg`,
//! [`crate::oob`]), `hb_server1`'s port handshake ([`crate::readn::readn_until`]), a send
//! that must not wait for room (Windows), and — two sockets at once, as the C's loops have
//! them — `hb_client1`'s wait for `shb` while it watches `sdata` ([`readable`]). Its timeout is an hrtimer on Linux (exact to the millisecond it is given in), unlike a
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
use std::io;
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

//! What each system does differently about keepalive: where its defaults live, what can be
//! read back, which option bounds unacknowledged data (Linux `TCP_USER_TIMEOUT`, Windows
//! `TCP_MAXRT`, macOS `TCP_RXT_CONNDROPTIME`), and the error a keepalive failure gives.
//!
//! | | Linux | macOS | Windows |
//! | --- | --- | --- | --- |
//! | defaults | `/proc/sys/net/ipv4/tcp_keepalive_*` | `sysctl net.inet.tcp.keep*` | registry `Tcpip\Parameters`, else documented 2 h / 1 s / 10 |
//! | idle, interval set | `TCP_KEEPIDLE`, `TCP_KEEPINTVL` | `TCP_KEEPALIVE`, `TCP_KEEPINTVL` | `SIO_KEEPALIVE_VALS` (seed 004) |
//! | probes set | `TCP_KEEPCNT` | `TCP_KEEPCNT` | `TCP_KEEPCNT` (Windows 10 1703+), else fixed at 10 |
//! | read back | all | all | `getsockopt` (Windows 10 1709+) |
//! | unacknowledged data | `TCP_USER_TIMEOUT` (ms) | `TCP_RXT_CONNDROPTIME` (s) | `TCP_MAXRT` (s) |
//! | keepalive failure | `ETIMEDOUT` | `ETIMEDOUT` | `WSAENETRESET` (10052) |

use super::Settings;
use std::io;
use std::net::TcpStream;
use std::time::Duration;

/// The system-wide defaults and where they were read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// The three timings.
    pub settings: Settings,
    /// Where they come from (`/proc/sys/net/ipv4`, `sysctl net.inet.tcp`, …).
    pub source: String,
}

/// The option that bounds how long sent data may stay unacknowledged, as this system names it.
pub const USER_TIMEOUT: &str = if cfg!(windows) {
    "TCP_MAXRT"
} else if cfg!(target_os = "macos") {
    "TCP_RXT_CONNDROPTIME"
} else {
    "TCP_USER_TIMEOUT"
};

/// Whether [`USER_TIMEOUT`] also ends keepalive probing (Linux: the connection is dropped at
/// the first probe at least the user timeout after the last byte, whatever the probe count).
pub const USER_TIMEOUT_ENDS_PROBES: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Whether `e` is how this system reports that keepalive gave up on the peer.
pub fn is_keepalive_failure(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::TimedOut {
        return true;
    }
    // WSAENETRESET: "the connection has been broken due to keep-alive activity"; and a
    // TCP_MAXRT expiry aborts the connection (WSAECONNABORTED).
    cfg!(windows) && matches!(e.raw_os_error(), Some(10052 | 10053))
}

#[cfg(not(windows))]
fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Linux: `/proc/sys/net/ipv4/tcp_keepalive_{time,intvl,probes}`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn defaults() -> io::Result<Defaults> {
    let read = |name: &str| -> io::Result<u64> {
        let path = format!("/proc/sys/net/ipv4/{name}");
        let text = std::fs::read_to_string(&path)?;
        text.trim()
            .parse()
            .map_err(|_| invalid(format!("{path}: {text:?}")))
    };
    Ok(Defaults {
        settings: Settings {
            idle: Duration::from_secs(read("tcp_keepalive_time")?),
            interval: Duration::from_secs(read("tcp_keepalive_intvl")?),
            probes: read("tcp_keepalive_probes")? as u32,
        },
        source: "/proc/sys/net/ipv4".into(),
    })
}

/// macOS: `sysctl net.inet.tcp.keepidle`, `keepintvl` (milliseconds) and `keepcnt`.
#[cfg(target_os = "macos")]
pub fn defaults() -> io::Result<Defaults> {
    let read = |name: &str| -> io::Result<u64> {
        let c = std::ffi::CString::new(name).map_err(|_| invalid(name.into()))?;
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>();
        // SAFETY: an int-sized out buffer and its length; no new value is set.
        let rc = unsafe {
            libc::sysctlbyname(
                c.as_ptr(),
                &mut v as *mut _ as *mut _,
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        u64::try_from(v).map_err(|_| invalid(format!("{name}: {v}")))
    };
    Ok(Defaults {
        settings: Settings {
            idle: Duration::from_millis(read("net.inet.tcp.keepidle")?),
            interval: Duration::from_millis(read("net.inet.tcp.keepintvl")?),
            probes: read("net.inet.tcp.keepcnt")? as u32,
        },
        source: "sysctl net.inet.tcp".into(),
    })
}

/// Windows: `KeepAliveTime` and `KeepAliveInterval` (milliseconds) under
/// `HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters`, each defaulting to the
/// documented 2 hours and 1 second when absent; the probe count is fixed at 10 (Vista on).
#[cfg(windows)]
pub fn defaults() -> io::Result<Defaults> {
    use windows_sys::Win32::System::Registry::{
        RegGetValueW, HKEY_LOCAL_MACHINE, RRF_RT_REG_DWORD,
    };
    let wide = |s: &str| s.encode_utf16().chain(Some(0)).collect::<Vec<u16>>();
    let key = wide(r"SYSTEM\CurrentControlSet\Services\Tcpip\Parameters");
    let read = |name: &str| -> Option<u64> {
        let value = wide(name);
        let (mut v, mut len) = (0u32, 4u32);
        // SAFETY: NUL-terminated UTF-16 strings and a DWORD out buffer with its length.
        let rc = unsafe {
            RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key.as_ptr(),
                value.as_ptr(),
                RRF_RT_REG_DWORD,
                std::ptr::null_mut(),
                &mut v as *mut u32 as *mut _,
                &mut len,
            )
        };
        (rc == 0).then_some(u64::from(v))
    };
    let (time, intvl) = (read("KeepAliveTime"), read("KeepAliveInterval"));
    let source = match (time, intvl) {
        (None, None) => "Windows' documented defaults (none set in the registry)",
        _ => r"registry Tcpip\Parameters (documented defaults where unset)",
    };
    Ok(Defaults {
        settings: Settings {
            idle: Duration::from_millis(time.unwrap_or(7_200_000)),
            interval: Duration::from_millis(intvl.unwrap_or(1_000)),
            probes: 10,
        },
        source: source.into(),
    })
}

/// Elsewhere there is no known source.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    windows
)))]
pub fn defaults() -> io::Result<Defaults> {
    Err(unsupported("no known source"))
}

/// What a system without a source or an option says.
#[allow(dead_code)] // only some systems lack something
fn unsupported(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, format!("{what} on this system"))
}

/// `setsockopt(IPPROTO_TCP, opt, &value)` when `set`, then `getsockopt` of the same int: the
/// options socket2 does not wrap on macOS and Windows.
#[cfg(any(target_os = "macos", windows))]
fn tcp_int(s: &TcpStream, opt: i32, set: Option<i32>) -> io::Result<i32> {
    #[cfg(target_os = "macos")]
    use {
        libc::{getsockopt, setsockopt, IPPROTO_TCP},
        std::os::fd::AsRawFd as _,
    };
    #[cfg(windows)]
    use {
        std::os::windows::io::AsRawSocket as _,
        windows_sys::Win32::Networking::WinSock::{getsockopt, setsockopt, IPPROTO_TCP},
    };
    #[cfg(windows)]
    let sock = s.as_raw_socket() as windows_sys::Win32::Networking::WinSock::SOCKET;
    #[cfg(target_os = "macos")]
    let sock = s.as_raw_fd();
    // WSAGetLastError is GetLastError on Windows, which last_os_error reads.
    let check = |rc: i32| {
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    let size = std::mem::size_of::<i32>();
    if let Some(v) = set {
        // SAFETY: an int and its length, for one call on a socket we hold.
        check(unsafe { setsockopt(sock, IPPROTO_TCP, opt, (&v as *const i32).cast(), size as _) })?;
    }
    let (mut v, mut len) = (0i32, size as _);
    // SAFETY: an int out buffer and its length, for one call on a socket we hold.
    check(unsafe {
        getsockopt(
            sock,
            IPPROTO_TCP,
            opt,
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    })?;
    Ok(v)
}

/// An option of whole seconds read back (`None` for 0: off).
#[cfg(any(target_os = "macos", windows))]
fn tcp_seconds(s: &TcpStream, opt: i32) -> io::Result<Option<Duration>> {
    let v = tcp_int(s, opt, None)?;
    Ok((v > 0).then(|| Duration::from_secs(v as u64)))
}

/// The user-timeout equivalents, in seconds: `TCP_MAXRT` (ws2ipdef.h: 5) on Windows,
/// `TCP_RXT_CONNDROPTIME` (netinet/tcp.h: 0x80) on macOS.
#[cfg(any(target_os = "macos", windows))]
const USER_TIMEOUT_OPT: i32 = if cfg!(windows) { 5 } else { 0x80 };

/// `TCP_KEEPIDLE` read back.
pub fn idle_of(s: &TcpStream) -> io::Result<Duration> {
    #[cfg(windows)]
    return tcp_seconds(s, windows_sys::Win32::Networking::WinSock::TCP_KEEPIDLE)
        .map(Option::unwrap_or_default);
    #[cfg(not(windows))]
    socket2::SockRef::from(s).tcp_keepalive_time()
}

/// `TCP_KEEPINTVL` read back.
pub fn interval_of(s: &TcpStream) -> io::Result<Duration> {
    #[cfg(windows)]
    return tcp_seconds(s, windows_sys::Win32::Networking::WinSock::TCP_KEEPINTVL)
        .map(Option::unwrap_or_default);
    #[cfg(not(windows))]
    socket2::SockRef::from(s).tcp_keepalive_interval()
}

/// Set [`USER_TIMEOUT`] to `t`: milliseconds on Linux, whole seconds (rounded up, never 0,
/// which means "off") on macOS and Windows.
pub fn set_user_timeout(s: &TcpStream, t: Duration) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return socket2::SockRef::from(s).set_tcp_user_timeout(Some(t));
    #[cfg(any(target_os = "macos", windows))]
    {
        let secs = t.as_secs_f64().ceil().clamp(1.0, f64::from(i32::MAX)) as i32;
        tcp_int(s, USER_TIMEOUT_OPT, Some(secs)).map(drop)
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        windows
    )))]
    {
        let _ = (s, t);
        Err(unsupported("no such option"))
    }
}

/// [`USER_TIMEOUT`] read back (`None`: not set, the system's retransmission rules apply).
pub fn user_timeout_of(s: &TcpStream) -> io::Result<Option<Duration>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return socket2::SockRef::from(s).tcp_user_timeout();
    #[cfg(any(target_os = "macos", windows))]
    return tcp_seconds(s, USER_TIMEOUT_OPT);
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        windows
    )))]
    {
        let _ = s;
        Err(unsupported("no such option"))
    }
}

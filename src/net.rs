//! `set_address`, `tcp_server`, `tcp_client`, `udp_server`, `udp_client` from seed 000's
//! `readn.c` (the helpers of Snader's *Effective TCP/IP Programming*, which the article uses).
//!
//! `set_address` turns a host and a service into a socket address the way the C does: a
//! dotted IPv4 address (`inet_aton`), otherwise a host name whose first address is taken
//! (`gethostbyname`); `NULL` host means any address (`INADDR_ANY`). The service is a port
//! number or a name from `/etc/services` (`getservbyname`). This port also takes IPv6
//! literals (`::1`, `[::1]`), which the C `sockaddr_in` cannot hold.
//!
//! `/etc/services` is parsed here rather than looked up through libc, so the lookup is the
//! same on every platform and a test can give it its own file.
//!
//! `tcp_server` sets `SO_REUSEADDR` (so a server restarted in the lab can bind again while old
//! connections sit in `TIME_WAIT`), binds and listens with a backlog of [`NLISTEN`] = 5, as
//! the C does. Errors carry the C wording (`bind failed: Address already in use (98)`).

use crate::error::context;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket,
};

/// Maximum waiting connections (`#define NLISTEN 5`).
pub const NLISTEN: i32 = 5;

/// Where services are looked up: `/etc/services`, and its Windows counterpart.
#[cfg(not(windows))]
pub const SERVICES_FILE: &str = "/etc/services";
/// Where services are looked up: `/etc/services`, and its Windows counterpart.
#[cfg(windows)]
pub const SERVICES_FILE: &str = r"C:\Windows\System32\drivers\etc\services";

/// Look `name` up for `proto` (`"tcp"` or `"udp"`) in the text of an `/etc/services` file:
/// `name port/proto [aliases…] [# comment]`. Aliases match too.
#[doc(alias = "getservbyname")]
pub fn lookup_service_in(services: &str, name: &str, proto: &str) -> Option<u16> {
    services.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let official = words.next()?;
        let (port, p) = words.next()?.split_once('/')?;
        let port: u16 = port.parse().ok()?;
        let named = official == name || words.any(|alias| alias == name);
        (named && p == proto).then_some(port)
    })
}

/// Look a service up in [`SERVICES_FILE`]; `None` when the file or the name is missing.
pub fn lookup_service(name: &str, proto: &str) -> Option<u16> {
    let text = std::fs::read_to_string(SERVICES_FILE).ok()?;
    lookup_service_in(&text, name, proto)
}

/// A port as the programs take it: a decimal number 0–65535 or a service name.
/// Errors say which (`port 70000 out of range (0-65535)`, `unknown service: foo`).
pub fn parse_port(service: &str, proto: &str) -> io::Result<u16> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    if !service.is_empty() && service.bytes().all(|b| b.is_ascii_digit()) {
        return match service.parse::<u32>() {
            Ok(n) if n <= 65535 => Ok(n as u16),
            _ => Err(invalid(format!("port {service} out of range (0-65535)"))),
        };
    }
    lookup_service(service, proto).ok_or_else(|| invalid(format!("unknown service: {service}")))
}

/// Fill in a socket address from a host and a service (`set_address`). `host` `None` is any
/// IPv4 address. Unknown names give `unknown host: X` / `unknown service: X`.
pub fn set_address(host: Option<&str>, service: &str, proto: &str) -> io::Result<SocketAddr> {
    let port = parse_port(service, proto)?;
    let ip = match host {
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(h) => resolve_host(h)?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn resolve_host(host: &str) -> io::Result<IpAddr> {
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Ok(IpAddr::V4(v4));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return Ok(IpAddr::V6(v6));
    }
    let unknown = || io::Error::new(io::ErrorKind::NotFound, format!("unknown host: {host}"));
    // gethostbyname gives IPv4 addresses; prefer one, else take what the resolver has.
    let addrs: Vec<SocketAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|_| unknown())?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.ip())
        .ok_or_else(unknown)
}

/// `socket( AF_INET, SOCK_STREAM, 0 )`, with the buffers bounded ([`BUFFER`]) before it
/// connects or listens: every socket of every program, so the window offered in the
/// handshake is already the bounded one, and a listener's accepted sockets inherit it.
#[doc(alias = "SO_SNDBUF")]
#[doc(alias = "SO_RCVBUF")]
fn tcp_socket(addr: &SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|e| context(e, "socket call failed"))?;
    s.set_send_buffer_size(BUFFER)
        .and_then(|()| s.set_recv_buffer_size(BUFFER))
        .map_err(|e| context(e, "setsockopt failed"))?;
    Ok(s)
}

/// Set up a TCP server (`tcp_server`): `SO_REUSEADDR`, bind, listen with [`NLISTEN`].
/// `host` `None` listens on every address, IPv4 (`INADDR_ANY`, as the C) and IPv6 alike.
pub fn tcp_server(host: Option<&str>, service: &str) -> io::Result<TcpListener> {
    tcp_server_backlog(host, service, NLISTEN)
}

/// [`tcp_server`] with another listen backlog. With the article's 5, a burst of clients
/// overflows the accept queue while the server is busy starting threads: the kernel drops
/// the extra SYNs and those clients retry after 1 s, 3 s, 7 s… (`--backlog` on the servers).
#[doc(alias = "tcp_server")]
#[doc(alias = "listen")]
pub fn tcp_server_backlog(
    host: Option<&str>,
    service: &str,
    backlog: i32,
) -> io::Result<TcpListener> {
    let local = set_address(host, service, "tcp")?;
    if host.is_none() {
        // INADDR_ANY is IPv4 only: `hb_client ::1 9000` would be refused. IPv6's any address
        // with IPV6_V6ONLY off takes both (IPv4 clients arrive as ::ffff:a.b.c.d, shown as
        // a.b.c.d by `canonical`); a host without IPv6 gets IPv4 alone.
        let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), local.port());
        match listen_on(&any6, backlog, true) {
            Ok(l) => return Ok(l),
            Err(e) if no_ipv6(&e) => log::debug!("no IPv6 here ({e}): listening on IPv4 only"),
            Err(e) => return Err(e),
        }
    }
    listen_on(&local, backlog, false)
}

/// `socket`, `SO_REUSEADDR`, (`IPV6_V6ONLY` off), `bind`, `listen`.
fn listen_on(local: &SocketAddr, backlog: i32, dual: bool) -> io::Result<TcpListener> {
    let s = tcp_socket(local)?;
    s.set_reuse_address(true)
        .map_err(|e| context(e, "setsockopt failed"))?;
    if dual {
        s.set_only_v6(false)
            .map_err(|e| context(e, "setsockopt failed"))?;
    }
    s.bind(&(*local).into())
        .map_err(|e| context(e, "bind failed"))?;
    s.listen(backlog).map_err(|e| context(e, "listen failed"))?;
    Ok(s.into())
}

/// Whether `e` says this host has no IPv6 (no such family, or no `::` address to bind).
fn no_ipv6(e: &io::Error) -> bool {
    #[cfg(unix)]
    const NO_FAMILY: [i32; 2] = [libc::EAFNOSUPPORT, libc::EPROTONOSUPPORT];
    #[cfg(not(unix))]
    const NO_FAMILY: [i32; 2] = [10047, 10043]; // WSAEAFNOSUPPORT, WSAEPROTONOSUPPORT
    e.kind() == io::ErrorKind::AddrNotAvailable
        || crate::error::os_errno(e).is_some_and(|n| NO_FAMILY.contains(&n))
}

/// A peer as people write it: an IPv4 client of a dual-stack listener (`[::ffff:127.0.0.1]:
/// 40000`) as `127.0.0.1:40000`; any other address as it is.
pub fn canonical(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => peer,
        },
        v4 => v4,
    }
}

/// `accept` without waiting: the next connection in the queue, or `None` when there is none
/// or it was reset while it waited (`ECONNABORTED` on macOS and the BSDs, `WSAECONNRESET` on
/// Windows; Linux hands such a connection over, and its first read says the reset). The
/// listener stays blocking; the accepted socket blocks.
#[doc(alias = "accept")]
pub fn accept_now(listener: &TcpListener) -> io::Result<Option<(TcpStream, SocketAddr)>> {
    listener.set_nonblocking(true)?;
    let got = listener.accept();
    listener.set_nonblocking(false)?;
    match got {
        // Accepted sockets inherit non-blocking mode on BSD and Windows.
        Ok((s, peer)) => s.set_nonblocking(false).map(|()| Some((s, peer))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock
                    | io::ErrorKind::Interrupted
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// What each of a connection's buffers may hold; the kernel doubles the asked 32 KiB to
/// 64 KiB, room for 32 of the largest message (`msg_t`, 2004 bytes). Every socket a program
/// makes gets it before `connect` or `listen` (`tcp_socket`, for [`tcp_client`],
/// [`connect_within`] and the listeners of [`tcp_server`], whose accepted sockets inherit
/// it), for two reasons:
/// - kernel memory: left to autotuning, a client that sends but stops reading pins up to
///   `tcp_wmem`'s maximum (4 MiB by default) in the server's send queue and up to
///   `tcp_rmem`'s (6 MiB) in its receive queue, until the connection ends;
/// - urgent data: an urgent byte is queued after every byte already in the send buffer, so
///   the buffer bounds how long it waits for a peer that reads slowly (64 KiB at 1 MB/s is
///   64 ms, 4 MiB would be seconds), and the receive buffer bounds what a reader must take
///   in to reach an urgent mark.
pub const BUFFER: usize = 32 * 1024;

/// Send `PROG: reason\n` to a client being turned away, without waiting: a line is far
/// less than any send buffer, and a client whose buffer is full gets nothing rather than
/// being waited for. Only for protocols that carry text to a client that shows it.
pub fn tell(s: &TcpStream, reason: &str) {
    let line = format!("{}: {reason}\n", crate::error::program_name());
    let _ = crate::sys::send_now(s, line.as_bytes());
}

/// Whether the peer never sent a byte on `s` (Linux: `TCP_INFO`'s `tcpi_data_segs_in`);
/// `false` where the system does not say. A server that closes before sending anything has
/// most likely refused the client (`--max-clients`, out of descriptors).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn received_nothing(s: &TcpStream) -> bool {
    // Segments that carried data; tcpi_bytes_received counts the FIN's sequence number too.
    let known = std::mem::offset_of!(libc::tcp_info, tcpi_data_segs_in) + 4;
    crate::sys::tcp_info(s).is_some_and(|(info, len)| len >= known && info.tcpi_data_segs_in == 0)
}

/// Whether the connection on `s`, still open here, ended by a reset (Linux: `TCP_INFO`'s
/// state is `TCP_CLOSE`; a FIN leaves `CLOSE_WAIT` or `TIME_WAIT`). The kernel reports a
/// reset once, to whichever call meets it first: when another thread's `send` took it, this
/// thread's `recv` sees only an end of file, which is no `server terminated`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn was_reset(s: &TcpStream) -> bool {
    const TCP_CLOSE: u8 = 7; // <netinet/tcp.h>
    crate::sys::tcp_info(s).is_some_and(|(info, _)| info.tcpi_state == TCP_CLOSE)
}

/// Whether the connection ended by a reset: not known here (no `TCP_INFO`), so `false`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn was_reset(_: &TcpStream) -> bool {
    false
}

/// `line` (`server terminated`, `recv failure: …`) with the likely cause when the server
/// never sent a byte before the end (`received_nothing`): `server terminated (refused?
/// the server closed before sending anything)`. A server that ends a client it has served
/// has sent it something (an echo, an answer), so the article's words stay as they are then.
pub fn naming_refusal(s: &TcpStream, line: &str) -> String {
    if received_nothing(s) {
        format!("{line} (refused? the server closed before sending anything)")
    } else {
        line.to_string()
    }
}

/// Whether the peer never sent a byte on `s`: not known here (no `TCP_INFO`), so `false`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn received_nothing(_: &TcpStream) -> bool {
    false
}

/// Set up a TCP client (`tcp_client`): resolve and connect, with bounded buffers.
pub fn tcp_client(host: &str, service: &str) -> io::Result<TcpStream> {
    let peer = set_address(Some(host), service, "tcp")?;
    let s = tcp_socket(&peer)?;
    s.connect(&peer.into())
        .map_err(|e| context(e, "connect failed"))?;
    Ok(s.into())
}

/// `connect` to `peer` within `limit`, with bounded buffers: `hb_server1`'s connection back
/// to the client's heartbeat port.
#[doc(alias = "connect")]
pub fn connect_within(peer: &SocketAddr, limit: std::time::Duration) -> io::Result<TcpStream> {
    let s = tcp_socket(peer)?;
    s.connect_timeout(&(*peer).into(), limit)?;
    Ok(s.into())
}

/// Set up a UDP server (`udp_server`): a socket bound to the address.
pub fn udp_server(host: Option<&str>, service: &str) -> io::Result<UdpSocket> {
    let local = set_address(host, service, "udp")?;
    UdpSocket::bind(local).map_err(|e| context(e, "bind failed"))
}

/// Set up a UDP client (`udp_client`): an unbound-port socket and the server's address,
/// which the C returns through its `struct sockaddr_in *` argument.
pub fn udp_client(host: &str, service: &str) -> io::Result<(UdpSocket, SocketAddr)> {
    let peer = set_address(Some(host), service, "udp")?;
    let any: SocketAddr = match peer {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let s = UdpSocket::bind(any).map_err(|e| context(e, "socket call failed"))?;
    Ok((s, peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES: &str = "# comment line\n\
        echo\t\t7/tcp\n\
        echo\t\t7/udp\n\
        http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n\
        hbdemo\t\t9000/tcp\n";

    #[test]
    fn service_names_and_aliases_are_found_per_protocol() {
        assert_eq!(lookup_service_in(SERVICES, "http", "tcp"), Some(80));
        assert_eq!(lookup_service_in(SERVICES, "www", "tcp"), Some(80));
        assert_eq!(lookup_service_in(SERVICES, "hbdemo", "tcp"), Some(9000));
        assert_eq!(lookup_service_in(SERVICES, "hbdemo", "udp"), None);
        assert_eq!(lookup_service_in(SERVICES, "WorldWideWeb", "tcp"), None);
    }
}

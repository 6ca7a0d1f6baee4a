//! hb_client1 / hb_server1 (seed 000's heartbeat on a separate link), spawned as built, on
//! 127.0.0.1, idle 0.3 s, interval 0.2 s, 3 probes.

mod common;

use common::procs::sig;

use common::procs::{assert_about, server, wait_until, Prog};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

const T: [&str; 5] = ["-t", "--idle", "0.3", "--interval", "0.2"];
const S: Duration = Duration::from_secs(5);

fn client1(port: u16) -> Prog {
    let p = port.to_string();
    Prog::start(
        "hb_client1",
        &[T[0], T[1], T[2], T[3], T[4], "127.0.0.1", &p],
    )
}

/// A raw hb_client1: data connection, port handshake, accept the connection back.
fn handshake(port: u16) -> (TcpStream, TcpStream, std::net::SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut sdata = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sdata
        .write_all(&l.local_addr().unwrap().port().to_be_bytes())
        .unwrap();
    let (shb, from) = l.accept().unwrap();
    (sdata, shb, from)
}

#[test]
fn heartbeats_on_the_separate_link_are_answered() {
    let (mut srv, port) = server("hb_server1", &T);
    let mut cli = client1(port);
    std::thread::sleep(Duration::from_millis(1500));
    cli.drain(Duration::ZERO);
    let said = cli.said();
    assert!(said.len() >= 3, "{said:?}");
    assert!(
        said.iter()
            .all(|l| l.ends_with("] hb_client1: sending heartbeat #1")),
        "{said:?}"
    );
    srv.drain(Duration::ZERO);
    assert!(
        !srv.said().iter().any(|l| l.contains("missed")),
        "{:?}",
        srv.said()
    );
}

#[test]
fn server_connects_back_to_the_address_the_data_came_from_and_echoes() {
    let (mut srv, port) = server("hb_server1", &T);
    let (_sdata, mut shb, from) = handshake(port);
    assert!(from.ip().is_loopback());
    shb.set_read_timeout(Some(S)).unwrap();
    for _ in 0..3 {
        shb.write_all(&[0]).unwrap();
        let mut back = [9u8; 1];
        shb.read_exact(&mut back).unwrap();
        assert_eq!(back[0], 0, "the heartbeat byte comes back as sent");
    }
    // Any other byte is not a heartbeat: the link ends, nothing is echoed.
    shb.write_all(b"A").unwrap();
    let mut rest = Vec::new();
    let _ = shb.read_to_end(&mut rest);
    assert!(
        rest.is_empty(),
        "nothing echoed after a non-heartbeat byte: {rest:?}"
    );
    let (_, line) = srv.expect_line("byte 0x41", S);
    assert!(
        line.contains("shb recv failure: byte 0x41 on the heartbeat link"),
        "{line}"
    );
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn server_killed_client_says_server_terminated() {
    let (mut srv, port) = server("hb_server1", &T);
    let mut cli = client1(port);
    srv.expect_line("accepted", S);
    cli.expect_line("reader started on shb", S);
    srv.signal(sig::SIGKILL);
    let (_, line) = cli.expect_line("server terminated (", S);
    assert!(
        line.ends_with("] hb_client1: server terminated (sdata)")
            || line.ends_with("] hb_client1: server terminated (shb)"),
        "{line}"
    );
    assert_eq!(cli.wait_exit(S), Some(1));
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn server_hung_client_declares_death_after_idle_plus_probes_intervals() {
    let (srv, port) = server("hb_server1", &T);
    let mut cli = client1(port);
    cli.expect_line("sending heartbeat #1", S);
    cli.expect_line("read 1 bytes on shb", S);
    srv.signal(sig::SIGSTOP);
    let (_, dead) = cli.expect_line("connection dead", S);
    assert!(dead.ends_with("] hb_client1: connection dead"), "{dead}");
    assert_about(
        "death",
        cli.since_last_read(&dead),
        Duration::from_millis(900),
    );
    assert_eq!(cli.wait_exit(S), Some(1));
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn client_hung_server_declares_death_after_idle_plus_probes_plus_one_intervals() {
    let (mut srv, port) = server("hb_server1", &T);
    let cli = client1(port);
    srv.expect_line("read 1 bytes on shb", S);
    cli.signal(sig::SIGSTOP);
    let (_, m1) = srv.expect_line("missed heartbeat #1", S);
    let (_, dead) = srv.expect_line("connection dead", S);
    assert!(dead.contains("] hb_server1: 127.0.0.1:"), "{dead}");
    assert_about(
        "missed #1",
        srv.since_last_read(&m1),
        Duration::from_millis(500),
    );
    assert_about(
        "death",
        srv.since_last_read(&dead),
        Duration::from_millis(1100),
    );
}

#[test]
fn traffic_on_the_data_connection_resets_the_count() {
    let (mut srv, port) = server("hb_server1", &T);
    let (mut sdata, _shb, _) = handshake(port);
    for _ in 0..8 {
        sdata.write_all(b"application data").unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    srv.drain(Duration::ZERO);
    assert!(
        !srv.said().iter().any(|l| l.contains("missed")),
        "{:?}",
        srv.said()
    );
    let (_, line) = srv.expect_line("missed heartbeat #1", S);
    let after = srv.since_last_read(&line);
    assert_about(
        "first miss after the data stops",
        after,
        Duration::from_millis(500),
    );
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: errno numbers are Linux's"
)]
fn bad_handshakes_end_only_their_own_connection() {
    let (mut srv, port) = server("hb_server1", &T);
    // One byte, then nothing: bounded by the first window (0.5 s), not for ever.
    let mut one = TcpStream::connect(("127.0.0.1", port)).unwrap();
    one.write_all(&[0x12]).unwrap();
    let me = one.local_addr().unwrap();
    let (_, line) = srv.expect_line(&format!("{me}: error reading port number"), S);
    assert!(line.contains("no port number within"), "{line}");
    // One byte then close.
    let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
    half.write_all(&[0x12]).unwrap();
    half.shutdown(Shutdown::Write).unwrap();
    srv.expect_line("client closed after 1 of 2 bytes", S);
    // Port 0.
    let mut zero = TcpStream::connect(("127.0.0.1", port)).unwrap();
    zero.write_all(&[0, 0]).unwrap();
    srv.expect_line("port 0 is not a heartbeat port", S);
    // A port nobody listens on: the connect-back is refused. Bound and held, never listening,
    // so no other process can take it meanwhile.
    use socket2::{Domain, Socket, Type};
    let held = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    held.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let closed = held.local_addr().unwrap().as_socket().unwrap().port();
    let mut refused = TcpStream::connect(("127.0.0.1", port)).unwrap();
    refused.write_all(&closed.to_be_bytes()).unwrap();
    let (_, line) = srv.expect_line("shb connect error", S);
    assert!(line.ends_with("Connection refused (111)"), "{line}");
    // ... and the client is told why no connection comes back, on sdata, before the close.
    refused.set_read_timeout(Some(S)).unwrap();
    let mut told = String::new();
    refused.read_to_string(&mut told).unwrap();
    assert!(
        told.starts_with("hb_server1: shb connect error (127.0.0.1:")
            && told.ends_with("Connection refused (111)\n"),
        "{told:?}"
    );
    // The server still serves a good client.
    let (_sdata, mut shb, _) = handshake(port);
    shb.write_all(&[0]).unwrap();
    shb.set_read_timeout(Some(S)).unwrap();
    shb.read_exact(&mut [0u8; 1]).unwrap();
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: reads /proc")]
fn fifty_clients_then_resources_return() {
    let (srv, port) = server("hb_server1", &["--idle", "5", "--interval", "1"]);
    let (threads0, fds0) = (srv.threads(), srv.fds());
    let links: Vec<_> = (0..50).map(|_| handshake(port)).collect();
    for (_, shb, _) in &links {
        let mut shb: &TcpStream = shb;
        shb.write_all(&[0]).unwrap();
        shb.set_read_timeout(Some(S)).unwrap();
        shb.read_exact(&mut [0u8; 1]).unwrap();
    }
    assert!(
        srv.threads() >= threads0 + 50 * 3,
        "a monitor and two readers each"
    );
    drop(links);
    assert!(
        wait_until(S, || srv.threads() == threads0 && srv.fds() == fds0),
        "threads {} (was {threads0}), fds {} (was {fds0})",
        srv.threads(),
        srv.fds()
    );
}

/// A client names the port of a chatty service on its own address (an SMTP-like banner that
/// answers every line): hb_server1 connects there, and must not reflect the service's bytes
/// back to it. Before the fix: 13.4 MB in 13 s, never ended.
#[test]
fn a_chatty_local_service_is_not_fed_its_own_bytes() {
    let (mut srv, port) = server("hb_server1", &T);
    let service = TcpListener::bind("127.0.0.1:0").unwrap();
    let service_port = service.local_addr().unwrap().port();
    let got = std::thread::spawn(move || {
        let (mut s, _) = service.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        s.write_all(b"220 mail.example ESMTP ready\r\n").unwrap();
        let (mut total, end) = (0usize, std::time::Instant::now() + Duration::from_secs(3));
        let mut buf = [0u8; 4096];
        while std::time::Instant::now() < end {
            match s.read(&mut buf) {
                Ok(0) => break, // the link ended
                Ok(n) => {
                    total += n;
                    let _ = s.write_all(b"250 ok\r\n"); // answer everything
                }
                Err(_) => {}
            }
        }
        total
    });
    let mut sdata = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sdata.write_all(&service_port.to_be_bytes()).unwrap();
    let received = got.join().unwrap();
    assert!(received < 4096, "the service received {received} bytes");
    let (_, line) = srv.expect_line("on the heartbeat link", S);
    assert!(line.contains("byte 0x32"), "{line}"); // '2' of "220"
}

/// Issue 21, item 7: while hb_client1 waits for the connection back it watches `sdata`, as
/// the C's loop does once it has `shb`. A server that closes `sdata` (with a reason or
/// without) or resets it there ends the wait at once with the C's line, not after the whole
/// bound (idle 2 + 2 × 1 = 4 s here) with `accept failure: no heartbeat connection …`.
#[test]
fn the_wait_for_the_connection_back_watches_sdata() {
    use std::time::Instant;
    // (the line's start, its end, how the fake server ends sdata)
    type Case = (&'static str, &'static str, fn(TcpStream));
    let cases: [Case; 4] = [
        (
            "server terminated (sdata) (refused? the server closed before connecting back)",
            "",
            drop,
        ),
        (
            "server terminated (sdata); it said: hb_server1: refused: out of descriptors",
            "",
            |mut s| {
                s.write_all(b"hb_server1: refused: out of descriptors\n")
                    .unwrap();
                drop(s)
            },
        ),
        ("recv failure: ", "", |s| {
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s) // a reset
        }),
        (
            "recv failure: ",
            "; it said: hb_server1: refused: 1 clients already",
            |mut s| {
                s.write_all(b"hb_server1: refused: 1 clients already\n")
                    .unwrap();
                std::thread::sleep(Duration::from_millis(100)); // read before the reset
                socket2::SockRef::from(&s)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(s)
            },
        ),
    ];
    for (want, tail, end) in cases {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port().to_string();
        let args = [
            "--idle",
            "2",
            "--interval",
            "1",
            "--probes",
            "2",
            "127.0.0.1",
            &p,
        ];
        let mut cli = Prog::start("hb_client1", &args);
        let (mut sdata, _) = l.accept().unwrap();
        let mut port = [0u8; 2];
        sdata.read_exact(&mut port).unwrap(); // the port handshake; never connect back
        let t = Instant::now();
        end(sdata);
        assert_eq!(cli.wait_exit(S), Some(1), "{}", cli.dump());
        let took = t.elapsed();
        let said = cli.said();
        let last = said.last().map(String::as_str).unwrap_or("");
        assert!(
            last.starts_with(&format!("hb_client1: {want}")) && last.ends_with(tail),
            "said {last:?}, want {want:?}…{tail:?}\n{}",
            cli.dump()
        );
        assert!(
            took < Duration::from_secs(2),
            "{want}: ended after {took:?}, not at once"
        );
        if cfg!(target_os = "linux") && want == "recv failure: " {
            let reset = "recv failure: Connection reset by peer (104)";
            assert!(last == format!("hb_client1: {reset}{tail}"), "{last}");
        }
    }
}

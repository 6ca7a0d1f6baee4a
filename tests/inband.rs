//! hb_client / hb_server (seed 000's in-band heartbeat), spawned as built, on 127.0.0.1,
//! with sub-second timings: idle 0.3 s, interval 0.2 s, 3 probes.
//! Client bound: 0.3 + 3 × 0.2 = 0.9 s; server bound: 0.3 + 4 × 0.2 = 1.1 s after the last byte.

mod common;

use common::procs::sig;

use common::procs::{assert_about, server, wait_until, Prog};
use heartbeat::message::{Message, MSG_HEARTBEAT, MSG_LEN, MSG_TYPE1};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const T: [&str; 5] = ["-t", "--idle", "0.3", "--interval", "0.2"];
const S: Duration = Duration::from_secs(5);

fn client(port: u16) -> Prog {
    let p = port.to_string();
    Prog::start(
        "hb_client",
        &[T[0], T[1], T[2], T[3], T[4], "127.0.0.1", &p],
    )
}

#[test]
fn heartbeats_go_out_and_are_answered_while_both_live() {
    let (mut srv, port) = server("hb_server", &T);
    let mut cli = client(port);
    // Each heartbeat is answered, so the count never passes #1.
    std::thread::sleep(Duration::from_millis(1500));
    cli.drain(Duration::from_millis(10));
    let beats: Vec<_> = cli.said();
    assert!(beats.len() >= 3, "about one heartbeat per 0.3 s: {beats:?}");
    assert!(
        beats
            .iter()
            .all(|l| l.ends_with("] hb_client: sending heartbeat #1")),
        "{beats:?}"
    );
    srv.drain(Duration::from_millis(10));
    assert!(
        !srv.said().iter().any(|l| l.contains("missed")),
        "{:?}",
        srv.said()
    );
    assert_eq!(cli.wait_exit(Duration::ZERO), None, "client still running");
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn server_killed_client_says_server_terminated_and_exits_1() {
    let (mut srv, port) = server("hb_server", &T);
    let mut cli = client(port);
    srv.expect_line("accepted", S);
    let killed = Instant::now();
    srv.signal(sig::SIGKILL);
    let (at, _) = cli.expect_line("hb_client: server terminated", S);
    assert!(at - killed < Duration::from_millis(500));
    assert_eq!(cli.wait_exit(S), Some(1));
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn server_hung_client_declares_death_after_idle_plus_probes_intervals() {
    let (srv, port) = server("hb_server", &T);
    let mut cli = client(port);
    cli.expect_line("sending heartbeat #1", S);
    cli.expect_line("debug: read", S); // the echo of #1
    srv.signal(sig::SIGSTOP);
    // Times by the client's own -t stamps, from the last byte it read.
    let (_, p2) = cli.expect_line("sending heartbeat #2", S);
    let (_, p3) = cli.expect_line("sending heartbeat #3", S);
    let (_, dead) = cli.expect_line("connection dead", S);
    assert!(dead.ends_with("] hb_client: connection dead"), "{dead}");
    let ms = Duration::from_millis;
    assert_about("probe #2", cli.since_last_read(&p2), ms(500));
    assert_about("probe #3", cli.since_last_read(&p3), ms(700));
    assert_about("death", cli.since_last_read(&dead), ms(900));
    assert_eq!(cli.wait_exit(S), Some(1));
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn client_hung_server_declares_death_after_idle_plus_probes_plus_one_intervals() {
    let (mut srv, port) = server("hb_server", &T);
    let cli = client(port);
    srv.expect_line("debug: read", S); // heartbeat #1 arrives
    cli.signal(sig::SIGSTOP);
    for n in 1..=3 {
        let (_, line) = srv.expect_line(&format!("missed heartbeat #{n}"), S);
        assert!(
            line.contains("] hb_server: 127.0.0.1:"),
            "names the peer: {line}"
        );
        let expected = Duration::from_millis(500 + 200 * (n - 1));
        assert_about(
            &format!("missed #{n}"),
            srv.since_last_read(&line),
            expected,
        );
    }
    let (_, dead) = srv.expect_line("connection dead", S);
    assert!(dead.contains("] hb_server: 127.0.0.1:"), "{dead}");
    assert!(dead.ends_with(": connection dead"), "{dead}");
    assert_about(
        "death",
        srv.since_last_read(&dead),
        Duration::from_millis(1100),
    );
}

#[test]
fn data_traffic_postpones_the_servers_heartbeat_count() {
    let (mut srv, port) = server("hb_server", &T);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    srv.expect_line("accepted", S);
    // A MSG_TYPE1 every 0.15 s for 1.5 s: well past the 0.5 s first window, never silent that long.
    for i in 0..10 {
        let wire = Message::new(MSG_TYPE1).encode();
        if i % 2 == 0 {
            s.write_all(&wire).unwrap();
        } else {
            // Part of a message resets the count too, as in the C.
            s.write_all(&wire[..1000]).unwrap();
            std::thread::sleep(Duration::from_millis(75));
            s.write_all(&wire[1000..]).unwrap();
        }
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
        "first miss after the traffic stops",
        after,
        Duration::from_millis(500),
    );
}

#[test]
fn data_traffic_postpones_the_clients_heartbeats() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cli = client(l.local_addr().unwrap().port());
    let (mut s, _) = l.accept().unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1200) {
        s.write_all(&Message::new(MSG_TYPE1).encode()).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    cli.drain(Duration::ZERO);
    assert!(
        cli.said().is_empty(),
        "no heartbeat while data flows: {:?}",
        cli.said()
    );
    // Silence now: the heartbeat comes, as a whole MSG_HEARTBEAT.
    cli.expect_line("sending heartbeat #1", S);
    let mut wire = [0u8; MSG_LEN];
    s.read_exact(&mut wire).unwrap();
    assert_eq!(Message::decode(&wire).msg_type, MSG_HEARTBEAT);
}

/// A raw in-band client: sends `n` heartbeats, checks each echo is the same 2004 bytes.
fn heartbeat_round_trips(port: u16, n: usize, tag: u8) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for i in 0..n {
        let mut m = Message::heartbeat();
        m.data[0] = tag;
        m.data[1] = i as u8;
        m.data[1999] = tag ^ 0x5a;
        s.write_all(&m.encode()).unwrap();
        let mut back = [0u8; MSG_LEN];
        s.read_exact(&mut back).unwrap();
        assert_eq!(Message::decode(&back), m, "client {tag} beat {i}");
    }
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: reads /proc")]
fn fifty_clients_at_once_none_dropped_and_resources_return() {
    let (mut srv, port) = server("hb_server", &["--idle", "5", "--interval", "1"]);
    let (threads0, fds0) = (srv.threads(), srv.fds());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(50));
    let clients: Vec<_> = (0..50u8)
        .map(|tag| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                heartbeat_round_trips(port, 20, tag)
            })
        })
        .collect();
    for c in clients {
        c.join().expect("every client got every echo back intact");
    }
    assert!(
        wait_until(S, || srv.threads() == threads0 && srv.fds() == fds0),
        "threads {} (was {threads0}), fds {} (was {fds0})",
        srv.threads(),
        srv.fds()
    );
    srv.drain(Duration::from_millis(50));
    let ended = srv
        .said()
        .iter()
        .filter(|l| l.ends_with(": client terminated"))
        .count();
    assert_eq!(ended, 50, "{:?}", srv.said());
}

#[test]
fn unknown_message_type_ends_only_its_connection() {
    let (mut srv, port) = server("hb_server", &T);
    let good = std::thread::spawn(move || heartbeat_round_trips(port, 30, 7));
    let mut bad = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let me = bad.local_addr().unwrap();
    bad.write_all(&Message::new(9).encode()).unwrap();
    let (_, line) = srv.expect_line("unknown message type", S);
    assert!(
        line.ends_with(&format!("] hb_server: {me}: unknown message type (9)")),
        "{line}"
    );
    bad.set_read_timeout(Some(S)).unwrap();
    assert_eq!(
        bad.read(&mut [0u8; 16]).unwrap(),
        0,
        "the bad client's connection is closed"
    );
    good.join().expect("the other client is still served");
    heartbeat_round_trips(port, 3, 8); // and new clients too
}

#[test]
fn once_serves_one_client_and_exits_1_like_the_c_server() {
    let (mut srv, port) = server("hb_server", &["--once", T[0], T[1], T[2], T[3], T[4]]);
    heartbeat_round_trips(port, 2, 1);
    srv.expect_line("client terminated", S);
    assert_eq!(srv.wait_exit(S), Some(1));
}

#[test]
fn reply_delay_makes_a_slow_server_the_client_notices() {
    // Each answer 1 s late: past the client's 0.9 s bound.
    let (_srv, port) = server(
        "hb_server",
        &["--reply-delay", "1", T[0], T[1], T[2], T[3], T[4]],
    );
    let mut cli = client(port);
    cli.expect_line("sending heartbeat #3", S);
    cli.expect_line("connection dead", S);
}

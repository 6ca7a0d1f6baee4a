//! Bad input, churn, load and panics: a lab server runs for hours while a class hammers it.
//! Every bad input gets a line naming the peer and ends at most its own connection.

mod common;

use common::procs::{raise_fd_limit, reset, server, wait_until, Prog};
use common::Rng;
use heartbeat::message::{Message, MSG_HEARTBEAT, MSG_LEN, MSG_TYPE1};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: [&str; 5] = ["-t", "--idle", "0.3", "--interval", "0.2"];
const S: Duration = Duration::from_secs(10);

/// A well-behaved in-band client heartbeating in the background until `stop`; panics (and
/// so fails the test at join) if an echo is missing or wrong.
fn good_client(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(S)).unwrap();
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            let mut m = Message::heartbeat();
            m.data[..8].copy_from_slice(&(n as u64).to_be_bytes());
            s.write_all(&m.encode()).unwrap();
            let mut back = [0u8; MSG_LEN];
            s.read_exact(&mut back)
                .expect("the good client is still answered");
            assert_eq!(Message::decode(&back), m);
            n += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    })
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: errno numbers are Linux's"
)]
fn hb_server_survives_every_bad_input_while_serving_a_good_client() {
    let (mut srv, port) = server("hb_server", &T);
    let stop = Arc::new(AtomicBool::new(false));
    let good = good_client(port, stop.clone());
    let conn = || TcpStream::connect(("127.0.0.1", port)).unwrap();

    // EOF in the middle of a message.
    let mut s = conn();
    let me = s.local_addr().unwrap();
    s.write_all(&Message::heartbeat().encode()[..1000]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let (_, l) = srv.expect_line(&format!("{me}: client terminated in the middle"), S);
    assert!(l.ends_with("(1000 of 2004 bytes)"), "{l}");

    // RST in the middle of a message.
    let mut s = conn();
    let me = s.local_addr().unwrap();
    s.write_all(&Message::heartbeat().encode()[..700]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    reset(s);
    let (_, l) = srv.expect_line(&format!("{me}: recv failure"), S);
    assert!(l.ends_with("Connection reset by peer (104)"), "{l}");

    // A garbage flood: the first 2004 bytes decode to a type nobody knows.
    let mut s = conn();
    let me = s.local_addr().unwrap();
    let mut junk = Rng::new(99).bytes(1 << 20);
    junk[..4].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    let _ = s.write_all(&junk); // the server may close while we write
    let (_, l) = srv.expect_line(&format!("{me}: unknown message type"), S);
    assert!(
        l.ends_with(&format!("unknown message type ({})", 0xdead_beefu32 as i32)),
        "{l}"
    );

    // A flood of valid data messages is simply accepted.
    let mut s = conn();
    for _ in 0..500 {
        s.write_all(&Message::new(MSG_TYPE1).encode()).unwrap();
    }
    drop(s);

    // A client that connects and says nothing is ended by the heartbeat: 0.3 + 4 × 0.2 s.
    let silent = conn();
    let me = silent.local_addr().unwrap();
    let t0 = Instant::now();
    srv.expect_line(&format!("{me}: missed heartbeat #1"), S);
    srv.expect_line(&format!("{me}: connection dead"), S);
    assert!(
        t0.elapsed() >= Duration::from_millis(1000),
        "not before the bound"
    );

    stop.store(true, Ordering::SeqCst);
    let beats = good.join().expect("the good client was served throughout");
    assert!(beats > 20, "{beats}");
    assert_eq!(
        srv.wait_exit(Duration::ZERO),
        None,
        "the server is still running"
    );
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: reads /proc")]
fn more_clients_than_max_clients_are_refused_without_disturbing_the_others() {
    let (mut srv, port) = server(
        "hb_server",
        &["--max-clients", "3", "--idle", "5", "--interval", "1"],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let goods: Vec<_> = (0..3).map(|_| good_client(port, stop.clone())).collect();
    assert!(wait_until(S, || srv.threads() > 3 * 2), "three clients in");
    let mut extra = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let me = extra.local_addr().unwrap();
    let (_, l) = srv.expect_line(&format!("{me}: refused"), S);
    assert!(l.contains("3 clients already (--max-clients)"), "{l}");
    extra.set_read_timeout(Some(S)).unwrap();
    assert!(
        matches!(extra.read(&mut [0u8; 8]), Ok(0) | Err(_)),
        "the extra client is closed"
    );
    stop.store(true, Ordering::SeqCst);
    for g in goods {
        g.join().expect("the three were never disturbed");
    }
    // Once they have gone, there is room again.
    assert!(wait_until(S, || srv.threads() == common::procs::IDLE_THREADS));
    let stop = Arc::new(AtomicBool::new(false));
    let again = good_client(port, stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    assert!(again.join().unwrap() > 0);
}

#[test]
fn hb_server1_discards_data_garbage_and_echoes_heartbeat_bytes() {
    let (mut srv, port) = server("hb_server1", &T);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut sdata = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sdata
        .write_all(&l.local_addr().unwrap().port().to_be_bytes())
        .unwrap();
    let (mut shb, _) = l.accept().unwrap();
    sdata.write_all(&Rng::new(5).bytes(100_000)).unwrap(); // read and dropped, as the C
                                                           // Heartbeat bytes, one at a time as hb_client1 sends them (no faster than the server's
                                                           // pace, min(T1, T2) / 2 = 0.1 s: tests/hardening4.rs has the burst that ends the link).
    shb.set_read_timeout(Some(S)).unwrap();
    for _ in 0..5 {
        shb.write_all(&[0]).unwrap();
        let mut back = [1u8; 1];
        shb.read_exact(&mut back).unwrap();
        assert_eq!(back, [0], "every heartbeat byte comes back");
        std::thread::sleep(Duration::from_millis(150));
    }
    sdata
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        sdata.read(&mut [0u8; 1]).is_err(),
        "nothing is sent on the data connection"
    );
    srv.drain(Duration::from_millis(100));
    assert!(!srv
        .said()
        .iter()
        .any(|l| l.contains("missed") || l.contains("terminated")));
}

/// Thousands of connections come and go — cleanly, by RST, by heartbeat timeout — and the
/// server's threads, descriptors and memory come back to where they were.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: reads /proc")]
fn churn_leaves_no_threads_descriptors_or_memory_behind() {
    let (mut srv, port) = server(
        "hb_server",
        &["--idle", "0.2", "--interval", "0.1", "--probes", "1"],
    );
    let round = |n: usize| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                std::thread::spawn(move || {
                    let mut silent = Vec::new();
                    for i in 0..n / 4 {
                        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                        match (i + w) % 3 {
                            0 => {
                                s.write_all(&Message::heartbeat().encode()).unwrap();
                                s.read_exact(&mut [0u8; MSG_LEN]).unwrap();
                            }
                            1 => {
                                s.write_all(&[1, 2, 3]).unwrap();
                                reset(s);
                            }
                            _ => silent.push(s), // left for the heartbeat to end
                        }
                        if silent.len() == 100 {
                            for s in silent.drain(..) {
                                s.set_read_timeout(Some(S)).unwrap();
                                let _ = (&s).read(&mut [0u8; 1]); // the server closes it
                            }
                        }
                    }
                    for s in silent {
                        s.set_read_timeout(Some(S)).unwrap();
                        let _ = (&s).read(&mut [0u8; 1]);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    };
    let settled = |srv: &Prog| {
        wait_until(Duration::from_secs(15), || {
            srv.threads() == common::procs::IDLE_THREADS
        })
    };
    round(600); // warm up the allocator and thread caches
    assert!(settled(&srv));
    let (fds0, rss0) = (srv.fds(), srv.rss_kib());
    round(3000);
    assert!(
        settled(&srv),
        "threads back to {}, now {}",
        common::procs::IDLE_THREADS,
        srv.threads()
    );
    assert!(
        wait_until(S, || srv.fds() == fds0),
        "fds {} (was {fds0})",
        srv.fds()
    );
    let rss1 = srv.rss_kib();
    assert!(
        rss1 <= rss0 + 2048,
        "RSS grew from {rss0} KiB to {rss1} KiB over 3000 connections"
    );
    srv.drain(Duration::from_millis(200));
    let dead = srv
        .said()
        .iter()
        .filter(|l| l.ends_with("connection dead"))
        .count();
    assert!(
        dead >= 1000,
        "the silent third were ended by the heartbeat: {dead}"
    );
}

/// One hb_server, 1000 clients heartbeating every 200 ms for 5 s: none dropped, every echo
/// intact and in order.
#[test]
fn a_thousand_clients_heartbeating_every_200_ms() {
    raise_fd_limit();
    // The article's backlog of 5 makes a burst of 1000 connects wait for SYN retries.
    let (mut srv, port) = server(
        "hb_server",
        &["--backlog", "1024", "--idle", "1", "--interval", "0.5"],
    );
    let workers: Vec<_> = (0..20u32)
        .map(|w| {
            std::thread::spawn(move || {
                let mut conns: Vec<TcpStream> = (0..50)
                    .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
                    .collect();
                for c in &conns {
                    c.set_read_timeout(Some(S)).unwrap();
                }
                let start = Instant::now();
                for seq in 0..25u32 {
                    for (i, c) in conns.iter_mut().enumerate() {
                        let mut m = Message::new(MSG_HEARTBEAT);
                        m.data[..4].copy_from_slice(&w.to_be_bytes());
                        m.data[4..8].copy_from_slice(&(i as u32).to_be_bytes());
                        m.data[8..12].copy_from_slice(&seq.to_be_bytes());
                        c.write_all(&m.encode()).unwrap();
                    }
                    for (i, c) in conns.iter_mut().enumerate() {
                        let mut back = [0u8; MSG_LEN];
                        c.read_exact(&mut back)
                            .unwrap_or_else(|e| panic!("client {w}/{i} beat {seq}: {e}"));
                        let m = Message::decode(&back);
                        assert_eq!(m.msg_type, MSG_HEARTBEAT);
                        assert_eq!(
                            &m.data[..12],
                            [w.to_be_bytes(), (i as u32).to_be_bytes(), seq.to_be_bytes()].concat()
                        );
                    }
                    let next = start + Duration::from_millis(200) * (seq + 1);
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                conns.len()
            })
        })
        .collect();
    let total: usize = workers
        .into_iter()
        .map(|w| w.join().expect("no client dropped"))
        .sum();
    assert_eq!(total, 1000);
    srv.drain(Duration::from_millis(300));
    let bad: Vec<_> = srv
        .said()
        .into_iter()
        .filter(|l| !l.ends_with("client terminated"))
        .collect();
    assert!(
        bad.is_empty(),
        "no missed heartbeat, no death: {:?}",
        &bad[..bad.len().min(5)]
    );
}

/// A panic in one connection's thread ends that connection only; threads are named after
/// the peer so the panic message says whose it was.
#[test]
fn a_panic_in_one_connection_does_not_take_the_server_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        heartbeat::server::serve(listener, false, 16, Default::default(), |mut s, peer, _| {
            let name = std::thread::current().name().unwrap_or("").to_string();
            assert_eq!(name, format!("monitor {peer}"));
            let mut b = [0u8; 5];
            s.read_exact(&mut b).unwrap();
            if &b == b"panic" {
                panic!("deliberate panic for {peer}");
            }
            s.write_all(&b).unwrap();
            1
        })
    });
    let mut bad = TcpStream::connect(("127.0.0.1", port)).unwrap();
    bad.write_all(b"panic").unwrap();
    bad.set_read_timeout(Some(S)).unwrap();
    assert!(matches!(bad.read(&mut [0u8; 5]), Ok(0) | Err(_)));
    for _ in 0..3 {
        let mut good = TcpStream::connect(("127.0.0.1", port)).unwrap();
        good.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        good.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello");
    }
}

#[test]
fn every_server_refuses_clients_beyond_max_clients() {
    // ka_server makes room instead: tests/hardening3.rs, ka_server_at_its_limit_….
    for name in ["hb_server", "hb_server1", "hb_server_oob"] {
        let (mut srv, port) = server(name, &["--max-clients", "2"]);
        let held: Vec<_> = (0..2)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let accepted = |p: &mut Prog| {
            p.drain(Duration::from_millis(10));
            p.seen
                .iter()
                .filter(|(_, l)| l.ends_with(": accepted"))
                .count()
        };
        assert!(
            wait_until(S, || accepted(&mut srv) == 2),
            "{name}: two clients in"
        );
        let mut extra = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let me = extra.local_addr().unwrap();
        srv.expect_line(&format!("{name}: {me}: refused: 2 clients already"), S);
        extra.set_read_timeout(Some(S)).unwrap();
        // Closed, after the reason where the protocol carries text (hb_server1's sdata).
        let mut said = Vec::new();
        let _ = extra.read_to_end(&mut said);
        let said = String::from_utf8_lossy(&said);
        assert!(
            said.is_empty()
                || said == format!("{name}: refused: 2 clients already (--max-clients)\n"),
            "{name}: closed, having said {said:?}"
        );
        drop(held);
    }
}

/// hb_client1 takes as its heartbeat link only a connection from its server's address.
#[test]
fn hb_client1_ignores_a_heartbeat_connection_from_another_host() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let mut cli = Prog::start(
        "hb_client1",
        &["--idle", "0.3", "--interval", "0.2", "127.0.0.1", &port],
    );
    let (mut sdata, _) = l.accept().unwrap();
    let mut p = [0u8; 2];
    sdata.read_exact(&mut p).unwrap();
    let hb_port = u16::from_be_bytes(p);
    // An intruder from 127.0.0.2 gets there first: ignored.
    let intruder =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    intruder
        .bind(
            &"127.0.0.2:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    intruder
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], hb_port)).into())
        .unwrap();
    cli.expect_line("ignoring a connection from 127.0.0.2:", S);
    // The real server's connection back is taken, and heartbeats flow on it.
    let mut shb = TcpStream::connect(("127.0.0.1", hb_port)).unwrap();
    cli.expect_line("sending heartbeat #1", S);
    shb.set_read_timeout(Some(S)).unwrap();
    let mut beat = [9u8; 1];
    shb.read_exact(&mut beat).unwrap();
    assert_eq!(beat, [0]);
}

/// One deadline for the port handshake: a client that sends its first byte at 90 % of the
/// window (and never the second) is ended by the window, not a window after that byte.
#[test]
fn a_handshake_trickling_its_first_byte_late_ends_by_the_window() {
    let (mut srv, port) = server("hb_server1", &T); // window: idle + interval = 0.5 s
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let connected = Instant::now();
    std::thread::sleep(Duration::from_millis(450));
    c.write_all(&[0x9c]).unwrap();
    let (at, line) = srv.expect_line("error reading port number", S);
    assert!(line.ends_with("no port number within 500ms"), "{line}");
    let took = at - connected;
    assert!(
        took <= Duration::from_millis(500) + common::procs::LATE,
        "ended {took:?} after the connect; the window is 500 ms"
    );
}

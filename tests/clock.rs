//! The clock never waits on I/O (issue "One monitor for every heartbeat"): each case is a
//! way the heartbeat used to stop noticing a dead peer because the thread that keeps time
//! was blocked writing, or the reader was blocked answering.

mod common;

use common::procs::sig;

use common::procs::{server, stamp, wait_until, Prog};
use heartbeat::message::{Message, MSG_LEN};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(1);

/// A peer that sends a byte every 0.2 s but never reads: the client's heartbeats fill its
/// send buffer. Then the peer goes silent: the client must still declare death on time.
#[test]
fn a_peer_that_never_reads_then_goes_silent_is_declared_dead_within_the_bound() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&l)
        .set_recv_buffer_size(4096)
        .unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let args = [
        "-t",
        "--idle",
        "0.001",
        "--interval",
        "0.001",
        "--probes",
        "300",
    ];
    let mut cli = Prog::start("hb_client", &[&args[..], &["127.0.0.1", &port]].concat());
    let (peer, _) = l.accept().unwrap();
    let chatty_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < chatty_until {
        (&peer).write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    // Silent from here on, connection still open, still not reading.
    let (_, dead) = cli.expect_line("connection dead", S);
    let bound = Duration::from_millis(301); // 0.001 + 300 × 0.001
    let after = cli.since_last_read(&dead);
    assert!(after <= bound + GRACE, "dead {after:?} after the last byte");
    assert!(
        cli.seen
            .iter()
            .any(|(_, l)| l.contains("not sent: no room")),
        "the send buffer did fill (else this test shows nothing):\n{}",
        cli.dump()
    );
    assert_eq!(cli.wait_exit(S), Some(1));
    drop(peer);
}

fn oob(name: &str, args: &[&str], port: u16, stdin: Stdio, stdout: Stdio) -> Prog {
    let p = port.to_string();
    let all = [args, &["127.0.0.1", &p]].concat();
    Prog::start_with(name, &all, |c| {
        c.stdin(stdin).stdout(stdout);
    })
}

const OOB: [&str; 5] = ["-t", "--interval", "0.2", "--probes", "3"];

/// A feeder of `stdin` that writes lines until `stop` or its time runs out; returns bytes.
fn feed(
    mut stdin: impl Write + Send + 'static,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let line = b"some application data\n".repeat(200);
        let end = Instant::now() + Duration::from_secs(20);
        let mut sent = 0;
        while !stop.load(Ordering::SeqCst) && Instant::now() < end {
            if stdin.write_all(&line).is_err() {
                break;
            }
            sent += line.len() as u64;
        }
        sent
    })
}

/// `yes "some application data" | hb_client_oob … | tail -1`, then the server hangs.
#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn oob_server_hung_while_stdin_streams_is_declared_unreachable_within_the_bound() {
    let (srv, port) = server("hb_server_oob", &OOB);
    let mut cli = oob("hb_client_oob", &OOB, port, Stdio::piped(), Stdio::piped());
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(cli.child.stdin.take().unwrap(), stop.clone());
    let mut out = cli.child.stdout.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        let mut got = 0u64;
        while let Ok(n @ 1..) = out.read(&mut buf) {
            got += n as u64;
        }
        got
    });
    std::thread::sleep(Duration::from_millis(1500));
    cli.drain(Duration::ZERO);
    let answered = cli.count("from the server");
    assert!(answered >= 4, "answers flow beside the stream: {answered}");
    srv.signal(sig::SIGSTOP);
    let (_, line) = cli.expect_line("server is unreachable", S);
    let after = stamp(&line) - cli.last_before("from the server", &line);
    let bound = Duration::from_millis(800); // (probes + 1) × interval
    assert!(
        after <= bound + GRACE,
        "unreachable {after:?} after the last answer"
    );
    assert_eq!(cli.wait_exit(S), Some(1));
    stop.store(true, Ordering::SeqCst);
    assert!(feeder.join().unwrap() > 1_000_000, "stdin did stream");
    assert!(drain.join().unwrap() > 1_000_000, "the echo did stream");
}

/// `seq 1 20000 | hb_client_oob HOST PORT`: ends by itself, exit 0, every line echoed.
#[test]
fn oob_client_ends_like_str_cli_when_stdin_ends() {
    let (_srv, port) = server("hb_server_oob", &OOB);
    let mut cli = oob("hb_client_oob", &OOB, port, Stdio::piped(), Stdio::piped());
    let seq: Vec<u8> = (1..=20000)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let mut stdin = cli.child.stdin.take().unwrap();
    let input = seq.clone();
    let feeder = std::thread::spawn(move || stdin.write_all(&input)); // then closed
    let mut out = cli.child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut echoed = Vec::new();
        let _ = out.read_to_end(&mut echoed);
        echoed
    });
    let status = cli.wait_exit(S);
    let complaints = cli.said();
    drop(cli); // if it is still running, kill it: its stdout then ends
    let _ = feeder.join();
    let echoed = reader.join().unwrap();
    assert_eq!(status, Some(0), "ends by itself, exit 0: {complaints:?}");
    assert!(
        echoed == seq,
        "all 20000 lines echoed, in order ({} bytes)",
        echoed.len()
    );
    assert!(complaints.is_empty(), "no complaint: {complaints:?}");
}

/// The server echoes a stream to a client whose output is read slowly: the echo waits, the
/// urgent answers do not, and nobody is declared dead. An urgent byte still queues behind
/// each side's send buffer (64 KiB), about 0.1 s each way at this rate, so the interval is
/// 0.5 s; the old server ended such a client with a send timeout after 2 s.
#[test]
fn oob_server_answers_urgent_bytes_while_its_client_reads_slowly() {
    let slow = ["-t", "--interval", "0.5", "--probes", "5"]; // Stevens' 5
    let (mut srv, port) = server("hb_server_oob", &slow);
    let mut cli = oob("hb_client_oob", &slow, port, Stdio::piped(), Stdio::piped());
    let data: Vec<u8> = (0..80_000)
        .flat_map(|i| format!("line {i:06} of the slowly read stream\n").into_bytes())
        .collect(); // 2.9 MB
    let (mut stdin, mut out) = (
        cli.child.stdin.take().unwrap(),
        cli.child.stdout.take().unwrap(),
    );
    let input = data.clone();
    let feeder = std::thread::spawn(move || {
        stdin.write_all(&input).unwrap();
        stdin // kept open: the heartbeat goes on
    });
    // About 640 KB/s: the whole echo takes about 4.5 s, 9 heartbeat intervals.
    let mut echoed = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    let end = Instant::now() + Duration::from_secs(30);
    while echoed.len() < data.len() && Instant::now() < end {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            cli.wait_exit(S);
            panic!("the client ended early:\n{}", cli.dump());
        }
        echoed.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        echoed == data,
        "the echo is whole ({} of {} bytes)",
        echoed.len(),
        data.len()
    );
    let _stdin = feeder.join().unwrap();
    cli.drain(Duration::from_millis(100));
    srv.drain(Duration::from_millis(100));
    let answered = cli.count("from the server");
    assert!(answered >= 6, "urgent answers kept coming: {answered}");
    for p in [&cli, &srv] {
        let bad = ["unreachable", "no probes", "failure"];
        assert!(
            !p.said().iter().any(|l| bad.iter().any(|b| l.contains(b))),
            "{}: {:?}",
            p.name,
            p.said()
        );
    }
    assert_eq!(cli.wait_exit(Duration::ZERO), None, "the client still runs");
}

/// `--reply-delay` longer than the bound: the client dies while answers wait. The reader
/// keeps reading, so the server counts from the client's real last byte.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: reads /proc")]
fn reply_delay_longer_than_the_bound_does_not_hide_a_dead_client() {
    let args = [
        "-t",
        "--idle",
        "0.3",
        "--interval",
        "0.2",
        "--reply-delay",
        "3",
    ];
    let (mut srv, port) = server("hb_server", &args);
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let beat = Message::heartbeat().encode();
    let mut last = Instant::now();
    for _ in 0..6 {
        c.write_all(&beat).unwrap();
        last = Instant::now();
        std::thread::sleep(Duration::from_millis(250));
    }
    // The client "dies" here: silent, connection open, nothing read.
    let (at, _) = srv.expect_line("connection dead", S);
    let bound = Duration::from_millis(1100); // 0.3 + (3 + 1) × 0.2
    let after = at - last;
    assert!(
        after + Duration::from_millis(20) >= bound && after <= bound + GRACE,
        "dead {after:?} after the client's last heartbeat, bound {bound:?}:\n{}",
        srv.dump()
    );
    let early = srv
        .seen
        .iter()
        .filter(|(t, l)| *t < last && l.contains("missed"))
        .count();
    assert_eq!(
        early,
        0,
        "no heartbeat counted missed while they came:\n{}",
        srv.dump()
    );
    // The answers were delayed, not lost: the first comes about 3 s after its heartbeat.
    c.set_read_timeout(Some(S)).unwrap();
    let mut back = [0u8; MSG_LEN];
    let got = c.read_exact(&mut back);
    assert!(
        got.is_err() || back == beat,
        "an answer is the heartbeat echoed"
    );
    assert!(
        wait_until(S, || srv.threads() == common::procs::IDLE_THREADS),
        "the connection's threads ended"
    );
}

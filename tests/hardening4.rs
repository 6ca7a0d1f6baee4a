//! Hardening, third round (issue 21), continued: the OOB pair loses nothing and hoards
//! nothing whatever the peer or the program's own output does.

mod common;

use common::procs::{server, Prog};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Read `from` at about `rate` bytes per second (1 KiB reads) until EOF; what was read.
fn read_slowly(mut from: impl Read, rate: usize) -> Vec<u8> {
    let (mut got, mut buf) = (Vec::new(), [0u8; 1024]);
    let start = Instant::now();
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        let due = start + Duration::from_secs_f64(got.len() as f64 / rate as f64);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

/// One run of `hb_client_oob` with 400 kB on stdin and its stdout read at 20 kB/s, against
/// a live `hb_server_oob` at the default timings (`--interval 1 --probes 5`): what the
/// client wrote to stdout, its exit status and its lines.
fn slow_stdout_run(data: &[u8]) -> (Vec<u8>, Option<i32>, Vec<String>, Vec<String>) {
    let (mut srv, port) = server("hb_server_oob", &["-t"]);
    let p = port.to_string();
    let mut cli = Prog::start_with("hb_client_oob", &["-t", "127.0.0.1", &p], |c| {
        c.stdin(Stdio::piped()).stdout(Stdio::piped());
    });
    let mut stdin = cli.child.stdin.take().expect("piped stdin");
    let stdout = cli.child.stdout.take().expect("piped stdout");
    let input = data.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input); // then dropped: the end of stdin
    });
    let reader = std::thread::spawn(move || read_slowly(stdout, 20_000));
    let status = cli.wait_exit(Duration::from_secs(60));
    let out = reader.join().expect("reader");
    let _ = feeder.join();
    srv.drain(Duration::from_millis(200));
    (out, status, cli.said(), srv.said())
}

/// Issue 21 item 2: a slow reader of the client's stdout is not a dead server, and nothing
/// is lost: the echo comes out whole and the client exits 0, or it exits non-zero saying
/// how much was lost. Before, 2 runs in 6 exited 0 with ~345-377 kB of 400 kB written,
/// the server saying `no probes from client` at 6.3 s.
#[test]
fn a_slow_stdout_loses_nothing_and_kills_no_live_server() {
    let mut rng = common::Rng::new(21);
    let data = rng.bytes(400_000);
    for run in 0..2 {
        let (out, status, cli, srv) = slow_stdout_run(&data);
        let said = format!("client: {cli:#?}\nserver: {srv:#?}");
        if status == Some(0) {
            assert!(
                out == data,
                "run {run}: exit 0 with {} of {} bytes echoed, {}\n{said}",
                out.len(),
                data.len(),
                if out.len() == data.len() {
                    "differing"
                } else {
                    "short"
                }
            );
        } else {
            // Whatever ended it must say what was lost.
            assert!(
                cli.iter().any(|l| l.contains("not echoed")),
                "run {run}: exit {status:?} without saying what was lost\n{said}"
            );
        }
        assert_eq!(status, Some(0), "run {run}: a live server\n{said}");
        assert!(
            !srv.iter().any(|l| l.contains("no probes")),
            "run {run}: the server called a live client dead\n{said}"
        );
    }
}

/// The other half of item 2: when the echo cannot come back whole (here the server is
/// killed mid-transfer) the client exits 1 and says how much was lost.
#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals")]
fn an_echo_cut_short_is_said_with_what_was_lost() {
    use common::procs::sig;
    let (srv, port) = server("hb_server_oob", &[]);
    let p = port.to_string();
    let mut cli = Prog::start_with("hb_client_oob", &["127.0.0.1", &p], |c| {
        c.stdin(Stdio::piped()).stdout(Stdio::piped());
    });
    let mut stdin = cli.child.stdin.take().expect("piped stdin");
    let stdout = cli.child.stdout.take().expect("piped stdout");
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&vec![7u8; 400_000]);
    });
    let reader = std::thread::spawn(move || read_slowly(stdout, 50_000));
    std::thread::sleep(Duration::from_millis(1500));
    srv.signal(sig::SIGKILL);
    let status = cli.wait_exit(Duration::from_secs(20));
    let out = reader.join().expect("reader");
    let _ = feeder.join();
    assert_eq!(status, Some(1), "{}", cli.dump());
    let last = cli.said().last().cloned().unwrap_or_default();
    let lost = last
        .split("; ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no count of what was lost in {last:?}"));
    let sent: u64 = last
        .split("of the ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("bytes sent");
    assert!(last.ends_with("bytes sent were not echoed"), "{last}");
    assert_eq!(sent - lost, out.len() as u64, "what was echoed: {last}");
}

/// Until `until`, every 5 ms: 1 KiB of data and an urgent byte, as much as `s` takes
/// without waiting, never reading.
fn send_never_read(s: TcpStream, until: Instant) {
    let _ = s.set_nonblocking(true);
    let chunk = [b'x'; 1024];
    while Instant::now() < until {
        let wrote = (&s).write(&chunk);
        let urgent = socket2::SockRef::from(&s).send_out_of_band(b"1");
        for r in [wrote, urgent] {
            match r {
                Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => return, // ended
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Issue 21 item 1, the server: four clients that send data and urgent bytes and never read
/// their echo. Before, each urgent byte was a sign of life and the reader read on towards
/// each urgent mark into memory while the echo was stuck: the connections lived as long as
/// they sent and the server grew without bound (here: past 20 MB in 5 s). Now each ends
/// within the death bound (`--interval 0.5 --probes 3`: 2 s) of the buffers filling, with a
/// line saying it did not read, and the server's memory grows by at most a fixed amount.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: /proc")]
fn a_client_that_sends_but_never_reads_ends_and_costs_bounded_memory() {
    let (mut srv, port) = server(
        "hb_server_oob",
        &["-t", "--interval", "0.5", "--probes", "3"],
    );
    std::thread::sleep(Duration::from_millis(300));
    let before = srv.rss_kib();
    let start = Instant::now();
    let until = start + Duration::from_secs(6);
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            std::thread::spawn(move || send_never_read(s, until))
        })
        .collect();
    let mut peak = before;
    while Instant::now() < until {
        peak = peak.max(srv.rss_kib());
        std::thread::sleep(Duration::from_millis(50));
    }
    for a in attackers {
        a.join().expect("attacker");
    }
    srv.drain(Duration::from_millis(300));
    let growth = peak.saturating_sub(before);
    eprintln!("4 clients that never read: RSS {before} -> {peak} KiB");
    let ends: Vec<_> = srv
        .seen
        .iter()
        .filter(|(_, l)| l.contains("not read"))
        .map(|(at, l)| (at.duration_since(start), l.clone()))
        .collect();
    assert_eq!(
        ends.len(),
        4,
        "each attacker ended, saying so:\n{}",
        srv.dump()
    );
    for (after, line) in &ends {
        assert!(*after < Duration::from_secs(5), "{line} after {after:?}");
    }
    assert!(
        growth < 2 * 1024,
        "RSS grew {growth} KiB for 4 clients ({before} -> {peak} KiB)"
    );
    eprintln!("{ends:?}");
}

/// Issue 21 item 1, the client: a server that floods data and urgent bytes and never reads,
/// while stdin has data for it and nobody reads the client's stdout. Before, the client
/// read on towards each urgent mark into memory and each urgent byte kept it alive. Now it
/// ends within its bound (`--interval 0.5 --probes 3`) saying the server is not reading,
/// with bounded memory.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: /proc")]
fn a_server_that_floods_and_never_reads_ends_the_client_with_bounded_memory() {
    // Nobody reads stdout: the flood stops being read, its urgent bytes stop coming.
    let line = flood_never_read(Stdio::piped());
    assert!(
        line.contains("server is unreachable: it has read nothing for"),
        "{line}"
    );
    // Stdout takes everything: the flood's urgent bytes keep coming, and do not count.
    let line = flood_never_read(Stdio::null());
    assert!(
        line.contains("server is not reading: it has read nothing for"),
        "{line}"
    );
}

/// One run of [`a_server_that_floods_and_never_reads_ends_the_client_with_bounded_memory`]
/// with the client's stdout `out`: its last line.
fn flood_never_read(out: Stdio) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port().to_string();
    let start = Instant::now();
    let until = start + Duration::from_secs(6);
    let flood = std::thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            send_never_read(s, until);
        }
    });
    let args = [
        "-t",
        "--interval",
        "0.5",
        "--probes",
        "3",
        "127.0.0.1",
        &port,
    ];
    let mut cli = Prog::start_with("hb_client_oob", &args, |c| {
        c.stdin(Stdio::piped()).stdout(out);
    });
    let mut stdin = cli.child.stdin.take().expect("piped stdin");
    let _stdout = cli.child.stdout.take(); // never read
    let feeder = std::thread::spawn(move || {
        let chunk = [b'y'; 4096];
        while Instant::now() < until && stdin.write_all(&chunk).is_ok() {}
    });
    std::thread::sleep(Duration::from_millis(200));
    let before = cli.rss_kib();
    let mut peak = before;
    let mut status = None;
    while Instant::now() < until && status.is_none() {
        peak = peak.max(cli.rss_kib());
        status = cli.wait_exit(Duration::from_millis(50));
    }
    let ended = start.elapsed();
    let status = status.or_else(|| cli.wait_exit(Duration::from_secs(1)));
    let _ = flood.join();
    let _ = feeder.join();
    let growth = peak.saturating_sub(before);
    eprintln!("a server that never reads: RSS {before} -> {peak} KiB, {ended:?}");
    assert_eq!(status, Some(1), "the client ended\n{}", cli.dump());
    assert!(ended < Duration::from_secs(5), "ended after {ended:?}");
    let last = cli.said().last().cloned().unwrap_or_default();
    assert!(
        growth < 1024,
        "RSS grew {growth} KiB ({before} -> {peak} KiB)"
    );
    eprintln!("{last}");
    last
}

/// Issue 21 item 9: `hb_server --reply-delay 3` answers every heartbeat 3 s after it came,
/// at 10 heartbeats a second. Before, its writer's queue of 16 held 16 answers per 3 s and
/// the reader waited for room: echo delay p50 5.4 s, max 7.8 s.
#[test]
fn reply_delay_answers_every_heartbeat_late_by_the_delay_only() {
    use heartbeat::message::{Message, MSG_LEN};
    let delay = Duration::from_secs(3);
    let (_srv, port) = server(
        "hb_server",
        &["--idle", "2", "--interval", "1", "--reply-delay", "3"],
    );
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut r = s.try_clone().expect("clone");
    let (n, every) = (40usize, Duration::from_millis(100));
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; MSG_LEN];
        let _ = r.set_read_timeout(Some(Duration::from_secs(8)));
        while got.len() < n && r.read_exact(&mut buf).is_ok() {
            got.push((Instant::now(), buf));
        }
        got
    });
    let wire = Message::heartbeat().encode();
    let start = Instant::now();
    let mut sent = Vec::new();
    for i in 0..n {
        let at = start + every * i as u32;
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        sent.push(Instant::now());
        (&s).write_all(&wire).expect("send heartbeat");
    }
    let got = reader.join().expect("reader");
    assert_eq!(got.len(), n, "every heartbeat answered");
    let mut late: Vec<Duration> = got
        .iter()
        .zip(&sent)
        .map(|((at, msg), sent)| {
            assert!(
                msg[..] == wire[..],
                "the answer is the heartbeat as it came"
            );
            at.duration_since(*sent)
        })
        .collect();
    late.sort();
    let (min, p50, max) = (late[0], late[n / 2], late[n - 1]);
    eprintln!("echo delay at 10/s, --reply-delay 3: min {min:?}, p50 {p50:?}, max {max:?}");
    assert!(min + Duration::from_millis(20) >= delay, "min {min:?}");
    assert!(
        max <= delay + Duration::from_millis(400),
        "max {max:?}, p50 {p50:?}"
    );
}

/// The other half of item 9: what waits for its delay is bounded (writer::DELAYED answers):
/// a client that sends distinct heartbeats as fast as it can to `--reply-delay 30` makes
/// the server hold at most 1024 of them (2 MiB), and the reader waits beyond.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: /proc")]
fn reply_delay_holds_a_bounded_number_of_answers() {
    use heartbeat::message::MSG_LEN;
    let (srv, port) = server(
        "hb_server",
        &["--idle", "5", "--interval", "5", "--reply-delay", "30"],
    );
    std::thread::sleep(Duration::from_millis(200));
    let before = srv.rss_kib();
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let _ = s.set_write_timeout(Some(Duration::from_millis(100)));
    let mut rng = common::Rng::new(9);
    let (mut sent, end) = (0usize, Instant::now() + Duration::from_secs(3));
    let mut peak = before;
    while Instant::now() < end {
        let mut wire = rng.bytes(MSG_LEN);
        wire[..4].copy_from_slice(&3u32.to_be_bytes()); // MSG_HEARTBEAT, distinct data
        if (&s).write_all(&wire).is_ok() {
            sent += 1;
        }
        if sent % 64 == 0 {
            peak = peak.max(srv.rss_kib());
        }
    }
    peak = peak.max(srv.rss_kib());
    let growth = peak.saturating_sub(before);
    eprintln!("{sent} distinct heartbeats in 3 s, --reply-delay 30: RSS {before} -> {peak} KiB");
    assert!(sent > 1100, "the client got past the bound: {sent} sent");
    assert!(
        growth < 4 * 1024,
        "RSS grew {growth} KiB ({before} -> {peak} KiB)"
    );
}

/// Issue 21 item 6: a client names the port of a local service that sends `0x00` for ever
/// (and reads what comes back), then says nothing on `sdata`. Before, `hb_server1` echoed
/// every byte at a full core (3.94 GB in 10 s) and the zeros kept the silent client alive.
/// Now it echoes no faster than heartbeats can come and ends that client with a line.
#[test]
fn hb_server1_is_no_reflector_of_a_zero_sending_service() {
    let args = ["-t", "--idle", "0.5", "--interval", "0.5", "--probes", "3"];
    let (mut srv, port) = server("hb_server1", &args);
    let service = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let service_port = service.local_addr().expect("addr").port();
    let end = Instant::now() + Duration::from_secs(4);
    let got = std::thread::spawn(move || {
        let Ok((s, _)) = service.accept() else {
            return 0;
        };
        let _ = s.set_write_timeout(Some(Duration::from_millis(50)));
        let mut r = s.try_clone().expect("clone");
        let counter = std::thread::spawn(move || {
            let _ = r.set_read_timeout(Some(Duration::from_millis(100)));
            let (mut total, mut buf) = (0usize, [0u8; 65536]);
            while Instant::now() < end {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => total += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
            total
        });
        let zeros = [0u8; 4096];
        while Instant::now() < end {
            match (&s).write(&zeros) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        counter.join().unwrap_or(0)
    });
    let started = Instant::now();
    let sdata = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    (&sdata)
        .write_all(&service_port.to_be_bytes())
        .expect("port");
    let echoed = got.join().expect("service");
    srv.drain(Duration::from_millis(200));
    eprintln!("a zero-sending service got {echoed} bytes echoed in 4 s");
    let ended = srv
        .seen
        .iter()
        .find(|(_, l)| !l.contains("debug:") && l.contains("127.0.0.1"))
        .map(|(at, l)| (at.duration_since(started), l.clone()));
    assert!(echoed < 64, "{echoed} bytes reflected to the service");
    let (after, line) = ended.unwrap_or_else(|| panic!("no line ending it:\n{}", srv.dump()));
    assert!(after < Duration::from_secs(3), "{line} after {after:?}");
    assert!(line.contains("heartbeat bytes at once"), "{line}");
    eprintln!("{line} after {after:?}");
    drop(sdata);
}

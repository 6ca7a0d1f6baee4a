//! Hardening, third round (issue 21), continued: the OOB pair loses nothing and hoards
//! nothing whatever the peer or the program's own output does.

mod common;

use common::procs::{server, Prog};
use std::io::{Read, Write};
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

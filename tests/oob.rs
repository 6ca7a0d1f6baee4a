//! hb_client_oob / hb_server_oob (the OOB heartbeat seed 000 left unfinished; Stevens UNP
//! §24.7): urgent bytes answered beside a steady stream of normal data with every echo
//! intact; a hung server or client noticed within its window.

mod common;

use common::procs::sig;

use common::procs::{server, stamp, Prog, LATE};
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

const T: [&str; 5] = ["-t", "--interval", "0.1", "--probes", "3"];
const S: Duration = Duration::from_secs(10);

fn client(port: u16, stdin: Stdio, stdout: Stdio) -> Prog {
    let p = port.to_string();
    let mut args = T.to_vec();
    args.extend(["127.0.0.1", &p]);
    Prog::start_with("hb_client_oob", &args, |c| {
        c.stdin(stdin).stdout(stdout);
    })
}

#[test]
fn urgent_heartbeats_are_answered_beside_a_steady_data_stream() {
    let (mut srv, port) = server("hb_server_oob", &T);
    let mut cli = client(port, Stdio::piped(), Stdio::piped());
    let mut stdin = cli.child.stdin.take().unwrap();
    let mut stdout = cli.child.stdout.take().unwrap();
    // About 6 MB of lines over about 2 s: the heartbeat ticks ~20 times meanwhile.
    let data: Vec<u8> = (0..60_000)
        .flat_map(|i| format!("line {i:06} {}\n", "x".repeat(88)).into_bytes())
        .collect();
    let expected = data.clone();
    let feeder = std::thread::spawn(move || {
        for chunk in data.chunks(100_000) {
            stdin.write_all(chunk).unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
        stdin // kept open: the client goes on heartbeating
    });
    let mut echoed = vec![0u8; expected.len()];
    stdout.read_exact(&mut echoed).unwrap();
    assert!(echoed == expected, "every echoed byte intact and in order");
    let _stdin = feeder.join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    cli.drain(Duration::from_millis(50));
    srv.drain(Duration::from_millis(50));
    let sent = cli.count("sending urgent byte");
    let answered = cli.count("from the server");
    let got = srv.count("urgent byte '1'");
    assert!(
        sent >= 15,
        "the heartbeat ran during the transfer: {sent} sent"
    );
    assert!(
        got.abs_diff(sent) <= 1,
        "server got {got} of {sent} urgent bytes"
    );
    assert!(
        answered + 1 >= sent,
        "client got {answered} answers to {sent}"
    );
    assert!(
        !cli.said().iter().any(|l| l.contains("unreachable")),
        "{:?}",
        cli.said()
    );
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn server_hung_client_says_server_is_unreachable_within_its_window() {
    let (srv, port) = server("hb_server_oob", &T);
    let mut cli = client(port, Stdio::piped(), Stdio::null());
    cli.expect_line("from the server", S);
    srv.signal(sig::SIGSTOP);
    let (_, line) = cli.expect_line("server is unreachable", S);
    assert!(
        line.ends_with("] hb_client_oob: server is unreachable"),
        "{line}"
    );
    let after = stamp(&line) - cli.last_before("from the server", &line);
    // More than probes × interval, by (probes + 1) × interval: the clock ticks on.
    assert!(
        after >= Duration::from_millis(290) && after <= Duration::from_millis(400) + LATE,
        "{after:?}"
    );
    assert_eq!(cli.wait_exit(S), Some(1));
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn client_hung_server_says_no_probes_from_client() {
    let (mut srv, port) = server("hb_server_oob", &T);
    let cli = client(port, Stdio::piped(), Stdio::null());
    srv.expect_line("urgent byte '1'", S);
    cli.signal(sig::SIGSTOP);
    let (_, line) = srv.expect_line("no probes from client", S);
    assert!(
        line.contains("] hb_server_oob: 127.0.0.1:"),
        "names the peer: {line}"
    );
    let after = stamp(&line) - srv.last_before("urgent byte '1'", &line);
    let window = Duration::from_millis(400); // (probes + 1) × interval
    assert!(
        after + Duration::from_millis(20) >= window && after <= window + LATE,
        "{after:?}"
    );
}

/// Killed, the server's kernel answers with RST, not FIN: the urgent byte's place in the
/// normal stream is never read (only the byte itself, out of band), and a socket closed with
/// unread data is reset. Either way the client ends at once and says so.
#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn server_killed_client_ends_at_once() {
    let (srv, port) = server("hb_server_oob", &T);
    let mut cli = client(port, Stdio::piped(), Stdio::null());
    cli.expect_line("from the server", S);
    srv.signal(sig::SIGKILL);
    let (_, line) = cli.expect_line("hb_client_oob: ", S);
    let line = if line.contains("debug:") {
        cli.wait_exit(S);
        cli.said().pop().unwrap()
    } else {
        line
    };
    assert!(
        line.ends_with("server terminated")
            || line.ends_with("recv failure: Connection reset by peer (104)"),
        "{line}"
    );
    assert_eq!(cli.wait_exit(S), Some(1));
}

/// Why the reader polls: a thread blocked in a plain read never sees the urgent byte.
#[test]
fn a_plain_blocking_read_loses_the_urgent_byte() {
    use std::net::{TcpListener, TcpStream};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut rx, _) = l.accept().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let n = rx.read(&mut buf).unwrap(); // blocked here when the urgent byte comes
        (rx, buf[..n].to_vec())
    });
    std::thread::sleep(Duration::from_millis(200));
    heartbeat::sys::send_urgent(&tx, b'1').unwrap();
    (&tx).write_all(b"data").unwrap();
    let (rx, first) = reader.join().unwrap();
    assert_eq!(first, b"data", "the urgent byte is skipped in the stream");
    let mut c = [std::mem::MaybeUninit::<u8>::uninit()];
    let oob = socket2::SockRef::from(&rx).recv_out_of_band(&mut c);
    assert!(
        oob.is_err(),
        "and it is gone: recv(MSG_OOB) finds nothing: {oob:?}"
    );
}

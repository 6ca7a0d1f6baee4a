//! `hb_client_oob HOST PORT` — the out-of-band heartbeat seed 000 left "未完待续", after
//! Stevens' `heartbeat_cli` (UNP vol. 1 §24.7) and `str_cli`.
//!
//! Every `--interval` (Stevens' `alarm(nsec)`) one urgent byte `'1'` goes to the server; any
//! urgent byte back resets the count (`nprobes = 0` in `sig_urg`). The clock ticks on
//! regardless, as `alarm` does, so `server is unreachable` comes at the tick where more than
//! `--probes` probes are unanswered: between `probes × interval` and `(probes + 1) × interval`
//! after the last answer. Defaults `--interval 1 --probes 5`, as Stevens.
//!
//! Like `str_cli`, stdin is copied to the server and what comes back is printed on stdout,
//! so the heartbeat visibly runs beside real traffic. At the end of stdin the client stops
//! sending data but keeps the heartbeat going (Ctrl-C ends it). Stevens exits 0 on
//! `server is unreachable`; this port exits 1, like the article's `error( 1, … )`.

use crossbeam_channel::{bounded, RecvTimeoutError};
use heartbeat::cli::{self, Spec};
use heartbeat::error::die;
use heartbeat::net;
use heartbeat::oob::{self, OobInput};
use std::io::{self, Read, Write};
use std::time::Instant;

const SPEC: Spec = Spec {
    name: "hb_client_oob",
    about: "Out-of-band heartbeat client (seed 000's unfinished part; Stevens UNP 24.7): an urgent byte every --interval; copies stdin to the server.",
    takes_host: true,
    takes_idle: false,
    idle: 1.0,
    interval: 1.0,
    probes: 5,
    whole_seconds: false,
    extras: &[],
};

/// `str_cli`'s writing half: stdin to the server, until stdin ends.
fn copy_stdin(mut s: &std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let mut stdin = io::stdin().lock();
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return log::debug!("end of stdin; the heartbeat goes on"),
            Ok(n) => {
                if let Err(e) = s.write_all(&buf[..n]) {
                    return log::debug!("stdin copy stopped: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return log::debug!("stdin: {e}"),
        }
    }
}

fn main() {
    let a = cli::start(&SPEC);
    let host = a.host.as_deref().unwrap_or("127.0.0.1"); // parse() requires HOST
    let servfd = net::tcp_client(host, &a.port).unwrap_or_else(|e| die(Some(&e), ""));
    let (tx, rx) = bounded(64);
    oob::spawn_reader("server", &servfd, tx)
        .unwrap_or_else(|e| die(Some(&e), "cannot start the reader"));
    let writer = servfd
        .try_clone()
        .unwrap_or_else(|e| die(Some(&e), "cannot clone the socket"));
    let _ = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || copy_stdin(&writer));

    let mut stdout = io::stdout().lock();
    let mut nprobes = 0u32;
    let mut sent = 0u64;
    let mut alarm = Instant::now() + a.interval; // alarm(nsec)
    loop {
        match rx.recv_deadline(alarm) {
            Ok(OobInput::Urgent(c)) => {
                log::debug!("urgent byte {:?} from the server", c as char);
                nprobes = 0; // sig_urg
            }
            Ok(OobInput::Data(d)) => {
                if stdout.write_all(&d).and_then(|()| stdout.flush()).is_err() {
                    die(None, "stdout closed");
                }
            }
            Ok(OobInput::Closed) => die(None, "server terminated"),
            Ok(OobInput::Failed(e)) => die(Some(&e), "recv failure"),
            // sig_alrm
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                alarm += a.interval;
                nprobes += 1;
                if nprobes > a.probes {
                    die(None, "server is unreachable");
                }
                sent += 1;
                log::debug!("sending urgent byte #{sent} ({nprobes} unanswered)");
                if let Err(e) = oob::send_urgent(&servfd, b'1') {
                    die(Some(&e), "send failure");
                }
            }
        }
    }
}

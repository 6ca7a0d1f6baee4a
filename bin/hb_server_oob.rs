//! `hb_server_oob PORT` — the server side of the out-of-band heartbeat, after Stevens'
//! `heartbeat_serv` (UNP vol. 1 §24.7) and `str_echo`.
//!
//! Each urgent byte from a client is answered with an urgent byte (`sig_urg`: `recv` OOB,
//! `send` OOB, `nprobes = 0`). When no urgent byte has come for `(probes + 1) × interval`,
//! `no probes from client` ends that connection. Normal data is echoed untouched beside the
//! heartbeat. Defaults `--interval 1 --probes 5`. Many clients at once, a thread each;
//! `--once` for one.

use crossbeam_channel::{bounded, RecvTimeoutError};
use heartbeat::cli::{self, Args, Extra, Spec};
use heartbeat::error::{self, die, say};
use heartbeat::oob::{self, OobInput};
use heartbeat::{net, server};
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Instant;

const SPEC: Spec = Spec {
    name: "hb_server_oob",
    about: "Out-of-band heartbeat server (Stevens UNP 24.7): answers each urgent byte, echoes normal data.",
    takes_host: false,
    takes_idle: false,
    idle: 1.0,
    interval: 1.0,
    probes: 5,
    whole_seconds: false,
    extras: &[Extra::Once, Extra::MaxClients, Extra::Backlog],
};

fn serve_client(connfd: TcpStream, peer: SocketAddr, a: &Args) -> i32 {
    let say = |text: &str| say(&format!("{peer}: {text}"));
    let fail =
        |e: &std::io::Error, text: &str| error::error(0, Some(e), &format!("{peer}: {text}"));
    let window = a.interval * (a.probes + 1);
    let _ = connfd.set_write_timeout(Some(window));
    let (tx, rx) = bounded(64);
    let reader = match oob::spawn_reader(&peer.to_string(), &connfd, tx) {
        Ok(r) => r,
        Err(e) => {
            fail(&e, "cannot start the reader");
            return 1;
        }
    };
    let mut deadline = Instant::now() + window;
    let status = loop {
        match rx.recv_deadline(deadline) {
            Ok(OobInput::Urgent(c)) => {
                if let Err(e) = oob::send_urgent(&connfd, c) {
                    fail(&e, "send failure");
                    break 1;
                }
                deadline = Instant::now() + window;
            }
            Ok(OobInput::Data(d)) => {
                if let Err(e) = (&connfd).write_all(&d) {
                    fail(&e, "send failure");
                    break 1;
                }
            }
            Ok(OobInput::Closed) => {
                say("client terminated");
                break 1;
            }
            Ok(OobInput::Failed(e)) => {
                fail(&e, "recv failure");
                break 1;
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                say("no probes from client");
                break 1;
            }
        }
    };
    let _ = connfd.shutdown(Shutdown::Both); // wakes the reader
    drop(rx);
    let _ = reader.join();
    status
}

fn main() {
    let a = cli::start(&SPEC);
    let s = net::tcp_server_backlog(None, &a.port, a.backlog).unwrap_or_else(|e| die(Some(&e), ""));
    let (once, max) = (a.once, a.max_clients);
    let status = server::serve(s, once, max, move |c, peer| serve_client(c, peer, &a));
    std::process::exit(status);
}

//! `hb_server_oob PORT` — the server side of the out-of-band heartbeat, after Stevens'
//! `heartbeat_serv` (UNP vol. 1 §24.7) and `str_echo`.
//!
//! Each urgent byte from a client is answered with an urgent byte (`sig_urg`: `recv` OOB,
//! `send` OOB, `nprobes = 0`), ahead of any echo data waiting to be written. When no urgent
//! byte has come for `(probes + 1) × interval`, `no probes from client` ends that connection.
//! Normal data is echoed untouched beside the heartbeat, by a writer thread, so a client that
//! reads its echo slowly slows only the echo, and its reading counts as its sign of life. A
//! client that sends but never reads stops being read, so its urgent bytes stop coming: its
//! `no probes from client` says how long it has not read its echo. Defaults `--interval 1
//! --probes 5`. Many clients at once, a thread each; `--once` for one.

use heartbeat::cli::{Kind, Server, Spec};
use heartbeat::error::Peer;
use heartbeat::monitor::{Event, Input, Link, Monitor, Reading, Sink, Writer};
use heartbeat::server::{self, Refusals};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

const SPEC: Spec = Spec::stevens(
    "hb_server_oob",
    "Out-of-band heartbeat server (Stevens UNP 24.7): answers each urgent byte, echoes normal data.",
    Kind::Server,
);

fn serve_client(connfd: TcpStream, peer: SocketAddr, a: &Server) -> i32 {
    let (label, peer) = (peer.to_string(), Peer(peer));
    // The urgent answer queues behind the buffers: bounded (net::BUFFER) on the listener
    // before listen, and an accepted socket inherits them, as every server connection.
    let connfd = Arc::new(connfd);
    // The answerer's window with no idle time: (probes + 1) × interval after the last probe.
    let mut mon = Monitor::new(a.timing.answerer(), &label);
    let echo = match mon.writer(Sink::Socket(connfd.clone())) {
        Ok(w) => w,
        Err(e) => return peer.fail(&e, "cannot start the writer"),
    };
    let reading = Reading::Urgent {
        answer: Some(echo.clone()),
        data: echo.clone(),
    };
    if let Err(e) = mon.watch(Link::Data, &connfd, reading) {
        return peer.fail(&e, "cannot start the reader");
    }
    loop {
        match mon.next_event() {
            Event::Probe(n) => log::debug!("{label}: no urgent byte for {n} interval(s)"),
            Event::Dead => {
                peer.say(&not_reading("no probes from client", &echo));
                return 1;
            }
            // str_echo: read returned 0, after the echo of everything before it
            Event::Input(Input::Closed { .. }) => {
                peer.say("client terminated");
                return 1;
            }
            Event::Input(Input::Failed { op, error, .. }) => {
                return peer.fail(&error, op.failure())
            }
        }
    }
}

/// `line`, and, when its echo is stuck, that the client has not been reading: a client
/// that sends but never reads stops being read ([`heartbeat::oob::HELD`]), so its urgent
/// bytes stop coming too.
fn not_reading(line: &str, echo: &Writer) -> String {
    match echo.stalled() {
        Some(t) => format!(
            "{line}: it has not read its echo for {:.3} s ({} bytes waiting)",
            t.as_secs_f64(),
            echo.backlog()
        ),
        None => line.to_string(),
    }
}

fn main() {
    server::main(&SPEC, Refusals::default(), |s, peer, a, _| {
        serve_client(s, peer, a)
    })
}

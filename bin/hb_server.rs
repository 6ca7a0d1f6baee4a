//! `hb_server PORT` — seed 000's `hb_server.c`, the in-band heartbeat server.
//!
//! Each client's 2004-byte messages are read whole; `MSG_HEARTBEAT` is answered by echoing
//! the message, `MSG_TYPE1`/`MSG_TYPE2` are accepted, anything else is
//! `unknown message type (N)` and ends that client. With no traffic for `--idle + --interval`
//! (T1 + T2) the server says `missed heartbeat #1`, then one more every `--interval`, and
//! `connection dead` past `--probes`. The C serves one client and exits 1; this serves many
//! (a thread each, lines prefixed with the peer), or one with `--once`.

use heartbeat::cli::{Extra, Kind, Server, Spec};
use heartbeat::error::Peer;
use heartbeat::monitor::{Echo, Event, Input, Link, Monitor, Reading, Sink};
use heartbeat::server;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

const SPEC: Spec = Spec::seed000(
    "hb_server",
    "In-band heartbeat server (seed 000 hb_server.c): echoes each MSG_HEARTBEAT.",
    Kind::Server,
)
.with(&[Extra::ReplyDelay]);

/// One client: the C `main` after `accept`. Returns the C exit status (always 1).
fn serve_client(s1: TcpStream, peer: SocketAddr, a: &Server) -> i32 {
    let peer = Peer(peer);
    let config = a.timing.answerer();
    // A client that stops reading must not block an echo for ever.
    let _ = s1.set_write_timeout(Some(config.death_bound()));
    let s1 = Arc::new(s1);
    let mut mon = Monitor::new(config, &peer.0.to_string());
    // The reader echoes each MSG_HEARTBEAT itself (no thread handoff on the round trip);
    // with --reply-delay a writer thread answers late while the reader goes on reading.
    let echo = match a.reply_delay {
        None => Echo::Now,
        Some(d) => match mon.writer(Sink::Socket(s1.clone())) {
            Ok(w) => Echo::After(d, w),
            Err(e) => return peer.fail(&e, "cannot start the writer"),
        },
    };
    if let Err(e) = mon.watch(Link::Data, &s1, Reading::Messages { echo }) {
        return peer.fail(&e, "cannot start the reader");
    }
    // The C switch on the message type runs on the reader: what reaches here ends the client.
    loop {
        match mon.next_event() {
            Event::Probe(missed_heartbeats) => {
                peer.say(&format!("missed heartbeat #{missed_heartbeats}"))
            }
            Event::Dead => {
                peer.say("connection dead");
                return 1;
            }
            Event::Input(Input::Closed { pending: 0, .. }) => {
                peer.say("client terminated");
                return 1;
            }
            Event::Input(Input::Closed { pending, .. }) => {
                peer.say(&format!(
                    "client terminated in the middle of a message ({pending} of 2004 bytes)"
                ));
                return 1;
            }
            // unknown message type (N)
            Event::Input(Input::Failed { error, .. }) if error.kind() == ErrorKind::InvalidData => {
                peer.say(&error.to_string());
                return 1;
            }
            Event::Input(Input::Failed { op, error, .. }) => {
                return peer.fail(&error, op.failure())
            }
        }
    }
}

fn main() {
    server::main(&SPEC, serve_client)
}

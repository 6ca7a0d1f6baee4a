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
use heartbeat::message::{Message, MSG_HEARTBEAT, MSG_TYPE1, MSG_TYPE2};
use heartbeat::monitor::{Event, Input, Link, Monitor, Reading, Verdict};
use heartbeat::server::{self, Refusals};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

const SPEC: Spec = Spec::seed000(
    "hb_server",
    "In-band heartbeat server (seed 000 hb_server.c): echoes each MSG_HEARTBEAT.",
    Kind::Server,
)
.with(&[Extra::ReplyDelay]);

/// `switch ( ntohl( msg.type ) )`, for each whole message, on the reader thread.
fn on_message(msg: &Message) -> Verdict {
    match msg.msg_type {
        MSG_TYPE1 => Verdict::Take, // /* process type1 message */
        MSG_TYPE2 => Verdict::Take, // /* process type2 message */
        // rc = send( s1, ( char * )&msg, sizeof( msg ), 0 );
        MSG_HEARTBEAT => Verdict::Echo,
        // error( 1, 0, "unknown message type (%d)\n", ntohl( msg.type ) );
        other => Verdict::End(format!("unknown message type ({})", other as i32)),
    }
}

/// One client: the C `main` after `s1 = accept( s, NULL, NULL )`. Returns the C exit
/// status (always 1).
fn serve_client(s1: TcpStream, peer: SocketAddr, a: &Server) -> i32 {
    let peer = Peer(peer);
    // tv.tv_sec = T1 + T2;
    let config = a.timing.answerer();
    // A client that stops reading must not block an echo for ever.
    let _ = s1.set_write_timeout(Some(config.death_bound()));
    let s1 = Arc::new(s1);
    let mut mon = Monitor::new(config, &peer.0.to_string());
    // --reply-delay: a writer thread answers late while the reader goes on reading.
    if let Some(delay) = a.reply_delay {
        if let Err(e) = mon.delay_echoes(&s1, delay) {
            return peer.fail(&e, "cannot start the writer");
        }
    }
    // recv( s1, … ) and the in-line readn, then on_message: on the reader thread, which
    // echoes itself (no thread handoff on the round trip).
    if let Err(e) = mon.watch(Link::Data, &s1, Reading::Messages(on_message)) {
        return peer.fail(&e, "cannot start the reader");
    }
    loop {
        // rc = select( s1 + 1, &readfd, NULL, NULL, &tv );
        match mon.next_event() {
            // rc == 0: if ( ++missed_heartbeats > 3 ) … else
            Event::Probe(missed_heartbeats) => {
                peer.say(&format!("missed heartbeat #{missed_heartbeats}"))
            }
            Event::Dead => {
                peer.say("connection dead");
                return 1;
            }
            // rc == 0 from recv
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
            // default: unknown message type (N), from on_message
            Event::Input(Input::Failed { error, .. }) if error.kind() == ErrorKind::InvalidData => {
                peer.say(&error.to_string());
                return 1;
            }
            // recv failure, send failure
            Event::Input(Input::Failed { op, error, .. }) => {
                return peer.fail(&error, op.failure())
            }
        }
    }
}

fn main() {
    server::main(&SPEC, Refusals::default(), |s, peer, a, _| {
        serve_client(s, peer, a)
    })
}

//! `hb_client HOST PORT` — seed 000's `hb_client.c`, the in-band heartbeat client.
//!
//! Connects, then waits for traffic. After `--idle` (T1) of silence it sends a
//! `MSG_HEARTBEAT` message (`sending heartbeat #1`), then one every `--interval` (T2); any byte
//! from the server resets the count. When the count passes `--probes` (3), `connection dead`.
//! The C `select` loop is [`heartbeat::monitor`]; this `main` is what the C `main` does with
//! its results. Every ending exits 1, as the C `error( 1, … )`.

use heartbeat::cli::{self, Kind, Spec};
use heartbeat::error::{die, say};
use heartbeat::message::Message;
use heartbeat::monitor::{Event, Heartbeat, Input, Link, Monitor, Reading, Verdict};
use heartbeat::net;
use std::sync::Arc;

const SPEC: Spec = Spec::seed000(
    "hb_client",
    "In-band heartbeat client (seed 000 hb_client.c): MSG_HEARTBEAT after --idle, then every --interval.",
    Kind::Client,
);

fn main() {
    let a = cli::client(&SPEC);
    let s = Arc::new(net::tcp_client(&a.host, &a.port).unwrap_or_else(|e| die(Some(&e), "")));
    let peer = s.peer_addr().map(|p| p.to_string()).unwrap_or_default();

    // tv.tv_sec = T1;
    let mut mon = Monitor::new(a.timing.prober(), &peer);
    // recv( s, … ) into one msg_t at a time (the in-line readn); /* process message */ is
    // empty: each whole message is taken and dropped, on the reader thread.
    mon.watch(Link::Data, &s, Reading::Messages(|_| Verdict::Take))
        .unwrap_or_else(|e| die(Some(&e), "cannot start the reader"));
    // msg.type = htonl( MSG_HEARTBEAT ); what each probe sends
    let msg = Message::heartbeat().encode().to_vec();
    mon.heartbeat(Heartbeat::Bytes(s.clone(), msg));

    loop {
        // rc = select( s + 1, &readfd, NULL, NULL, &tv );
        match mon.next_event() {
            // rc == 0: timed out; if ( ++heartbeats > 3 ) … else
            Event::Probe(heartbeats) => {
                say(&format!("sending heartbeat #{heartbeats}"));
                if let Err(e) = mon.send_heartbeat() {
                    die(Some(&e), "send failure");
                }
            }
            Event::Dead => die(None, "connection dead"),
            Event::Input(Input::Closed { .. }) => {
                die(None, &net::naming_refusal(&s, "server terminated"))
            }
            Event::Input(Input::Failed { op, error, .. }) => {
                let line = heartbeat::error::failure_line(op.failure(), &error);
                die(None, &net::naming_refusal(&s, &line))
            }
        }
    }
}

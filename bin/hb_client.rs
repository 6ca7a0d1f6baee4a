//! `hb_client HOST PORT` — seed 000's `hb_client.c`, the in-band heartbeat client.
//!
//! Connects, then waits for traffic. After `--idle` (T1) of silence it sends a
//! `MSG_HEARTBEAT` message (`sending heartbeat #1`), then one every `--interval` (T2); any byte
//! from the server resets the count. When the count passes `--probes` (3), `connection dead`.
//! The C `select` loop is [`heartbeat::monitor`]; this `main` is what the C `main` does with
//! its results. Every ending exits 1, as the C `error( 1, … )`.

use heartbeat::cli::{self, Spec};
use heartbeat::error::{die, say};
use heartbeat::message::Message;
use heartbeat::monitor::{Answer, Config, Event, Framing, Input, Link, Monitor, Role};
use heartbeat::net;
use std::io::Write;
use std::sync::Arc;

const SPEC: Spec = Spec {
    name: "hb_client",
    about: "In-band heartbeat client (seed 000 hb_client.c): MSG_HEARTBEAT after --idle, then every --interval.",
    takes_host: true,
    takes_idle: true,
    idle: 60.0,
    interval: 10.0,
    probes: 3,
    whole_seconds: false,
    extras: &[],
};

fn main() {
    let a = cli::start(&SPEC);
    let host = a.host.as_deref().unwrap_or("127.0.0.1"); // parse() requires HOST
    let s = Arc::new(net::tcp_client(host, &a.port).unwrap_or_else(|e| die(Some(&e), "")));
    let peer = s.peer_addr().map(|p| p.to_string()).unwrap_or_default();

    let config = Config {
        idle: a.idle,
        interval: a.interval,
        probes: a.probes,
        role: Role::Prober,
    };
    let mut mon = Monitor::new(config, &peer);
    mon.watch_answering(Link::Data, &s, Framing::Messages, Answer::Ignore)
        .unwrap_or_else(|e| die(Some(&e), "cannot start the reader"));

    loop {
        match mon.next_event() {
            // rc == 0: timed out
            Event::Probe(heartbeats) => {
                say(&format!("sending heartbeat #{heartbeats}"));
                if let Err(e) = (&*s).write_all(&Message::heartbeat().encode()) {
                    die(Some(&e), "send failure");
                }
            }
            Event::Dead => die(None, "connection dead"),
            Event::Input(Input::Closed { .. }) => die(None, "server terminated"),
            Event::Input(Input::Failed { error, .. }) => die(Some(&error), "recv failure"),
            // heartbeats = 0; tv.tv_sec = T1; "process message" is empty: the reader drops it
            Event::Input(_) => {}
        }
    }
}

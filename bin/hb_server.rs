//! `hb_server PORT` — seed 000's `hb_server.c`, the in-band heartbeat server.
//!
//! Each client's 2004-byte messages are read whole; `MSG_HEARTBEAT` is answered by echoing
//! the message, `MSG_TYPE1`/`MSG_TYPE2` are accepted, anything else is
//! `unknown message type (N)` and ends that client. With no traffic for `--idle + --interval`
//! (T1 + T2) the server says `missed heartbeat #1`, then one more every `--interval`, and
//! `connection dead` past `--probes`. The C serves one client and exits 1; this serves many
//! (a thread each, lines prefixed with the peer), or one with `--once`.

use heartbeat::cli::{self, Args, Extra, Spec};
use heartbeat::error::{self, die, say};
use heartbeat::message::{MSG_HEARTBEAT, MSG_TYPE1, MSG_TYPE2};
use heartbeat::monitor::{Answer, Config, Event, Framing, Input, Link, Monitor, Role};
use heartbeat::{net, server};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

const SPEC: Spec = Spec {
    name: "hb_server",
    about: "In-band heartbeat server (seed 000 hb_server.c): echoes each MSG_HEARTBEAT.",
    takes_host: false,
    takes_idle: true,
    idle: 60.0,
    interval: 10.0,
    probes: 3,
    whole_seconds: false,
    extras: &[
        Extra::Once,
        Extra::MaxClients,
        Extra::Backlog,
        Extra::ReplyDelay,
    ],
};

/// One client: the C `main` after `accept`. Returns the C exit status (always 1).
fn serve_client(s1: TcpStream, peer: SocketAddr, a: &Args) -> i32 {
    let say = |text: &str| say(&format!("{peer}: {text}"));
    let fail =
        |e: &std::io::Error, text: &str| error::error(0, Some(e), &format!("{peer}: {text}"));
    let config = Config {
        idle: a.idle,
        interval: a.interval,
        probes: a.probes,
        role: Role::Answerer,
    };
    // A client that stops reading must not block this thread for ever in send().
    let _ = s1.set_write_timeout(Some(config.death_bound()));
    let s1 = Arc::new(s1);
    let mut mon = Monitor::new(config, &peer.to_string());
    // The reader echoes each MSG_HEARTBEAT itself: no thread handoff on the echo path.
    let answer = Answer::Heartbeats {
        delay: a.reply_delay,
    };
    if let Err(e) = mon.watch_answering(Link::Data, &s1, Framing::Messages, answer) {
        fail(&e, "cannot start the reader");
        return 1;
    }
    loop {
        let msg = match mon.next_event() {
            Event::Probe(missed_heartbeats) => {
                say(&format!("missed heartbeat #{missed_heartbeats}"));
                continue;
            }
            Event::Dead => {
                say("connection dead");
                return 1;
            }
            Event::Input(Input::Message { msg, .. }) => msg,
            Event::Input(Input::Closed { pending: 0, .. }) => {
                say("client terminated");
                return 1;
            }
            Event::Input(Input::Closed { pending, .. }) => {
                say(&format!(
                    "client terminated in the middle of a message ({pending} of 2004 bytes)"
                ));
                return 1;
            }
            Event::Input(Input::Failed { error, .. }) => {
                fail(&error, "recv failure");
                return 1;
            }
            Event::Input(Input::SendFailed { error, .. }) => {
                fail(&error, "send failure");
                return 1;
            }
            Event::Input(_) => continue, // only whole messages reach here
        };
        match msg.msg_type {
            MSG_TYPE1 | MSG_TYPE2 => log::debug!("{peer}: message type {}", msg.msg_type),
            MSG_HEARTBEAT => {} // echoed by the reader: rc = send( s1, &msg, sizeof( msg ), 0 )
            // %d of ntohl(msg.type), as the C prints it
            other => {
                say(&format!("unknown message type ({})", other as i32));
                return 1;
            }
        }
    }
}

fn main() {
    let a = cli::start(&SPEC);
    let s = net::tcp_server_backlog(None, &a.port, a.backlog).unwrap_or_else(|e| die(Some(&e), ""));
    let (once, max) = (a.once, a.max_clients);
    let status = server::serve(s, once, max, move |s1, peer| serve_client(s1, peer, &a));
    std::process::exit(status);
}

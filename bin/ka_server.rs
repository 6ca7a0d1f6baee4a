//! `ka_server PORT` — seed 002's migration source: it accepts the backup's connection and
//! holds it, sending nothing (`tcpkeepalive_server` only calls `accept`). With `--keepalive`
//! it probes its clients too, as seed 001 advises, so a client that vanished is cleaned up
//! instead of held for ever ("脏数据"). Each connection's end is reported with the time since
//! its last byte.

use heartbeat::cli::{self, Args, Extra, Spec};
use heartbeat::error::{self, die, say};
use heartbeat::keepalive::{self, Settings};
use heartbeat::{net, server};
use std::net::{SocketAddr, TcpStream};

const SPEC: Spec = Spec {
    name: "ka_server",
    about: "Kernel keepalive server (seed 002's source, seed 001's advice): holds connections, sends nothing; --keepalive probes clients.",
    takes_host: false,
    takes_idle: true,
    idle: 60.0,
    interval: 5.0,
    probes: 3,
    whole_seconds: true,
    extras: &[Extra::Once, Extra::MaxClients, Extra::Backlog, Extra::Keepalive, Extra::UserTimeout],
};

fn serve_client(s: TcpStream, peer: SocketAddr, a: &Args) -> i32 {
    if a.keepalive {
        let want = Settings {
            idle: a.idle,
            interval: a.interval,
            probes: a.probes,
        };
        match keepalive::apply(&s, &want, a.user_timeout) {
            Ok(lines) => lines.iter().for_each(|l| log::debug!("{peer}: {l}")),
            Err(e) => {
                error::error(0, Some(&e), &format!("{peer}: setsockopt failed"));
                return 1;
            }
        }
    }
    let (ending, result, since) = keepalive::wait_for_end(&s);
    say(&format!(
        "{peer}: {}",
        keepalive::describe_end(&ending, &result, since, "client")
    ));
    1
}

fn main() {
    let a = cli::start(&SPEC);
    if a.keepalive {
        let want = Settings {
            idle: a.idle,
            interval: a.interval,
            probes: a.probes,
        };
        say(&format!(
            "probing clients: {want}: a vanished client is dropped {} s after its last byte",
            want.bound().as_secs()
        ));
    }
    let s = net::tcp_server_backlog(None, &a.port, a.backlog).unwrap_or_else(|e| die(Some(&e), ""));
    let (once, max) = (a.once, a.max_clients);
    let status = server::serve(s, once, max, move |c, peer| serve_client(c, peer, &a));
    std::process::exit(status);
}

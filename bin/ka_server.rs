//! `ka_server PORT` — seed 002's migration source: it accepts the backup's connection and
//! holds it, sending nothing (`tcpkeepalive_server` only calls `accept`). With `--keepalive`
//! it probes its clients too, as seed 001 advises, so a client that vanished is cleaned up
//! instead of held for ever ("脏数据"). Each connection's end is reported with the time since
//! its last byte.

use heartbeat::cli::{Extra, Kind, Server, Spec};
use heartbeat::error::{say, Peer};
use heartbeat::{cli, keepalive, server};
use std::net::{SocketAddr, TcpStream};

const SPEC: Spec = Spec::keepalive(
    "ka_server",
    "Kernel keepalive server (seed 002's source, seed 001's advice): holds connections, sends nothing; --keepalive probes clients.",
    Kind::Server,
)
.with(&[Extra::Keepalive, Extra::UserTimeout]);

fn serve_client(s: TcpStream, addr: SocketAddr, a: &Server) -> i32 {
    let peer = Peer(addr);
    if a.keepalive {
        match keepalive::apply(&s, &a.timing.keepalive(), a.user_timeout) {
            Ok(lines) => lines.iter().for_each(|l| log::debug!("{addr}: {l}")),
            Err(e) => return peer.fail(&e, "setsockopt failed"),
        }
    }
    let (ending, result, since) = keepalive::wait_for_end(&s);
    peer.say(&keepalive::describe_end(&ending, &result, since, "client"));
    1
}

fn main() {
    let a = cli::server(&SPEC);
    if a.keepalive {
        let want = a.timing.keepalive();
        say(&format!(
            "probing clients: {want}: a vanished client is dropped {} s after its last byte",
            want.bound().as_secs()
        ));
    }
    server::run(a, serve_client)
}

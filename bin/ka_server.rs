//! `ka_server PORT` — seed 002's migration source: it accepts the backup's connection and
//! holds it, sending nothing (`tcpkeepalive_server` only calls `accept`). With `--keepalive`
//! it probes its clients too, as seed 001 advises, so a client that vanished is cleaned up
//! instead of held for ever ("脏数据"). Each connection's end is reported with the time since
//! its last byte.
//!
//! At `--max-clients` held connections a newcomer is taken and the connection idle longest
//! is turned away, told why in one line (`ka_server: turned away: …`): refusing the newest,
//! as the other servers do, would let idle sockets whose kernels still answer keepalive
//! lock the server out for as long as they stay (see [`heartbeat::held`]).

use heartbeat::cli::{Extra, Kind, Server, Spec};
use heartbeat::error::{say, Peer};
use heartbeat::held::{Held, Ticket};
use heartbeat::server::Refusals;
use heartbeat::{cli, keepalive, server};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

const SPEC: Spec = Spec::keepalive(
    "ka_server",
    "Kernel keepalive server (seed 002's source, seed 001's advice): holds connections, sends nothing; --keepalive probes clients.",
    Kind::Server,
)
.with(&[Extra::Keepalive, Extra::UserTimeout])
.at_limit("beyond N held, turn away the idlest to take a newcomer");

fn serve_client(s: TcpStream, addr: SocketAddr, a: &Server, ticket: Ticket) -> i32 {
    let peer = Peer(addr);
    if a.keepalive {
        match keepalive::apply(&s, &a.timing.keepalive(), a.user_timeout) {
            Ok(lines) => lines.iter().for_each(|l| log::debug!("{addr}: {l}")),
            Err(e) => return peer.fail(&e, "setsockopt failed"),
        }
    }
    let (ending, result, since) = keepalive::wait_for_end(&s, |_| ticket.hold.heard());
    if !ticket.hold.turned_away() {
        peer.say(&keepalive::describe_end(&ending, &result, since, "client"));
    } // else its line was said when it was turned away
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
    let refusals = Refusals {
        tell: true, // ka_client prints what the server said before it closed
        // At --max-clients the idlest makes room; the accept loop enters each client.
        held: Some(Arc::new(Held::new())),
    };
    server::run(a, refusals, |s, addr, a, ticket| match ticket {
        Some(t) => serve_client(s, addr, a, t),
        None => unreachable!("a server with a list of held clients gives every one a ticket"),
    })
}

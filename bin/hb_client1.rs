//! `hb_client1 HOST PORT` — seed 000's `hb_client1.c`: the heartbeat on a link of its own.
//!
//! Connects the data connection (`sdata`) to the server, listens on an ephemeral port of
//! that connection's own local address, sends the port there as 2 bytes in network order
//! (the C sends `hblisten.sin_port` as is), and accepts the server's connection back as the
//! heartbeat link (`shb`). (The C listens first, on every interface, then connects.) The heartbeat is one
//! `0x00` byte on `shb` (`send( shb, "", 1, 0 )`); traffic on either connection resets the
//! count. Endings: `server terminated (sdata)`, `server terminated (shb)`, `connection dead`.
//!
//! Unlike the C, the listener is bound to the data connection's own local address, not to
//! every interface, only a connection from the server's address is taken as `shb`, and the
//! wait for it is bounded (the death bound) instead of blocking for ever, watching `sdata`
//! meanwhile: a server that closes or resets it there ends the wait at once, with the C's
//! line (`server terminated (sdata)`, `recv failure: …`) and the reason it gave, if any.

use heartbeat::cli::{self, Kind, Spec};
use heartbeat::error::{die, say};
use heartbeat::monitor::{Event, Heartbeat, Input, Link, Monitor, Op, Reading, Verdict};
use heartbeat::{net, sys};
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPEC: Spec = Spec::seed000(
    "hb_client1",
    "Heartbeat client on a separate link (seed 000 hb_client1.c): one byte on shb after --idle, then every --interval.",
    Kind::Client,
);

/// How the wait for the connection back ended.
enum Back {
    /// `shb`, from the server's address.
    Shb(TcpStream),
    /// The server closed `sdata` first, having said this (a refusal's reason) or nothing.
    Closed(String),
    /// `recv` on `sdata` failed (a reset), after the server said this or nothing.
    Failed(io::Error, String),
    /// No connection from the server within the bound; what it said on `sdata` meanwhile.
    TimedOut(String),
}

/// `shb = accept( slisten, NULL, NULL )`, taking only the server's address, within `limit`,
/// and watching `sdata` meanwhile as the C's loop does once it has `shb` (the C blocks in
/// `accept` and would miss a server that closed or reset `sdata` there): `select` on both.
/// What the server sends on `sdata` is a sign of life the C drops; kept here (its last
/// 512 bytes) as the reason of a server that turns us away with a line and closes.
fn accept_from(slisten: &TcpListener, sdata: &TcpStream, server: IpAddr, limit: Duration) -> Back {
    let end = Instant::now() + limit;
    let mut said: Vec<u8> = Vec::new();
    let words = |said: &[u8]| String::from_utf8_lossy(said).trim().to_string();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Back::TimedOut(words(&said));
        }
        let (new, data) = match sys::readable(slisten.into(), sdata.into(), left) {
            Ok(r) => r,
            Err(e) => die(Some(&e), "select failure"),
        };
        if data {
            let mut msg = [0u8; 512];
            // rc = recv( sdata, msg, sizeof( msg ), 0 ): readable, so it does not block
            match (&*sdata).read(&mut msg) {
                Ok(0) => return Back::Closed(words(&said)),
                Ok(n) => {
                    said.extend_from_slice(&msg[..n]);
                    let extra = said.len().saturating_sub(msg.len());
                    said.drain(..extra);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Back::Failed(e, words(&said)),
            }
        }
        if new {
            match net::accept_now(slisten) {
                Ok(Some((shb, from))) if from.ip() == server => return Back::Shb(shb),
                Ok(Some((_, from))) => say(&format!(
                    "ignoring a connection from {from}: not the server"
                )),
                Ok(None) => {}
                Err(e) => die(Some(&e), "accept failure"),
            }
        }
    }
}

fn main() {
    let a = cli::client(&SPEC);
    let config = a.timing.prober();

    // connect server and send heartbeat port number
    let sdata = net::tcp_client(&a.host, &a.port).unwrap_or_else(|e| die(Some(&e), ""));
    let (local, server) = match (sdata.local_addr(), sdata.peer_addr()) {
        (Ok(l), Ok(p)) => (l, p),
        (Err(e), _) | (_, Err(e)) => die(Some(&e), "getsockname failure"),
    };
    let slisten =
        net::tcp_server(Some(&local.ip().to_string()), "0").unwrap_or_else(|e| die(Some(&e), ""));
    let hblisten = slisten
        .local_addr()
        .unwrap_or_else(|e| die(Some(&e), "getsockname failure"));
    log::debug!("heartbeat listener on {hblisten}");
    if let Err(e) = (&sdata).write_all(&hblisten.port().to_be_bytes()) {
        die(Some(&e), "send failure sending port");
    }
    let shb = match accept_from(&slisten, &sdata, server.ip(), config.death_bound()) {
        Back::Shb(shb) => shb,
        // rc == 0: error( 1, 0, "server terminated (sdata)\n" ), with the reason it gave
        Back::Closed(words) if words.is_empty() => die(
            None,
            "server terminated (sdata) (refused? the server closed before connecting back)",
        ),
        Back::Closed(words) => die(
            None,
            &format!("server terminated (sdata); it said: {words}"),
        ),
        // rc < 0: error( 1, errno, "recv failure" ). A server that turns us away before it
        // reads our port closes with it unread: a reset, right behind its reason.
        Back::Failed(e, words) if words.is_empty() => die(Some(&e), "recv failure"),
        Back::Failed(e, words) => die(
            None,
            &format!(
                "recv failure: {}; it said: {words}",
                heartbeat::error::describe(&e)
            ),
        ),
        Back::TimedOut(words) => {
            let bound = config.death_bound();
            let said = if words.is_empty() {
                String::new()
            } else {
                format!("; the server said: {words}")
            };
            die(
                None,
                &format!(
                    "accept failure: no heartbeat connection from {} within {bound:?}{said}",
                    server.ip()
                ),
            )
        }
    };
    drop(slisten);

    let (sdata, shb) = (Arc::new(sdata), Arc::new(shb));
    let mut mon = Monitor::new(config, &server.to_string());
    // recv( shb, hbmsg, 1, 0 ) and recv( sdata, msg, sizeof( msg ), 0 ): any byte is a sign
    // of life, and is dropped
    for (link, s) in [(Link::Data, &sdata), (Link::Heartbeat, &shb)] {
        mon.watch(link, s, Reading::Bytes(|_| Verdict::Take))
            .unwrap_or_else(|e| die(Some(&e), "cannot start the reader"));
    }
    mon.heartbeat(Heartbeat::Bytes(shb.clone(), vec![0])); // send( shb, "", 1, 0 )
    loop {
        // rc = select( maxfd1, &readfd, NULL, NULL, &tv );
        match mon.next_event() {
            // rc == 0: if ( ++heartbeats > 3 ) … ; rc = send( shb, "", 1, 0 );
            Event::Probe(heartbeats) => {
                say(&format!("sending heartbeat #{heartbeats}"));
                if let Err(e) = mon.send_heartbeat() {
                    die(Some(&e), "send failure");
                }
            }
            Event::Dead => die(None, "connection dead"),
            Event::Input(Input::Closed { link, .. }) => {
                die(None, &format!("server terminated ({})", link.c_name()))
            }
            Event::Input(Input::Failed {
                link: Link::Heartbeat,
                op: Op::Recv,
                error,
            }) => die(Some(&error), "bad recv on shb"),
            Event::Input(Input::Failed { op, error, .. }) => die(Some(&error), op.failure()),
        }
    }
}

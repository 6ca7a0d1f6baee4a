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
//! wait for it is bounded (the death bound) instead of blocking for ever.

use heartbeat::cli::{self, Kind, Spec};
use heartbeat::error::{die, say};
use heartbeat::monitor::{Event, Heartbeat, Input, Link, Monitor, Op, Reading, Verdict};
use heartbeat::net;
use std::io::{self, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPEC: Spec = Spec::seed000(
    "hb_client1",
    "Heartbeat client on a separate link (seed 000 hb_client1.c): one byte on shb after --idle, then every --interval.",
    Kind::Client,
);

/// `shb = accept( slisten, NULL, NULL )`, taking only the server's address, within `limit`
/// on every system ([`net::accept_within`]).
fn accept_from(slisten: &TcpListener, server: IpAddr, limit: Duration) -> io::Result<TcpStream> {
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match net::accept_within(slisten, left)? {
            Some((shb, from)) if from.ip() == server => return Ok(shb),
            Some((_, from)) => say(&format!(
                "ignoring a connection from {from}: not the server"
            )),
            None => {
                let msg = format!("no heartbeat connection from {server} within {limit:?}");
                return Err(io::Error::new(io::ErrorKind::TimedOut, msg));
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
    let shb = accept_from(&slisten, server.ip(), config.death_bound()).unwrap_or_else(|e| {
        // A server that turned us away closed sdata, maybe with a line saying why.
        let why = match net::parting_words(&sdata).as_deref() {
            Some("") => " (refused? the server closed sdata without a word)".to_string(),
            Some(words) => format!("; the server closed sdata: {words}"),
            None => String::new(),
        };
        let e = heartbeat::error::describe(&e);
        die(None, &format!("accept failure: {e}{why}"))
    });
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

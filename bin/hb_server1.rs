//! `hb_server1 PORT` — seed 000's `hb_server1.c`: the server side of the separate link.
//!
//! For each client: read the 2-byte heartbeat port from the data connection (`sdata`),
//! connect back to *the address the data connection came from* on that port (`shb`), echo
//! every heartbeat byte on `shb`, and watch both connections: `missed heartbeat #N` after
//! `--idle + --interval` of silence on both, `connection dead` past `--probes`,
//! `client terminated` when either closes.
//!
//! Unlike the C, reading the port has one deadline, the first window `idle + interval` from
//! the accept, however the two bytes come (the C `readn` could wait for ever on a client that
//! sends one byte, spinning at 100 % CPU as it waits); port 0 is refused; the connect-back is
//! bounded too; and `shb` carries only heartbeat bytes (`0x00`): any other byte ends that
//! client before anything is echoed, so a client cannot make the server reflect the bytes of
//! another service on its host. Nor its zeros: `hb_client1` sends one byte, then waits for
//! `T1` of silence, so the server echoes no faster than once per `min(T1, T2) / 2` and a
//! read of more than `--probes` bytes (more than a client can have unanswered) ends the
//! link.

use heartbeat::cli::{Kind, Server, Spec};
use heartbeat::error::Peer;
use heartbeat::monitor::{Event, Input, Link, Monitor, Reading, Verdict};
use heartbeat::readn::readn_until;
use heartbeat::{net, server};
use std::io::{self, ErrorKind::*};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPEC: Spec = Spec::seed000(
    "hb_server1",
    "Heartbeat server on a separate link (seed 000 hb_server1.c): connects back, echoes each heartbeat byte.",
    Kind::Server,
);

/// `rc = recv( shb, hbmsg, 1, 0 ); … rc = send( shb, hbmsg, 1, 0 );` — on the reader
/// thread. The link carries only `0x00`, what `hb_client1` sends: any other byte ends it
/// before anything is echoed, so a client cannot make this server reflect another service.
fn on_heartbeat(bytes: &[u8]) -> Verdict {
    match bytes.iter().find(|&&b| b != 0) {
        None => Verdict::Echo,
        Some(b) => Verdict::End(format!(
            "byte 0x{b:02x} on the heartbeat link, which carries only 0x00"
        )),
    }
}

/// `rc = recv( sdata, msg, sizeof( msg ), 0 );` — the data is dropped.
fn on_data(_: &[u8]) -> Verdict {
    Verdict::Take
}

/// `rc = readn( sdata, ( char * )&peer.sin_port, sizeof( peer.sin_port ) );`, all of it
/// within `limit` of now; port 0 is refused.
fn read_port(sdata: &TcpStream, limit: Duration) -> io::Result<u16> {
    let mut sin_port = [0u8; 2];
    let fail = |kind, msg: String| Err(io::Error::new(kind, msg));
    match readn_until(sdata, &mut sin_port, Instant::now() + limit) {
        Ok(2) if sin_port == [0, 0] => fail(InvalidData, "port 0 is not a heartbeat port".into()),
        Ok(2) => Ok(u16::from_be_bytes(sin_port)),
        Ok(got) => fail(
            UnexpectedEof,
            format!("client closed after {got} of 2 bytes"),
        ),
        Err(e) if e.kind() == TimedOut => {
            fail(TimedOut, format!("no port number within {limit:?}"))
        }
        Err(e) => Err(e),
    }
}

/// One client: the C `main` after `accept`. Returns the C exit status (always 1).
fn serve_client(sdata: TcpStream, peer: SocketAddr, a: &Server) -> i32 {
    let (addr, peer) = (peer, Peer(peer));
    let config = a.timing.answerer();
    let port = match read_port(&sdata, config.first_window()) {
        Ok(p) => p,
        Err(e) => return peer.fail(&e, "error reading port number"),
    };
    // rc = connect( shb, ( struct sockaddr * )&peer, peerlen ); only ever to the host the
    // data connection came from
    let hb_peer = SocketAddr::new(addr.ip(), port);
    let shb = match net::connect_within(&hb_peer, config.first_window()) {
        Ok(s) => s,
        Err(e) => {
            // The client waits for this connection: tell it on sdata why none comes.
            let line =
                heartbeat::error::failure_line(&format!("shb connect error ({hb_peer})"), &e);
            net::tell(&sdata, &line);
            peer.say(&line);
            return 1;
        }
    };
    let _ = shb.set_write_timeout(Some(config.death_bound()));
    let (sdata, shb) = (Arc::new(sdata), Arc::new(shb));
    // tv.tv_sec = T1 + T2;
    let mut mon = Monitor::new(config, &addr.to_string());
    // Heartbeats come one per T1 at most, each alone: echo no faster, nor bursts.
    mon.pace_echoes(
        a.timing.idle.min(a.timing.interval) / 2,
        a.timing.probes as usize,
    );
    for (link, s, reading) in [
        (Link::Data, &sdata, Reading::Bytes(on_data)),
        (Link::Heartbeat, &shb, Reading::Bytes(on_heartbeat)),
    ] {
        if let Err(e) = mon.watch(link, s, reading) {
            return peer.fail(&e, "cannot start the reader");
        }
    }
    loop {
        // rc = select( maxfd1, &readfd, NULL, NULL, &tv );
        match mon.next_event() {
            // rc == 0: if ( ++missed_heartbeats > 3 ) … else
            Event::Probe(missed_heartbeats) => {
                peer.say(&format!("missed heartbeat #{missed_heartbeats}"))
            }
            Event::Dead => {
                peer.say("connection dead");
                return 1;
            }
            // recv returned 0 on shb or sdata
            Event::Input(Input::Closed { .. }) => {
                peer.say("client terminated");
                return 1;
            }
            // shb recv failure (or a byte that is not a heartbeat: on_heartbeat), shb send
            // failure, recv failure
            Event::Input(Input::Failed { link, op, error }) => {
                let shb = if link == Link::Heartbeat { "shb " } else { "" };
                return peer.fail(&error, &format!("{shb}{}", op.failure()));
            }
        }
    }
}

fn main() {
    // sdata may carry the reason of a refusal: the C client reads it and drops it.
    let refusals = server::Refusals {
        tell: true,
        ..Default::default()
    };
    server::main(&SPEC, refusals, |s, peer, a, _| serve_client(s, peer, a))
}

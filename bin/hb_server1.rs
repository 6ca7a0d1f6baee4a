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
//! another service on its host.

use heartbeat::cli::{Kind, Server, Spec};
use heartbeat::error::Peer;
use heartbeat::monitor::{Event, Input, Link, Monitor, Reading};
use heartbeat::{net, server};
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPEC: Spec = Spec::seed000(
    "hb_server1",
    "Heartbeat server on a separate link (seed 000 hb_server1.c): connects back, echoes each heartbeat byte.",
    Kind::Server,
);

/// `readn( sdata, &peer.sin_port, 2 )`, all of it within `limit` of now (one deadline, however
/// the two bytes are cut).
fn read_port(mut sdata: &TcpStream, limit: Duration) -> io::Result<u16> {
    let end = Instant::now() + limit;
    let late = || {
        let msg = format!("no port number within {limit:?}");
        io::Error::new(io::ErrorKind::TimedOut, msg)
    };
    let mut port = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        sdata.set_read_timeout(Some(left))?;
        match sdata.read(&mut port[got..]) {
            Ok(0) => {
                let msg = format!("client closed after {got} of 2 bytes");
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(late())
            }
            Err(e) => return Err(e),
        }
    }
    sdata.set_read_timeout(None)?;
    match u16::from_be_bytes(port) {
        0 => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "port 0 is not a heartbeat port",
        )),
        p => Ok(p),
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
    // Only ever the host the data connection came from.
    let hb_peer = SocketAddr::new(addr.ip(), port);
    let shb = match net::connect_within(&hb_peer, config.first_window()) {
        Ok(s) => s,
        Err(e) => return peer.fail(&e, &format!("shb connect error ({hb_peer})")),
    };
    let _ = shb.set_write_timeout(Some(config.death_bound()));
    let (sdata, shb) = (Arc::new(sdata), Arc::new(shb));
    let mut mon = Monitor::new(config, &addr.to_string());
    // sdata: read and dropped, as the C; shb: every heartbeat byte echoed by its reader.
    for (link, s, reading) in [
        (Link::Data, &sdata, Reading::Drop),
        (Link::Heartbeat, &shb, Reading::HeartbeatBytes),
    ] {
        if let Err(e) = mon.watch(link, s, reading) {
            return peer.fail(&e, "cannot start the reader");
        }
    }
    loop {
        match mon.next_event() {
            Event::Probe(missed_heartbeats) => {
                peer.say(&format!("missed heartbeat #{missed_heartbeats}"))
            }
            Event::Dead => {
                peer.say("connection dead");
                return 1;
            }
            Event::Input(Input::Closed { .. }) => {
                peer.say("client terminated");
                return 1;
            }
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
    server::main_with(&SPEC, refusals, serve_client)
}

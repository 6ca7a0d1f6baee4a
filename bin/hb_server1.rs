//! `hb_server1 PORT` — seed 000's `hb_server1.c`: the server side of the separate link.
//!
//! For each client: read the 2-byte heartbeat port from the data connection (`sdata`),
//! connect back to *the address the data connection came from* on that port (`shb`), echo
//! every heartbeat byte on `shb`, and watch both connections: `missed heartbeat #N` after
//! `--idle + --interval` of silence on both, `connection dead` past `--probes`,
//! `client terminated` when either closes.
//!
//! Unlike the C, reading the port is bounded by the idle window (the C `readn` could wait for
//! ever on a client that sends one byte, spinning at 100 % CPU as it waits), port 0 is
//! refused, and the connect-back is bounded too.

use heartbeat::cli::{self, Args, Extra, Spec};
use heartbeat::error::{self, die, say};
use heartbeat::monitor::{Answer, Config, Event, Framing, Input, Link, Monitor, Role};
use heartbeat::readn::readn;
use heartbeat::{net, server};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

const SPEC: Spec = Spec {
    name: "hb_server1",
    about: "Heartbeat server on a separate link (seed 000 hb_server1.c): connects back, echoes each heartbeat byte.",
    takes_host: false,
    takes_idle: true,
    idle: 60.0,
    interval: 10.0,
    probes: 3,
    whole_seconds: false,
    extras: &[Extra::Once, Extra::MaxClients, Extra::Backlog],
};

/// `readn( sdata, &peer.sin_port, 2 )`, bounded by `limit`.
fn read_port(sdata: &TcpStream, limit: std::time::Duration) -> io::Result<u16> {
    sdata.set_read_timeout(Some(limit))?;
    let mut port = [0u8; 2];
    let got = readn(&mut &*sdata, &mut port).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no port number within {limit:?}"),
        ),
        _ => e,
    })?;
    sdata.set_read_timeout(None)?;
    match (got, u16::from_be_bytes(port)) {
        (2, 0) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "port 0 is not a heartbeat port",
        )),
        (2, p) => Ok(p),
        (n, _) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("client closed after {n} of 2 bytes"),
        )),
    }
}

/// One client: the C `main` after `accept`. Returns the C exit status (always 1).
fn serve_client(sdata: TcpStream, peer: SocketAddr, a: &Args) -> i32 {
    let say = |text: &str| say(&format!("{peer}: {text}"));
    let fail = |e: &io::Error, text: &str| error::error(0, Some(e), &format!("{peer}: {text}"));
    let config = Config {
        idle: a.idle,
        interval: a.interval,
        probes: a.probes,
        role: Role::Answerer,
    };
    let port = match read_port(&sdata, config.first_window()) {
        Ok(p) => p,
        Err(e) => {
            fail(&e, "error reading port number");
            return 1;
        }
    };
    // Only ever the host the data connection came from.
    let hb_peer = SocketAddr::new(peer.ip(), port);
    let shb = match TcpStream::connect_timeout(&hb_peer, config.first_window()) {
        Ok(s) => s,
        Err(e) => {
            fail(&e, &format!("shb connect error ({hb_peer})"));
            return 1;
        }
    };
    let _ = shb.set_write_timeout(Some(config.death_bound()));
    let (sdata, shb) = (Arc::new(sdata), Arc::new(shb));
    let mut mon = Monitor::new(config, &peer.to_string());
    // sdata: read and dropped, as the C; shb: every byte echoed by its reader itself.
    for (link, s, answer) in [
        (Link::Data, &sdata, Answer::Ignore),
        (Link::Heartbeat, &shb, Answer::Bytes),
    ] {
        if let Err(e) = mon.watch_answering(link, s, Framing::Bytes, answer) {
            fail(&e, "cannot start the reader");
            return 1;
        }
    }
    loop {
        match mon.next_event() {
            Event::Probe(missed_heartbeats) => {
                say(&format!("missed heartbeat #{missed_heartbeats}"))
            }
            Event::Dead => {
                say("connection dead");
                return 1;
            }
            Event::Input(Input::SendFailed { error, .. }) => {
                fail(&error, "shb send failure");
                return 1;
            }
            Event::Input(Input::Closed { .. }) => {
                say("client terminated");
                return 1;
            }
            Event::Input(Input::Failed { link, error }) => {
                let what = if link == Link::Heartbeat {
                    "shb recv failure"
                } else {
                    "recv failure"
                };
                fail(&error, what);
                return 1;
            }
            Event::Input(_) => {} // nothing else reaches here: sdata is read and dropped by its reader
        }
    }
}

fn main() {
    let a = cli::start(&SPEC);
    let s = net::tcp_server_backlog(None, &a.port, a.backlog).unwrap_or_else(|e| die(Some(&e), ""));
    let (once, max) = (a.once, a.max_clients);
    let status = server::serve(s, once, max, move |sdata, peer| {
        serve_client(sdata, peer, &a)
    });
    std::process::exit(status);
}

//! Figure 1: heartbeat round trip on loopback. In-band: a 2004-byte MSG_HEARTBEAT echoed by
//! hb_server's code path; link: 1 byte echoed by hb_server1 on shb. Beside each, the same
//! message echoed by a C select loop (benches/c/echo_select.c) on the same machine.

use crate::common::{c_server, cc, server, Figure, Proc, Report};
use heartbeat::message::{Message, MSG_LEN};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

const N: usize = 20_000;

fn round_trips(s: &mut TcpStream, msg: &[u8]) -> Vec<f64> {
    s.set_nodelay(true).unwrap();
    let mut back = vec![0u8; msg.len()];
    for _ in 0..2000 {
        s.write_all(msg).unwrap();
        s.read_exact(&mut back).unwrap();
    }
    (0..N)
        .map(|_| {
            let t = Instant::now();
            s.write_all(msg).unwrap();
            s.read_exact(&mut back).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn c_echo(size: usize) -> Option<(Proc, u16)> {
    c_server(&cc("echo_select")?, &["0", &size.to_string()])
}

pub fn run(r: &mut Report) {
    eprintln!("rtt: {N} round trips each");
    let hb = Message::heartbeat().encode();
    let (_srv, port, _) = server("hb_server", &["--idle", "60", "--interval", "10"], false);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut rust_inband = round_trips(&mut s, &hb);
    let f = Figure::from("rtt", "in-band 2004 B, hb_server", "us", &mut rust_inband);
    let rust_med = f.median;
    r.add(f);
    if let Some((_c, cport)) = c_echo(MSG_LEN) {
        let mut s = TcpStream::connect(("127.0.0.1", cport)).unwrap();
        let mut c = round_trips(&mut s, &hb);
        let f = Figure::from("rtt", "in-band 2004 B, C select loop", "us", &mut c);
        let over = (rust_med / f.median - 1.0) * 100.0;
        r.add(f.note(format!("hb_server adds {over:+.0} % (target <= 30 %)")));
    }

    // The separate link: do hb_client1's handshake, then time 1-byte echoes on shb.
    let (_srv1, port1, _) = server("hb_server1", &["--idle", "60", "--interval", "10"], false);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut sdata = TcpStream::connect(("127.0.0.1", port1)).unwrap();
    sdata
        .write_all(&l.local_addr().unwrap().port().to_be_bytes())
        .unwrap();
    let (mut shb, _) = l.accept().unwrap();
    let mut link = round_trips(&mut shb, &[0]);
    let f = Figure::from("rtt", "link 1 B, hb_server1", "us", &mut link);
    let rust1 = f.median;
    r.add(f);
    if let Some((_c, cport)) = c_echo(1) {
        let mut s = TcpStream::connect(("127.0.0.1", cport)).unwrap();
        let mut c = round_trips(&mut s, &[0]);
        let f = Figure::from("rtt", "link 1 B, C select loop", "us", &mut c);
        let over = (rust1 / f.median - 1.0) * 100.0;
        r.add(f.note(format!("hb_server1 adds {over:+.0} % (target <= 30 %)")));
    }
}

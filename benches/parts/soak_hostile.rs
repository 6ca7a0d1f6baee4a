//! The soak's hostile clients. Every one connects from 127.0.0.9 (bound before `connect`),
//! so the server's lines about it are told apart from the honest clients' (127.0.0.1) by
//! the peer they name. Each is bounded: at most [`OPEN`] open at once per server, at most
//! [`FLOODS`] of them floods, one started every [`EVERY`], and each one's life bounded in
//! time (and a flood in bytes) whatever the server does.

use crate::tally::{Kind, Proto, Rng, Tally};
use socket2::{Domain, SockRef, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Hostile connections open at once, per server.
pub const OPEN: usize = 50;
/// Floods open at once, per server (a flood keeps a server's reader busy).
const FLOODS: usize = 3;
/// One hostile connection started this often, at most (20 a second).
const EVERY: Duration = Duration::from_millis(50);
/// The longest any hostile connection lives.
const LIFE: Duration = Duration::from_secs(20);
/// A flood sends this much at most.
const FLOOD_BYTES: usize = 64 << 20;

/// Where hostile clients come from: on loopback, but not the honest clients' address.
pub const HOSTILE_IP: [u8; 4] = [127, 0, 0, 9];

fn kinds(p: Proto) -> &'static [Kind] {
    use Kind::*;
    match p {
        Proto::Hb1 => &[Silent, Close, Reset, Garbage, Flood, HalfClose, BadPort],
        _ => &[Silent, Close, Reset, Garbage, Flood, HalfClose],
    }
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.bind(&SocketAddr::from((HOSTILE_IP, 0)).into())?;
    s.connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)).into(),
        Duration::from_secs(3),
    )?;
    Ok(s.into())
}

/// Read until the server closes or resets (true), or `limit` passes (false).
fn until_closed(s: &mut TcpStream, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 8192];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// hb_client1's handshake from the hostile address: a listener for the connection back,
/// the port sent on sdata, shb accepted (None if it does not come within 5 s).
fn handshake(sdata: &mut TcpStream) -> Option<TcpStream> {
    let l = TcpListener::bind(SocketAddr::from((HOSTILE_IP, 0))).ok()?;
    let port = l.local_addr().ok()?.port();
    sdata.write_all(&port.to_be_bytes()).ok()?;
    l.set_nonblocking(true).ok()?;
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).ok()?;
                return Some(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => return None,
        }
    }
    None
}

/// A 2004-byte msg_t of type `t` with random data.
pub fn msg(t: u32, rng: &mut Rng) -> Vec<u8> {
    let mut m = t.to_be_bytes().to_vec();
    m.extend(rng.bytes(2000));
    m
}

/// Send without reading until the server ends it (true) or our bound passes (false).
fn flood(
    s: &mut TcpStream,
    mut chunk: impl FnMut(&mut TcpStream) -> std::io::Result<usize>,
) -> bool {
    let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
    let end = Instant::now() + Duration::from_secs(15);
    let mut sent = 0;
    while Instant::now() < end && sent < FLOOD_BYTES {
        match chunk(s) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// One hostile connection of `kind` against `proto`'s server on `port`.
pub fn one(proto: Proto, kind: Kind, port: u16, tally: &Tally, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut s = match connect(port) {
        Ok(s) => s,
        Err(_) => return tally.add(&tally.hostile_failed, 1),
    };
    tally.add(&tally.hostile[kind.index()], 1);
    match (kind, proto) {
        (Kind::Close, _) => drop(s),
        (Kind::Reset, _) => {
            let _ = SockRef::from(&s).set_linger(Some(Duration::ZERO));
            drop(s);
        }
        // ka_server holds silent sockets for ever (their kernel answers keepalive): we leave.
        (Kind::Silent, Proto::Ka) => std::thread::sleep(rng.secs(1.0, 8.0)),
        (Kind::Silent, _) => {
            until_closed(&mut s, LIFE);
        }
        (Kind::Garbage, Proto::Hb) => {
            // a type that is not 1, 2 or 3, then up to 2 more messages' worth of noise
            let t = 4 + rng.below(u32::MAX as u64 - 4) as u32;
            let mut m = msg(t, &mut rng);
            m.extend(rng.some_bytes(0, 4000));
            let _ = s.write_all(&m);
            until_closed(&mut s, Duration::from_secs(10));
        }
        (Kind::Garbage, Proto::Hb1) => {
            if let Some(mut shb) = handshake(&mut s) {
                let _ = shb.write_all(&[1 + rng.below(255) as u8]);
                until_closed(&mut s, Duration::from_secs(10));
            }
        }
        (Kind::Garbage, Proto::Oob) => {
            let _ = s.write_all(&rng.some_bytes(1, 8000));
            for _ in 0..1 + rng.below(3) {
                let _ = SockRef::from(&s).send_out_of_band(&[rng.next() as u8]);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        (Kind::Garbage, Proto::Ka) => {
            let _ = s.write_all(&rng.some_bytes(1, 8000));
            std::thread::sleep(Duration::from_secs(1));
        }
        (Kind::Flood, Proto::Hb) => {
            let m = msg(3, &mut rng);
            if flood(&mut s, |s| s.write(&m)) {
                tally.add(&tally.floods_ended, 1);
            }
        }
        (Kind::Flood, Proto::Hb1) => {
            if let Some(mut shb) = handshake(&mut s) {
                let zeros = [0u8; 4096];
                if flood(&mut shb, |s| s.write(&zeros)) {
                    tally.add(&tally.floods_ended, 1);
                }
            }
        }
        (Kind::Flood, Proto::Oob) => {
            let data = rng.bytes(16 << 10);
            let ended = flood(&mut s, |s| {
                let n = s.write(&data)?;
                SockRef::from(&*s).send_out_of_band(b"1")?;
                Ok(n)
            });
            if ended {
                tally.add(&tally.floods_ended, 1);
            }
        }
        (Kind::Flood, Proto::Ka) => {
            // ka_server reads and drops all it gets: paced, 6.4 MB/s for 5 s at most
            let data = rng.bytes(64 << 10);
            let end = Instant::now() + Duration::from_secs(5);
            while Instant::now() < end && s.write_all(&data).is_ok() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        (Kind::HalfClose, Proto::Hb) => {
            let m = msg(3, &mut rng);
            let _ = s.write_all(&m);
            let _ = s.shutdown(Shutdown::Write);
            until_closed(&mut s, Duration::from_secs(10));
        }
        (Kind::HalfClose, Proto::Hb1) => {
            if let Some(mut shb) = handshake(&mut s) {
                let _ = shb.write_all(&[0]);
                let _ = shb.set_read_timeout(Some(Duration::from_secs(3)));
                let _ = shb.read(&mut [0u8; 1]);
                let _ = s.shutdown(Shutdown::Write);
                until_closed(&mut s, Duration::from_secs(10));
            }
        }
        (Kind::HalfClose, Proto::Oob) => {
            let _ = s.write_all(&rng.some_bytes(1, 64 << 10));
            let _ = s.shutdown(Shutdown::Write);
            until_closed(&mut s, Duration::from_secs(10));
        }
        (Kind::HalfClose, Proto::Ka) => {
            let _ = s.shutdown(Shutdown::Write);
            until_closed(&mut s, Duration::from_secs(10));
        }
        (Kind::BadPort, _) => {
            // A port nobody listens on: bound and held, never listening, so no other
            // socket can take it before the server connects back (refused).
            let held = Socket::new(Domain::IPV4, Type::STREAM, None).and_then(|h| {
                h.bind(&SocketAddr::from((HOSTILE_IP, 0)).into())
                    .map(|()| h)
            });
            let port: Vec<u8> = match rng.below(3) {
                0 => vec![0, 0],
                1 => {
                    let closed = held.as_ref().ok().and_then(|h| h.local_addr().ok());
                    let closed = closed.and_then(|a| a.as_socket()).map_or(1, |a| a.port());
                    closed.to_be_bytes().to_vec()
                }
                _ => vec![rng.next() as u8], // one byte of two, then silence
            };
            let _ = s.write_all(&port);
            until_closed(&mut s, Duration::from_secs(10));
            drop(held);
        }
    }
}

/// Start hostile connections until `deadline`, within the bounds above; returns when the
/// last one has ended.
pub fn run(proto: Proto, port: u16, tally: Arc<Tally>, deadline: Instant, seed: u64) {
    let mut rng = Rng::new(seed);
    let floods = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    while Instant::now() < deadline {
        std::thread::sleep(EVERY);
        if tally.open.load(Relaxed) >= OPEN {
            continue;
        }
        let ks = kinds(proto);
        let mut kind = ks[rng.below(ks.len() as u64) as usize];
        if kind == Kind::Flood && floods.load(Relaxed) >= FLOODS {
            kind = Kind::Close;
        }
        tally.open.fetch_add(1, Relaxed);
        if kind == Kind::Flood {
            floods.fetch_add(1, Relaxed);
        }
        let (t, f, seed) = (tally.clone(), floods.clone(), rng.next());
        handles.push(std::thread::spawn(move || {
            one(proto, kind, port, &t, seed);
            if kind == Kind::Flood {
                f.fetch_sub(1, Relaxed);
            }
            t.open.fetch_sub(1, Relaxed);
        }));
        handles.retain(|h| !h.is_finished());
    }
    for h in handles {
        let _ = h.join();
    }
}

//! The soak's honest clients, from 127.0.0.1: in-process clients speaking each protocol and
//! comparing every echo byte for byte, and the project's own client programs, started and
//! stopped in waves, whose every line is read for a false death.
//!
//! An echo that differs, or does not come within the server's death bound, is `wrong`; an
//! honest connection the server closes, resets or turns away, or a client program that says
//! `connection dead`, `server is unreachable`, `server terminated` (or fails) before it is
//! stopped, is a false death.

use crate::common::bin;
use crate::hostile::msg;
use crate::tally::{Proto, Rng, Tally};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long an honest client waits for an echo: past it the server would have declared
/// the connection dead (its bound is 6 s with the soak's timings).
const ECHO_WAIT: Duration = Duration::from_millis(6500);

/// What a knob falsifies on purpose (SOAK_FALSIFY), to show that the checks fail.
#[derive(Clone, Copy, Default)]
pub struct Falsify {
    /// Flip one byte of the first echo received before comparing it.
    pub echo: bool,
    /// Stop (SIGSTOP) the first client program past the server's death bound.
    pub death: Option<Duration>,
}

/// One in-process client for `life`; `flip` falsifies its first echo.
pub fn in_process(proto: Proto, port: u16, life: Duration, t: &Tally, seed: u64, flip: bool) {
    t.add(&t.honest, 1);
    let r = match proto {
        Proto::Hb => messages(port, life, t, seed, flip),
        Proto::Hb1 => link(port, life, t, seed, flip),
        Proto::Ka => held(port, life, t, seed),
        Proto::Oob => Ok(()), // the OOB pair is checked through hb_client_oob (real)
    };
    if let Err(what) = r {
        t.problem(&t.false_deaths, what);
    }
}

fn connect(port: u16) -> Result<TcpStream, String> {
    TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("honest connect: {e}"))
}

/// Read `want.len()` bytes and compare; Err(false death) if the server ends the connection.
fn echo(s: &mut TcpStream, want: &[u8], t: &Tally, flip: &mut bool) -> Result<(), String> {
    let mut got = vec![0u8; want.len()];
    match s.read_exact(&mut got) {
        Ok(()) => {
            if std::mem::take(flip) {
                got[want.len() / 2] ^= 0x20;
            }
            if got == want {
                t.add(&t.echoes, 1);
                t.add(&t.echo_bytes, want.len() as u64);
            } else {
                let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
                t.problem(
                    &t.wrong,
                    format!("echo differs at byte {at} of {}", want.len()),
                );
            }
            Ok(())
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            t.problem(&t.wrong, format!("no echo within {ECHO_WAIT:?}"));
            Ok(())
        }
        Err(e) => Err(format!("server ended an honest connection: {e}")),
    }
}

/// hb_server: heartbeats with random data, echoed whole; MSG_TYPE1/2 between, not echoed.
fn messages(port: u16, life: Duration, t: &Tally, seed: u64, flip: bool) -> Result<(), String> {
    let (mut rng, mut flip) = (Rng::new(seed), flip);
    let mut s = connect(port)?;
    let _ = s.set_read_timeout(Some(ECHO_WAIT));
    let end = Instant::now() + life;
    while Instant::now() < end {
        std::thread::sleep(rng.secs(0.1, 0.4));
        let m = msg(1 + rng.below(3) as u32, &mut rng);
        s.write_all(&m)
            .map_err(|e| format!("send to server: {e}"))?;
        if m[3] == 3 {
            echo(&mut s, &m, t, &mut flip)?;
        }
    }
    Ok(())
}

/// hb_server1: hb_client1's handshake, then one 0x00 on shb about every second, each
/// answered by one 0x00; random data on sdata between, dropped by the server.
fn link(port: u16, life: Duration, t: &Tally, seed: u64, flip: bool) -> Result<(), String> {
    let (mut rng, mut flip) = (Rng::new(seed), flip);
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let mut sdata = connect(port)?;
    let hb_port = l.local_addr().map_err(|e| e.to_string())?.port();
    sdata
        .write_all(&hb_port.to_be_bytes())
        .map_err(|e| e.to_string())?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let wait = Instant::now() + ECHO_WAIT;
    let mut shb = loop {
        match l.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < wait => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(format!("no connection back from hb_server1: {e}")),
        }
    };
    let _ = shb.set_nonblocking(false);
    let _ = shb.set_read_timeout(Some(ECHO_WAIT));
    let end = Instant::now() + life;
    while Instant::now() < end {
        std::thread::sleep(rng.secs(0.8, 1.2));
        if rng.below(3) == 0 {
            let _ = sdata.write_all(&rng.some_bytes(1, 3000));
        }
        shb.write_all(&[0])
            .map_err(|e| format!("send on shb: {e}"))?;
        echo(&mut shb, &[0], t, &mut flip)?;
    }
    Ok(())
}

/// ka_server: held and not refused nor turned away: a byte sent now and then (the server
/// hears it), and each second of silence back counts as one hold checked.
fn held(port: u16, life: Duration, t: &Tally, seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let mut s = connect(port)?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let end = Instant::now() + life;
    let mut buf = [0u8; 512];
    while Instant::now() < end {
        if rng.below(2) == 0 {
            s.write_all(b"x")
                .map_err(|e| format!("send to ka_server: {e}"))?;
        }
        match s.read(&mut buf) {
            Ok(0) => return Err("ka_server closed an honest connection".into()),
            Ok(n) => {
                let said = String::from_utf8_lossy(&buf[..n]);
                return Err(format!(
                    "ka_server said to an honest client: {}",
                    said.trim()
                ));
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                t.add(&t.echoes, 1);
            }
            Err(e) => return Err(format!("ka_server ended an honest connection: {e}")),
        }
    }
    Ok(())
}

/// Lines that mean a client program saw its server die or refuse it.
const CLIENT_DEATHS: [&str; 9] = [
    "connection dead",
    "unreachable",
    "terminated",
    "failure",
    "error",
    "refused",
    "turned away",
    "timed out",
    "reset",
];

/// The project's client for `proto`, with the soak's timings.
fn client_args(proto: Proto) -> (&'static str, Vec<&'static str>) {
    let hb = vec!["--idle", "1", "--interval", "1", "--probes", "3"];
    match proto {
        Proto::Hb => ("hb_client", hb),
        Proto::Hb1 => ("hb_client1", hb),
        Proto::Ka => ("ka_client", hb),
        Proto::Oob => ("hb_client_oob", vec!["--interval", "0.5", "--probes", "5"]),
    }
}

/// One run of the project's client for `life`, then stopped by its pid (hb_client_oob ends
/// by itself at the end of its input: its echo is compared whole with what it was given).
pub fn program(proto: Proto, port: u16, life: Duration, t: &Tally, seed: u64, f: Falsify) {
    let (name, mut args) = client_args(proto);
    let port_s = port.to_string();
    args.extend(["127.0.0.1", port_s.as_str()]);
    let oob = proto == Proto::Oob;
    let pipe = |yes: bool| if yes { Stdio::piped() } else { Stdio::null() };
    let spawned = Command::new(bin(name))
        .args(&args)
        .stdin(pipe(oob))
        .stdout(pipe(oob))
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return t.problem(&t.false_deaths, format!("{name}: cannot start: {e}")),
    };
    t.add(&t.honest, 1);
    let pid = child.id() as i32;
    let err = child.stderr.take().map(BufReader::new);
    let lines = std::thread::spawn(move || -> Vec<String> {
        err.map(|e| e.lines().map_while(Result::ok).collect())
            .unwrap_or_default()
    });
    let mut rng = Rng::new(seed);
    let input = rng.some_bytes(64 << 10, 256 << 10);
    let (feed, out) = if oob {
        let mut stdin = child.stdin.take();
        let data = input.clone();
        let feed = std::thread::spawn(move || {
            // the input spread over the client's life, 4 KiB at a time
            let pause = life.div_f64((data.len() / 4096 + 1) as f64);
            for c in data.chunks(4096) {
                let ok = stdin.as_mut().is_some_and(|s| s.write_all(c).is_ok());
                if !ok {
                    break;
                }
                std::thread::sleep(pause);
            }
        });
        let mut stdout = child.stdout.take();
        let out = std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut v);
            }
            v
        });
        (Some(feed), Some(out))
    } else {
        (None, None)
    };
    let start = Instant::now();
    if let Some(stop) = f.death {
        std::thread::sleep(Duration::from_secs(2));
        // SAFETY: kill(2) on our own child, by its pid.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        std::thread::sleep(stop);
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGCONT) };
    }
    // The client must still be running when its life ends (hb_client_oob: exit 0 by then).
    let end = start
        + life
        + if oob {
            Duration::from_secs(20)
        } else {
            Duration::ZERO
        };
    let mut status = None;
    while Instant::now() < end {
        if let Ok(Some(st)) = child.try_wait() {
            status = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if status.is_none() {
        let _ = child.kill(); // by pid: Child::kill sends SIGKILL to this child only
        let _ = child.wait();
    }
    if let Some(h) = feed {
        let _ = h.join();
    }
    let said = lines.join().unwrap_or_default();
    // `sending heartbeat #2` and beyond: an answer came later than the client's interval
    let late = said
        .iter()
        .filter(|l| l.contains("sending heartbeat #") && !l.ends_with(" #1"))
        .count();
    t.add(&t.late, late as u64);
    if let Some(l) = said
        .iter()
        .find(|l| CLIENT_DEATHS.iter().any(|d| l.contains(d)))
    {
        return t.problem(&t.false_deaths, l.clone());
    }
    if oob {
        let mut got = out.and_then(|h| h.join().ok()).unwrap_or_default();
        if f.echo && !got.is_empty() {
            got[0] ^= 0x20;
        }
        match status {
            Some(st) if st.success() => {}
            other => {
                let how =
                    other.map_or("did not end 20 s after its input".into(), |s| s.to_string());
                return t.problem(&t.false_deaths, format!("{name}: {how}"));
            }
        }
        if got == input {
            t.add(&t.echoes, 1);
            t.add(&t.echo_bytes, got.len() as u64);
        } else {
            let at = got.iter().zip(&input).position(|(a, b)| a != b);
            let at = at.unwrap_or(got.len().min(input.len()));
            t.problem(
                &t.wrong,
                format!(
                    "{name}: echo of {} bytes differs from its {} bytes of input at byte {at}",
                    got.len(),
                    input.len()
                ),
            );
        }
    } else if let Some(st) = status {
        t.problem(
            &t.false_deaths,
            format!("{name}: exited before it was stopped ({st}): {said:?}"),
        );
    }
}

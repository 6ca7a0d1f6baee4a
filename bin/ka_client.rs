//! `ka_client HOST PORT` — kernel keepalive instead of an application heartbeat: seed 000 §1's
//! four `setsockopt` calls (defaults 60 / 5 / 3, as there), seed 003's `heartbeat(fd)`, seed
//! 004's `SIO_KEEPALIVE_VALS` on Windows, and seed 002's backup that takes over when the
//! kernel reports the link dead (`--on-dead CMD`).
//!
//! Prints the system defaults and the values the kernel took, then blocks reading — no
//! byte is sent unless `--write SECS[,BYTES]` makes it a busy client (the lab's `busy-gone`
//! fate) — until the kernel ends the connection, and says how, with the time
//! since the last byte: `connection timed out` (the peer is gone: probes unanswered),
//! `connection reset` (the peer rebooted: its kernel answered a probe with RST), or
//! `server terminated` (the peer closed). A hung peer is never reported: its kernel still
//! ACKs the probes (seed 001's lesson).

use heartbeat::cli::{self, Extra, Kind, Spec};
use heartbeat::error::{die, say};
use heartbeat::net;
use heartbeat::{failover, keepalive};

const SPEC: Spec = Spec::keepalive(
    "ka_client",
    "Kernel keepalive client (seeds 000 §1, 001-004): SO_KEEPALIVE + TCP_KEEPIDLE/INTVL/CNT; reports how the kernel ended the link. Tip: --user-timeout idle+interval*probes.",
    Kind::Client,
)
.with(&[Extra::UserTimeout, Extra::OnDead, Extra::Write]);

fn main() {
    let a = cli::client(&SPEC);
    match keepalive::system_defaults() {
        Ok(d) => say(&format!(
            "system defaults: {} ({}): a vanished peer is found after {}",
            d.settings,
            d.source,
            keepalive::human(d.settings.bound())
        )),
        Err(e) => say(&format!("system defaults unknown: {e}")),
    }
    let s = net::tcp_client(&a.host, &a.port).unwrap_or_else(|e| die(Some(&e), ""));
    let lines = keepalive::apply(&s, &a.timing.keepalive(), a.user_timeout)
        .unwrap_or_else(|e| die(Some(&e), "setsockopt failed"));
    for line in lines {
        say(&line);
    }

    let peer = s.peer_addr().ok(); // gone with the connection: ask now
    if let Some((every, bytes)) = a.write {
        say(&format!(
            "writing {bytes} bytes every {} s: keepalive probes wait while data is unacknowledged",
            every.as_secs_f64()
        ));
        keepalive::keep_writing(&s, every, bytes)
            .unwrap_or_else(|e| die(Some(&e), "cannot start writing"));
    }
    // ka_server sends nothing, except one line of why when it turns a client away.
    let mut said = Vec::new();
    let (ending, result, since) = keepalive::wait_for_end(&s, |b| {
        said.extend_from_slice(&b[..b.len().min(512 - said.len().min(512))])
    });
    let mut line = keepalive::describe_end(&ending, &result, since, "server");
    if let Some(words) = String::from_utf8_lossy(&said)
        .lines()
        .find(|l| !l.is_empty())
    {
        line += &format!("; it said: {words}");
    }
    say(&line);

    // Seed 002: tcpkeepalive_vm_start() — the backup takes over.
    if let Some(cmd) = a.on_dead {
        heartbeat::error::exit(failover::run(&cmd, &ending, peer, since));
    }
    heartbeat::error::exit(1);
}

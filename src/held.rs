//! `ka_server`'s held connections, bounded: seed 002's migration source only `accept`s and
//! holds, and seed 001 warns that what a server holds for clients that are gone is "脏数据"
//! (stale state) to clean up.
//!
//! The other servers end a silent client by their heartbeat; `ka_server` has none, and
//! kernel keepalive (`--keepalive`) ends only clients whose kernel stopped answering. An
//! idle socket whose kernel still answers costs its owner nothing to keep, so if a full
//! server refused newcomers (as the others do at `--max-clients`), 1024 idle sockets would
//! lock it out for as long as they stay open.
//!
//! So when `--max-clients` connections are held, the newcomer is taken and the connection
//! **idle longest** (the oldest last byte; the oldest accepted where none ever sent) is
//! turned away, with a line on each side. Why that one and not the newest:
//! - refusing the newest makes a lock-out permanent at no cost to whoever holds the sockets;
//!   turning away the idlest makes it last only while someone keeps connecting, and ends
//!   by itself when they stop;
//! - the connection idle longest is the one most likely abandoned (seed 001's stale state),
//!   and a client that sends (`ka_client --write`) stays ahead of idle ones;
//! - the one turned away learns it at once: `ka_server` sends it one line with the reason,
//!   `ka_server: turned away: …`, then closes (`ka_client` prints what the server said), so
//!   it can come back, where a refused client would only see the door closed.

use crate::error;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One held connection.
struct Entry {
    id: u64,
    peer: SocketAddr,
    stream: Arc<TcpStream>,
    hold: Arc<Hold>,
}

/// What a connection's handler and the registry share.
#[derive(Debug)]
pub struct Hold {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last byte received (its accept at first).
    last_ms: AtomicU64,
    turned_away: AtomicBool,
}

impl Hold {
    /// A byte came from the client.
    pub fn heard(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Whether the registry turned this connection away (its end was said there).
    pub fn turned_away(&self) -> bool {
        self.turned_away.load(Ordering::Acquire)
    }
}

/// The held connections of one server. Shared by the accept loop and every handler.
pub struct Held {
    epoch: Instant,
    next: AtomicU64,
    entries: Mutex<Vec<Entry>>,
}

/// A connection's place in [`Held`]; leaving it (dropping) takes the connection out.
pub struct Ticket {
    held: Arc<Held>,
    id: u64,
    /// Stamp it on every byte; ask it whether the connection was turned away.
    pub hold: Arc<Hold>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut e = self.held.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|x| x.id != self.id);
    }
}

impl Held {
    /// No connection held yet.
    #[allow(clippy::new_without_default)] // one way to make it: ka_server's
    pub fn new() -> Held {
        Held {
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            entries: Mutex::new(Vec::new()),
        }
    }

    /// Hold `stream` from `peer` until the ticket is dropped, called by the accept loop
    /// before the connection's thread starts, so that what is counted against `limit` and
    /// the order of idleness are one list: at `limit` held, the connection idle longest is
    /// taken out and turned away, telling it why, and the newcomer takes its place.
    /// `Ok(None)` if `limit` is 0 (a newcomer is then refused, as by the other servers);
    /// an error if no descriptor is left for the list's copy of the stream.
    pub fn hold(
        self: &Arc<Self>,
        stream: &TcpStream,
        peer: SocketAddr,
        limit: usize,
    ) -> io::Result<Option<Ticket>> {
        // The list's own handle (a dup), so that it can tell and shut down the connection
        // while the handler's thread owns the stream.
        let copy = Arc::new(stream.try_clone()?);
        let hold = Arc::new(Hold {
            epoch: self.epoch,
            last_ms: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            turned_away: AtomicBool::new(false),
        });
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let victim = if e.len() >= limit {
            let Some(at) =
                (0..e.len()).min_by_key(|&i| (e[i].hold.last_ms.load(Ordering::Relaxed), e[i].id))
            else {
                return Ok(None);
            };
            Some(e.swap_remove(at))
        } else {
            None
        };
        e.push(Entry {
            id,
            peer,
            stream: copy,
            hold: Arc::clone(&hold),
        });
        drop(e);
        log::debug!("{peer}: held, id {id}");
        if let Some(v) = victim {
            self.turn_away(v, limit);
        }
        Ok(Some(Ticket {
            held: Arc::clone(self),
            id,
            hold,
        }))
    }

    /// Turn `victim` (taken out of the list) away, telling it why (`limit` held,
    /// `--max-clients`), and say so.
    fn turn_away(&self, victim: Entry, limit: usize) {
        victim.hold.turned_away.store(true, Ordering::Release);
        let now = self.epoch.elapsed().as_millis() as u64;
        let idle = now.saturating_sub(victim.hold.last_ms.load(Ordering::Relaxed));
        let why = format!(
            "turned away: idle longest ({:.1} s) of {limit} held (--max-clients), to make room",
            idle as f64 / 1000.0
        );
        crate::net::tell(&victim.stream, &why);
        let _ = victim.stream.shutdown(Shutdown::Both); // its handler's read returns
        error::say(&format!("{}: {why}", victim.peer));
    }
}

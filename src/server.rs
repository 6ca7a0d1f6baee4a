//! The start of every server in seed 000: `s = tcp_server( NULL, argv[ 1 ] ); s1 = accept( s,
//! NULL, NULL );` — and what the C leaves out after it.
//!
//! The C servers accept one client, serve it, and exit when it ends (`error( 1, 0, "client
//! terminated\n" )`). A lab server has a class connected to it, so [`serve`] accepts clients
//! for ever and runs each on its own thread, named `monitor PEER` so that `top -H`, a
//! debugger or a panic message says whose it is. One client's death, bad input or even a
//! panic ends only its own thread; the others carry on. `--once` restores the C behaviour:
//! one client, served on the main thread, and the process exits with the C program's status.
//!
//! `--max-clients N` bounds the threads: a client beyond it is refused, its connection closed
//! at once, and a line says so; nobody else is disturbed. Where the protocol carries text
//! to a client that shows it ([`Refusals::tell`]: `ka_server`, and `hb_server1`'s `sdata`,
//! which the C client reads and drops) the client is first sent the reason as one line,
//! `PROG: refused: …`; in a `msg_t` stream (`hb_server`) or an echo (`hb_server_oob`) a line
//! of text would be taken for data, so those clients only see the close and name the likely
//! cause themselves. `ka_server` makes room instead ([`Refusals::held`], see
//! [`crate::held`]). The same happens when the
//! process nears `vm.max_map_count` (65 530 by default): every thread costs 4 memory maps
//! (stack, guard page, signal stack, guard page), so a server of two threads per client holds
//! about 8 000 clients, and beyond that the Rust runtime would abort the whole process.

use crate::cli::{self, Server, Spec};
use crate::gate::Gate;
use crate::held::{Held, Ticket};
use crate::{error, net};
use log::debug;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Stack size of a connection's thread. The handlers keep a message or two on the stack;
/// small stacks let one server hold thousands of connections.
pub const CONNECTION_STACK: usize = 256 * 1024;

/// Counts a connection as active while it lives (a panic unwinding drops it too).
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a server does, beyond its line, with a client it cannot serve.
#[derive(Clone, Default)]
pub struct Refusals {
    /// Send the client the reason as one text line before closing (`PROG: refused: …`):
    /// only where the protocol carries text to a client that shows it.
    pub tell: bool,
    /// At `--max-clients`, make room instead of refusing (`ka_server`, [`crate::held`]):
    /// the accept loop puts every client in this list before its thread starts, and hands
    /// the handler its [`Ticket`]; the list, not the threads still running, is what counts
    /// against the limit.
    pub held: Option<Arc<Held>>,
}

/// Every server's `main`: parse the arguments, `s = tcp_server( NULL, argv[ 1 ] )`, serve
/// each client with `handle`, refusing clients as `refusals` says, and exit (with `--once`,
/// with the client's status).
pub fn main<F>(spec: &Spec, refusals: Refusals, handle: F) -> !
where
    F: Fn(TcpStream, SocketAddr, &Server, Option<Ticket>) -> i32 + Send + Sync + 'static,
{
    run(cli::server(spec), refusals, handle)
}

/// [`main`] with the arguments already parsed.
pub fn run<F>(a: Server, refusals: Refusals, handle: F) -> !
where
    F: Fn(TcpStream, SocketAddr, &Server, Option<Ticket>) -> i32 + Send + Sync + 'static,
{
    let s = net::tcp_server_backlog(None, &a.port, a.backlog)
        .unwrap_or_else(|e| error::die(Some(&e), ""));
    let (once, max) = (a.once, a.max_clients);
    let status = serve(s, once, max, refusals, move |c, peer, t| {
        handle(c, peer, &a, t)
    });
    error::exit(status)
}

/// Accept clients on `listener` and run `handle(stream, peer, ticket)` for each (`ticket`:
/// its place in [`Refusals::held`], if the server holds a list); `handle` returns the status
/// the C program would have exited with when that client ended. Clients it cannot serve are
/// refused as `refusals` says.
///
/// With `once`, serve the first client on this thread and return its status. Otherwise
/// never return: each client gets a thread, at most `max_clients` at once.
pub fn serve<F>(
    listener: TcpListener,
    once: bool,
    max_clients: usize,
    refusals: Refusals,
    handle: F,
) -> i32
where
    F: Fn(TcpStream, SocketAddr, Option<Ticket>) -> i32 + Send + Sync + 'static,
{
    let handle = Arc::new(handle);
    let map_limit = read_proc("/proc/sys/vm/max_map_count", None);
    let active = Arc::new(AtomicUsize::new(0));
    let mut gate = if once {
        Gate::plain()
    } else {
        Gate::new(refusals.tell)
    };
    // Said once the server holds all it holds while idle (the gate's reserve descriptor
    // too): tests and the lab take this line as "ready" and count threads and descriptors.
    if let Ok(addr) = listener.local_addr() {
        debug!("listening on {addr}");
    }
    let refuse = |stream: TcpStream, peer: SocketAddr, why: String| {
        error::say(&format!("{peer}: refused: {why}"));
        if refusals.tell {
            net::tell(&stream, &format!("refused: {why}"));
        }
    }; // dropping the stream closes it
    loop {
        let (stream, peer) = match gate.accept(&listener) {
            Ok(c) => c,
            // The C: error( 1, errno, "accept failed" ).
            Err(e) if once => error::die(Some(&e), "accept failed"),
            Err(e) => {
                // ECONNABORTED, ENOBUFS…: a server for a class goes on.
                error::error(0, Some(&e), "accept failed");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let peer = net::canonical(peer);
        debug!("{peer}: accepted");
        if let Some(limit) = map_limit.filter(|&l| near_map_limit(l) && !once) {
            let why = format!("no room for more threads (vm.max_map_count {limit})");
            refuse(stream, peer, why);
            continue;
        }
        let full = format!("{max_clients} clients already (--max-clients)");
        let ticket = match &refusals.held {
            // One list counts and orders the held clients, filled here, before the
            // client's thread starts (`ka_server`).
            Some(held) => match held.hold(&stream, peer, max_clients) {
                Ok(Some(t)) => Some(t),
                Ok(None) => {
                    refuse(stream, peer, full);
                    continue;
                }
                Err(e) => {
                    refuse(stream, peer, format!("cannot hold it: {e}"));
                    continue;
                }
            },
            None if !once && active.load(Ordering::SeqCst) >= max_clients => {
                refuse(stream, peer, full);
                continue;
            }
            None => None,
        };
        if once {
            return handle(stream, peer, ticket);
        }
        active.fetch_add(1, Ordering::SeqCst);
        let guard = Active(active.clone());
        let h = handle.clone();
        let spawned = thread::Builder::new()
            .name(format!("monitor {peer}"))
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let _guard = guard;
                let status = h(stream, peer, ticket);
                debug!("{peer}: connection ended (status {status})");
            });
        if let Err(e) = spawned {
            // The closure (and with it the guard) is dropped: the count goes back down.
            error::error(0, Some(&e), &format!("{peer}: cannot start a thread"));
        }
    }
}

/// Memory maps each thread costs: its stack and guard page, and the signal stack and guard
/// page the Rust runtime gives every thread.
const MAPS_PER_THREAD: usize = 4;

/// Whether another client's threads (up to 3) might not get their memory maps under
/// `limit` (`vm.max_map_count`, read once). Past it thread creation fails inside the runtime,
/// which aborts the whole process; refusing one client is the lesser harm.
fn near_map_limit(limit: usize) -> bool {
    let threads = read_proc("/proc/self/status", Some("Threads:")).unwrap_or(0);
    (threads + 3) * MAPS_PER_THREAD + 512 > limit
}

/// A number from a /proc file, or from its line starting with `key`; `None` off Linux.
fn read_proc(path: &str, key: Option<&str>) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = match key {
        Some(k) => text.lines().find_map(|l| l.strip_prefix(k))?,
        None => &text,
    };
    value.trim().parse().ok()
}

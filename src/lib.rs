//! `heartbeat`: a faithful, runnable Rust port of the TCP liveness programs of seed 000
//! ("TCP存活检测机制") and the keepalive material of seeds 001–004.
//!
//! | module | ports |
//! | --- | --- |
//! | [`net`] | `set_address`, `tcp_server`, `tcp_client`, `udp_server`, `udp_client` |
//! | [`readn`] | `readn`, `readvrec`, `readline` (both variants) |
//! | [`message`] | `msg_t`, `MSG_TYPE1`, `MSG_TYPE2`, `MSG_HEARTBEAT` |
//! | [`monitor`] | the `select` loops of `hb_client`, `hb_server`, `hb_client1`, `hb_server1` and Stevens' `alarm` clock |
//! | [`reader`] | their `recv` calls: a reader thread per socket, the in-line readn of `msg_t` |
//! | [`writer`] | their `send` calls that may block, each connection's on a thread of its own |
//! | [`gate`] | `accept`, with a descriptor in reserve for when the process runs out |
//! | [`held`] | `ka_server`'s held connections, bounded: the one idle longest makes room |
//! | [`server`] | the `tcp_server` + `accept` start of every server, for many clients |
//! | [`oob`] | the out-of-band heartbeat seed 000 left unfinished (Stevens UNP §24.7): urgent bytes |
//! | [`keepalive`] | `SO_KEEPALIVE` and `TCP_KEEP*` of seeds 000 §1 and 001–004 |
//! | [`lab`] | the fault lab's expectations, verdicts and diagrams (SPEC §6) |
//! | [`wait`] | `select` on one socket with a timeout: urgent data, a bounded `accept`, a send that must not wait |
//! | [`failover`] | seed 002's `tcpkeepalive_vm_start()`: `--on-dead`, with the reason and peer in its environment |
//! | [`wire`] | (the lab's) a cable with delay, loss and a cut, where `tc netem` is missing |
//! | [`error`] | the per-program `error()` function and its line formats |
//! | [`stderr`] | its `fprintf( stderr, … )`: one writer thread behind a bounded queue, so no line blocks a connection |
//! | [`cli`] | `INIT()`, `argv`, and the options the port adds |
//!
//! The programs in `bin/` are thin `main`s that read beside their C originals.
#![deny(missing_docs)]

pub mod cli;
pub mod error;
pub mod failover;
pub mod gate;
pub mod held;
pub mod keepalive;
pub mod lab;
pub mod message;
pub mod monitor;
pub mod net;
pub mod oob;
pub mod reader;
pub mod readn;
pub mod server;
pub mod stderr;
pub mod wait;
pub mod wire;
pub mod writer;

//! `heartbeat`: a faithful, runnable Rust port of the TCP liveness programs of seed 000
//! ("TCP存活检测机制") and the keepalive material of seeds 001–004.
//!
//! | module | ports |
//! | --- | --- |
//! | [`net`] | `set_address`, `tcp_server`, `tcp_client`, `udp_server`, `udp_client` |
//! | [`readn`] | `readn`, `readvrec`, `readline` (both variants); `readn` under a deadline |
//! | [`message`] | `msg_t`, `MSG_TYPE1`, `MSG_TYPE2`, `MSG_HEARTBEAT` |
//! | [`conn`] | what a connection's threads share: `sdata`/`shb`, `recv failure`/`send failure`, what ends it, the last sign of life |
//! | [`monitor`] | the `select` loops of `hb_client`, `hb_server`, `hb_client1`, `hb_server1` and Stevens' `alarm` clock |
//! | [`reader`] | their `recv` calls: a reader thread per socket, the in-line readn of `msg_t`, the program's decision on each |
//! | [`writer`] | their `send` calls that may block, each connection's on a thread of its own |
//! | [`gate`] | `accept`, with a descriptor in reserve for when the process runs out |
//! | [`held`] | `ka_server`'s held connections, bounded: the one idle longest makes room |
//! | [`server`] | the `tcp_server` + `accept` start of every server, for many clients |
//! | [`oob`] | the out-of-band heartbeat seed 000 left unfinished (Stevens UNP §24.7): urgent bytes |
//! | [`keepalive`] | `SO_KEEPALIVE` and `TCP_KEEP*` of seeds 000 §1 and 001–004 |
//! | [`sys`] | the raw system calls, one per function: `poll`/`select`, `MSG_DONTWAIT`, `MSG_OOB`, `sockatmark`, `SIGPIPE` |
//! | [`failover`] | seed 002's `tcpkeepalive_vm_start()`: `--on-dead`, with the reason and peer in its environment |
//! | [`error`] | the per-program `error()` function and its line formats |
//! | [`stderr`] | its `fprintf( stderr, … )`: one writer thread behind a bounded queue, so no line blocks a connection |
//! | [`cli`] | `INIT()`, `argv`, and the options the port adds |
//!
//! The programs in `bin/` read beside their C originals: each holds its C loop's decisions
//! (what each message is worth, what each ending prints) and the library the machinery
//! (threads, clock, writers, urgent data).
#![deny(missing_docs)]

pub mod cli;
pub mod conn;
pub mod error;
pub mod failover;
pub mod gate;
pub mod held;
pub mod keepalive;
pub mod message;
pub mod monitor;
pub mod net;
pub mod oob;
pub mod reader;
pub mod readn;
pub mod server;
pub mod stderr;
pub mod sys;
pub mod writer;

//! The prober's heartbeat: what seed 000's clients send when a window expires — `send( s,
//! &msg, sizeof( msg ), 0 )` (`hb_client`), `send( shb, "", 1, 0 )` (`hb_client1`) — and
//! Stevens' `send( servfd, "1", 1, MSG_OOB )` in `sig_alrm` (`hb_client_oob`).
//!
//! The clock never waits on I/O, so the heartbeat goes out with a send that does not wait
//! ([`crate::sys`]'s `send_now`): one the send buffer cannot take now (the peer stopped
//! reading) counts as an unanswered probe and the count goes on; the part of a message that
//! did not fit goes first next time, so the stream stays whole. An urgent byte is queued on
//! the connection's writer ahead of its data, one exchange at a time (one urgent mark per
//! connection, [`crate::oob`]).

use super::Monitor;
use crate::sys::send_now;
use crate::writer::Writer;
use log::debug;
use std::io;
use std::net::TcpStream;
use std::sync::Arc;

/// What a prober sends on each probe.
#[derive(Debug)]
pub enum Heartbeat {
    /// Bytes on a socket, sent without waiting: `send( s, &msg, sizeof( msg ), 0 )`
    /// (`hb_client`), `send( shb, "", 1, 0 )` (`hb_client1`).
    Bytes(Arc<TcpStream>, Vec<u8>),
    /// An urgent byte, queued ahead of all data on the connection's writer:
    /// `send( fd, "1", 1, MSG_OOB )` (`hb_client_oob`).
    Urgent(Writer, u8),
}

impl Monitor {
    /// What [`send_heartbeat`](Self::send_heartbeat) sends.
    pub fn heartbeat(&mut self, heartbeat: Heartbeat) {
        self.heartbeat = Some(heartbeat);
    }

    /// Send the heartbeat for the current probe without waiting; `true` if it went (or, for
    /// an urgent byte, is first in line). One the send buffer cannot take now (the peer is
    /// not reading) stays unanswered, with a debug line; the part of a message that did not
    /// fit goes first next time, so the stream stays whole. An error is the C `send failure`.
    ///
    /// An urgent byte goes only when the previous one has been answered and this side has
    /// read up to the answer's mark: TCP keeps one urgent mark per connection, and a new
    /// mark that overtakes the reader turns the old urgent byte into normal data (see
    /// [`crate::oob`]). The tick still counts.
    pub fn send_heartbeat(&mut self) -> io::Result<bool> {
        let n = self.missed;
        let whole = match &self.heartbeat {
            None => return Ok(false),
            Some(Heartbeat::Urgent(..)) if self.shared.urgent_out() => {
                debug!(
                    "{}: probe #{n} not sent: the last urgent exchange is not complete (one urgent mark)",
                    self.label
                );
                return Ok(false);
            }
            Some(Heartbeat::Urgent(w, c)) => {
                // Out before it is queued: the reader may clear it as soon as it is.
                self.shared.set_urgent_out(true);
                let queued = w.urgent(*c);
                if !queued {
                    self.shared.set_urgent_out(false);
                }
                queued
            }
            Some(Heartbeat::Bytes(s, bytes)) => send_whole(s, &mut self.unsent, bytes)?,
        };
        if !whole {
            debug!(
                "{}: heartbeat #{n} not sent: no room to send (the peer is not reading); it counts as unanswered",
                self.label
            );
        }
        Ok(whole)
    }
}

/// Send `bytes` on `s` without waiting, after what is left of the previous heartbeat in
/// `unsent`; `true` if all of `bytes` went.
fn send_whole(s: &TcpStream, unsent: &mut Vec<u8>, bytes: &[u8]) -> io::Result<bool> {
    if !unsent.is_empty() {
        let n = send_now(s, unsent)?;
        unsent.drain(..n);
        if !unsent.is_empty() {
            return Ok(false);
        }
    }
    let n = send_now(s, bytes)?;
    unsent.extend_from_slice(&bytes[n..]);
    Ok(n == bytes.len())
}

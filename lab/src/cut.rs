//! The wire's cut: for good (`cut`, `mend`: a partition) or for a flap (`flap SECONDS`).
//!
//! A flap must take an exchange in flight — a cut that falls between two heartbeats loses
//! nothing and tests nothing (issue 19: every default flap said `cut 0`). No one outside the
//! wire knows when the next exchange leaves to the millisecond: a client's heartbeat follows
//! its last answer, but a kernel's keepalive probe leaves when its timer wheel fires, up to
//! 1/8 of `idle` late, and a script that sleeps until a predicted time wakes late under load
//! (a CI run cut nothing that way). So the wire waits for it: `flap SECONDS` arms the cut, and
//! the next TCP frame to reach the wire, whichever way it goes, starts it — that frame is the
//! first one lost — and the cut ends by itself `SECONDS` later. The wire says when it began
//! (`flap: the cut began at UNIX_SECONDS`), and `lab/scenario.sh` takes that as the fault.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Whether the wire is cut, for good or for a flap. Shared by both directions.
#[derive(Debug, Default)]
pub struct Cut {
    /// Cut for good, until `mend`.
    on: AtomicBool,
    /// The flap: armed, or running until an instant.
    flap: Mutex<Flap>,
}

#[derive(Debug, Default)]
enum Flap {
    #[default]
    Off,
    /// The next TCP frame starts a cut of this length.
    Armed(Duration),
    /// Cut until then.
    Until(Instant),
}

/// A flap that began with a frame: when (Unix seconds) and for how long.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Began {
    /// Unix time the frame reached the wire.
    pub unix: f64,
    /// How long the cut lasts, seconds.
    pub seconds: f64,
}

impl Cut {
    /// `cut` (true) or `mend` (false); `mend` also ends or disarms a flap.
    pub fn set(&self, on: bool) {
        self.on.store(on, Relaxed);
        if !on {
            *self.flap() = Flap::Off;
        }
    }

    /// `flap SECONDS`: the next TCP frame starts a cut of that length.
    pub fn arm(&self, length: Duration) {
        *self.flap() = Flap::Armed(length);
    }

    /// Whether a frame read `now` is lost to the cut. An armed flap begins with a TCP frame
    /// (`frame` is the whole Ethernet frame): the second value says so, once.
    pub fn at_read(&self, now: Instant, frame: &[u8]) -> (bool, Option<Began>) {
        if self.on.load(Relaxed) {
            return (true, None);
        }
        let mut flap = self.flap();
        match *flap {
            Flap::Off => (false, None),
            Flap::Until(end) => (now < end, None),
            Flap::Armed(length) if is_tcp(frame) => {
                *flap = Flap::Until(now + length);
                let unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                let seconds = length.as_secs_f64();
                (true, Some(Began { unix, seconds }))
            }
            Flap::Armed(_) => (false, None),
        }
    }

    /// Whether a frame leaving `now` (read before, waiting for its time) is lost: it was
    /// on the wire when it was cut.
    pub fn at_send(&self, now: Instant) -> bool {
        self.on.load(Relaxed) || matches!(*self.flap(), Flap::Until(end) if now < end)
    }

    /// `up`, `cut`, `flap armed for 0.3 s` or `flapping` — for the `stats` line.
    pub fn describe(&self) -> String {
        if self.on.load(Relaxed) {
            return "cut".into();
        }
        match *self.flap() {
            Flap::Armed(d) => format!("flap armed for {} s", d.as_secs_f64()),
            Flap::Until(end) if Instant::now() < end => "flapping".into(),
            _ => "up".into(),
        }
    }

    fn flap(&self) -> std::sync::MutexGuard<'_, Flap> {
        // A poisoned lock only means a thread panicked holding it; the state is still whole.
        self.flap.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An IPv4 frame carrying TCP: EtherType 0x0800, protocol 6 (not ARP, not ICMP).
fn is_tcp(frame: &[u8]) -> bool {
    frame.len() > 23 && frame[12..14] == [0x08, 0x00] && frame[23] == 6
}

impl Began {
    /// The line `hb_wire` prints; `lab/scenario.sh` reads the time back as the fault's.
    pub fn line(&self) -> String {
        format!(
            "flap: the cut began at {:.6} with a TCP frame, for {} s",
            self.unix, self.seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ethertype: [u8; 2], proto: u8) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&ethertype);
        f[23] = proto;
        f
    }

    #[test]
    fn a_flap_waits_for_a_tcp_frame_and_ends_by_itself() {
        let c = Cut::default();
        let t = Instant::now();
        let (tcp, arp, icmp) = (frame([8, 0], 6), frame([8, 6], 6), frame([8, 0], 1));
        c.arm(Duration::from_millis(300));
        assert_eq!(c.at_read(t, &arp), (false, None), "ARP does not start it");
        assert_eq!(c.at_read(t, &icmp), (false, None), "nor ICMP");
        assert!(!c.at_send(t), "armed is not cut");
        let (lost, began) = c.at_read(t, &tcp);
        assert!(lost, "the frame that starts the cut is the first one lost");
        assert_eq!(began.map(|b| b.seconds), Some(0.3));
        assert_eq!(
            c.at_read(t + Duration::from_millis(299), &tcp),
            (true, None)
        );
        assert!(c.at_send(t + Duration::from_millis(299)));
        assert!(!c.at_read(t + Duration::from_millis(300), &tcp).0, "mended");
        assert!(!c.at_send(t + Duration::from_millis(300)));
        assert_eq!(c.describe(), "flapping", "its 300 ms have not passed yet");
    }

    #[test]
    fn cut_and_mend_for_good_and_mend_ends_a_flap() {
        let c = Cut::default();
        let (t, tcp) = (Instant::now(), frame([8, 0], 6));
        c.set(true);
        assert_eq!(c.at_read(t, &tcp), (true, None));
        assert_eq!(c.describe(), "cut");
        c.set(false);
        assert!(!c.at_read(t, &tcp).0);
        c.arm(Duration::from_secs(5));
        assert_eq!(c.describe(), "flap armed for 5 s");
        assert!(c.at_read(t, &tcp).0);
        assert_eq!(c.describe(), "flapping");
        c.set(false);
        assert!(!c.at_read(t, &tcp).0, "mend ends the flap");
    }
}

//! The covering reader: seed 000's `select( s + 1, &readfd, NULL, NULL, &tv )` carries its
//! timeout `tv` in the very call that waits for data. An answerer with one reader that reads
//! and echoes lets that reader's blocking `read` do the same: its read timeout wakes the
//! monitor before the window ends, so the monitor sleeps without a timer while traffic
//! flows, instead of waking at every deadline that traffic has already moved (about 0.7
//! wakes per heartbeat).
//!
//! The read timeout is only an early wake-up, never the deadline: the kernel keeps socket
//! timeouts on its timer wheel, which rounds them up by as much as 1/8 (2 s for a 16 s
//! timeout at HZ = 250), so it is chosen to fire before the deadline even rounded up
//! ([`early_wake`]), and the monitor waits out the exact rest with `park_timeout` (a futex:
//! an hrtimer). A second reader (`hb_server1`) ends it: the monitor keeps every deadline
//! itself.

use crate::conn::Shared;
use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// The monitor's covering reader, if it has one.
#[derive(Default)]
pub(super) struct Cover {
    covering: Option<Arc<TcpStream>>,
    /// The covering reader's read timeout: it wakes the monitor that long after a read.
    early: Duration,
}

impl Cover {
    /// A reader starts on `stream`: it covers the monitor if it `fits` (the answerer's first
    /// and only reader, echoing at once, not urgent data) and the window (`window`, the
    /// first) is long enough for an early wake; any other reader ends the cover.
    pub(super) fn cover(
        &mut self,
        stream: &Arc<TcpStream>,
        fits: bool,
        window: Duration,
        shared: &Shared,
    ) -> io::Result<()> {
        let early = early_wake(window);
        if cfg!(unix) && fits && early.is_some() {
            self.early = early.unwrap_or_default();
            stream.set_read_timeout(early)?;
            shared.set_cover(true);
            self.covering = Some(Arc::clone(stream));
        } else if let Some(first) = self.covering.take() {
            shared.set_cover(false);
            first.set_read_timeout(None)?;
        }
        Ok(())
    }

    /// Whether the monitor, `left` before the end of a window of `window`, has already been
    /// woken by the covering reader's timeout (or is past the point it would have been):
    /// then it waits out the exact rest itself.
    pub(super) fn woken_early(&self, window: Duration, left: Duration) -> bool {
        left <= window.saturating_sub(self.early)
    }
}

/// The read timeout that wakes an answerer's monitor before a window of `window` ends: the
/// timer wheel may fire a socket timeout `t` as late as `t + t/8` plus a tick or two (4 ms
/// each at HZ = 250, 10 ms at HZ = 100), so `t = (window - 30 ms - window/100) × 8/9` fires
/// at least 30 ms less two ticks, and 1 % of the window, before the deadline: room for the
/// reader's and the monitor's wake-ups on a loaded machine. It must still outlast the
/// heartbeat period for the monitor to sleep through it: the client's heartbeat comes every
/// T1, the window is T1 + T2, so it does when T2 > T1/7 + 30 ms or so (the article's 60/10:
/// 61.6 s > 60 s). `None` below 100 ms, where the monitor keeps the time itself.
fn early_wake(window: Duration) -> Option<Duration> {
    let ticks = Duration::from_millis(30);
    (window >= Duration::from_millis(100)).then(|| (window - ticks - window / 100) * 8 / 9)
}

#[cfg(test)]
mod tests {
    use super::early_wake;
    use std::time::Duration;

    /// The early wake-up, rounded up as the timer wheel may (1/8, and two 10 ms ticks), still
    /// fires before the deadline at every length; and it outlasts the article's heartbeat
    /// period (T1 = 60 s in a 70 s window), so traffic at the article's timings wakes nobody.
    #[test]
    fn early_wake_fires_before_the_deadline_at_every_length() {
        assert_eq!(early_wake(Duration::from_millis(99)), None);
        for ms in [
            100, 300, 1_000, 3_000, 16_000, 70_000, 3_600_000, 86_400_000,
        ] {
            let w = Duration::from_millis(ms);
            let t = early_wake(w).unwrap();
            let worst = t + t / 8 + Duration::from_millis(20);
            assert!(worst < w, "{w:?}: the wake-up may come at {worst:?}");
            assert!(w - worst >= w / 100, "{w:?}: room {:?}", w - worst);
        }
        assert!(early_wake(Duration::from_secs(70)).unwrap() > Duration::from_secs(60));
        assert!(early_wake(Duration::from_secs(2)).unwrap() > Duration::from_secs(1));
    }
}

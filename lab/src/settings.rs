//! A run's settings, as `lab/settings.sh` wrote them to the run folder's `settings` (the one
//! place the lab's defaults live), and the lengths derived from them: the watch, the slack of
//! the kernel's timers, the client's tolerance and silence, kernel keepalive's bound.

use std::time::Duration;

/// A run's settings, as `lab/scenario.sh` wrote them to `settings`.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// hb, hb1, oob, ka, kaw, kaw-ut.
    pub pair: String,
    /// The fate.
    pub fate: String,
    /// `--idle` (0 for the OOB pair, which has none).
    pub idle: f64,
    /// `--interval`.
    pub interval: f64,
    /// `--probes`.
    pub probes: u32,
    /// `--user-timeout`.
    pub user_timeout: Option<f64>,
    /// `--write` SECS.
    pub write: Option<f64>,
    /// Seconds the statistical fates run.
    pub duration: f64,
    /// Seconds the wire stays cut in `flap`.
    pub flap: f64,
    /// The NAT's idle timeout in `nat-idle`, seconds.
    pub nat_idle: f64,
    /// Loss, percent of frames, each way.
    pub loss: f64,
    /// Delay each way, ms.
    pub delay: f64,
    /// Jitter each way, ms (uniform in delay ± jitter).
    pub jitter: f64,
    /// The client's command line.
    pub client: String,
    /// The wire that was used.
    pub wire: String,
    /// Every `key=value` as written, for the JSON.
    pub raw: Vec<(String, String)>,
}

impl Settings {
    /// Read `key=value` lines as `lab/settings.sh` writes them (the one place the lab's
    /// defaults live); a number that is missing is 0.
    pub fn parse(text: &str) -> Settings {
        let raw: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let get = |k: &str| {
            raw.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let num = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok());
        let zero = |k: &str| num(k).unwrap_or(0.0);
        let text = |k: &str| get(k).unwrap_or("?").to_string();
        Settings {
            pair: text("pair"),
            fate: text("fate"),
            idle: zero("idle"),
            interval: zero("interval"),
            probes: zero("probes") as u32,
            user_timeout: num("user_timeout"),
            write: num("write"),
            duration: zero("duration"),
            flap: zero("flap"),
            nat_idle: zero("nat_idle"),
            loss: zero("loss"),
            delay: zero("delay"),
            jitter: zero("jitter"),
            client: text("client"),
            wire: text("wire"),
            raw: raw.clone(),
        }
    }

    /// Seconds a run watches after its fault: twice the longest bound and a second — a
    /// death later than that is not coming. `lab/scenario.sh` asks `hb_lab --watch`.
    pub fn watch(&self) -> u64 {
        let bound = match self.pair.as_str() {
            "oob" => (f64::from(self.probes) + 1.0) * self.interval,
            _ => self.idle + self.tolerance(),
        };
        (2.0 * bound.max(self.user_timeout.unwrap_or(0.0)) + 1.0).ceil() as u64
    }

    /// Kernel keepalive (ka, kaw, kaw-ut) rather than an application heartbeat.
    pub fn is_kernel(&self) -> bool {
        self.pair.starts_with("ka")
    }

    /// How late a death `bound` seconds away may come and still be on time: 0.25 s for the
    /// programs' own clocks; for the kernel's keepalive and retransmission timers also an
    /// eighth of the bound, the most Linux's timer wheel rounds a timeout that long up by.
    pub fn slack(&self, bound: f64) -> f64 {
        if self.is_kernel() {
            0.25 + bound / 8.0
        } else {
            0.25
        }
    }

    /// How long an answer may be late before the client gives up on it: the time from a
    /// heartbeat (or the first probe) to the death it would cause.
    pub fn tolerance(&self) -> f64 {
        f64::from(self.probes) * self.interval
    }

    /// The longest the client stays silent while all is well: its heartbeat period.
    pub fn silence(&self) -> f64 {
        match self.pair.as_str() {
            "oob" => self.interval,
            _ => self.write.map_or(self.idle, |w| w.min(self.idle)),
        }
    }

    /// Kernel keepalive's bound after the last exchange: idle + probes × interval, or the
    /// first probe past the user timeout.
    pub fn keepalive_bound(&self) -> f64 {
        let k = heartbeat::keepalive::Settings {
            idle: Duration::from_secs_f64(self.idle),
            interval: Duration::from_secs_f64(self.interval),
            probes: self.probes,
        };
        match self.user_timeout {
            Some(u) => k.bound_with_user_timeout(Duration::from_secs_f64(u)),
            None => k.bound(),
        }
        .as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_timers_are_allowed_an_eighth_of_their_length() {
        let ka = Settings::parse("pair=ka\nidle=3\ninterval=1\nprobes=2\n");
        let hb = Settings::parse("pair=hb\nidle=1\ninterval=0.5\nprobes=3\n");
        assert_eq!(ka.slack(8.0), 1.25);
        assert_eq!(ka.slack(0.0), 0.25);
        assert_eq!(hb.slack(8.0), 0.25);
        // ka's bound of 5 s: a line 5.8 s after the last exchange is on time, 5.9 s is not.
        let e = crate::expect::Expect::AfterLastByte { lo: 5.0, hi: 5.0 };
        let line = Some("connection timed out");
        assert!(crate::grade::timing_holds(&ka, &e, line, Some(5.8)).is_ok());
        assert!(crate::grade::timing_holds(&ka, &e, line, Some(5.9)).is_err());
        assert!(crate::grade::timing_holds(&hb, &e, line, Some(5.3)).is_err());
    }
}

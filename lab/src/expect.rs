//! When a client should notice its server's fate, computed from the settings a run recorded
//! (`make lab IDLE=2 INTERVAL=1 PROBES=2 …` changes the expectation, nothing is written twice).
//!
//! The bounds are the programs' own (README, "Timing"): an in-band heartbeat client dies
//! `idle + probes × interval` after its last byte; the OOB client at the tick where more
//! than `probes` urgent bytes are unanswered; kernel keepalive `idle + probes × interval`
//! after the kernel's last exchange — or, with `TCP_USER_TIMEOUT`, at the first probe past
//! the user timeout ([`heartbeat::keepalive::Settings::bound_with_user_timeout`]).

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

/// Statistical fates: whether false deaths are expected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Deaths {
    /// At least one (the expected count is 3 or more: none would be a 5 % fluke).
    Some,
    /// None (the expected count is below 0.02).
    None,
    /// Between: not asserted either way.
    Either,
}

/// When the client should notice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expect {
    /// Never (watched for twice the longest bound and a second).
    Never,
    /// At once after the fault (the kernel closes or resets).
    AtFault,
    /// Between `lo` and `hi` seconds after the fault.
    AfterFault {
        /// Earliest.
        lo: f64,
        /// Latest.
        hi: f64,
    },
    /// Between `lo` and `hi` seconds after the last byte the client received.
    AfterLastByte {
        /// Earliest.
        lo: f64,
        /// Latest.
        hi: f64,
    },
    /// Statistical: false deaths over the run's duration.
    FalseDeaths(Deaths),
}

/// The expectation for a run with these settings.
pub fn expected(s: &Settings) -> Expect {
    let (i, p) = (s.interval, f64::from(s.probes));
    // What an application heartbeat client does when nothing answers any more.
    let silent = || match s.pair.as_str() {
        "oob" => Expect::AfterLastByte {
            lo: p * i,
            hi: (p + 1.0) * i,
        },
        _ if s.is_kernel() => match (s.write, s.user_timeout) {
            // Data waits unacknowledged: no probe is sent, TCP retransmits for ~15 min.
            (Some(_), None) => Expect::Never,
            (Some(w), Some(u)) => Expect::AfterFault {
                lo: u,
                hi: u + w + 1.0,
            },
            // The last exchange (a probe's ACK) came up to `idle` before the fault.
            (None, _) => {
                let b = s.keepalive_bound();
                Expect::AfterFault {
                    lo: b - s.idle,
                    hi: b,
                }
            }
        },
        _ => Expect::AfterLastByte {
            lo: s.idle + s.tolerance(),
            hi: s.idle + s.tolerance(),
        },
    };
    match s.fate.as_str() {
        "alive" => Expect::Never,
        "killed" => Expect::AtFault,
        "hung" if s.is_kernel() => Expect::Never, // its kernel ACKs probes and data alike
        "hung" | "gone" | "partition" | "busy-gone" => silent(),
        "rebooted" => match s.pair.as_str() {
            "oob" => Expect::AfterLastByte { lo: 0.0, hi: i },
            _ if s.is_kernel() => Expect::AfterFault {
                lo: 0.0,
                hi: s.silence(),
            },
            _ => Expect::AfterLastByte {
                lo: s.idle,
                hi: s.idle,
            },
        },
        // A segment lost in the cut is retransmitted at most 2 × flap + 200 ms after it
        // was sent (RTO doubling from Linux's 200 ms minimum); keepalive probes are not
        // retransmitted but repeated every interval.
        "flap" => {
            let late = if s.is_kernel() {
                s.flap + i
            } else {
                2.0 * s.flap + 0.2
            };
            let room = if s.pair == "oob" {
                s.tolerance() - i
            } else {
                s.tolerance()
            };
            if late < room {
                Expect::Never
            } else {
                silent()
            }
        }
        // The NAT forgets a connection silent for nat_idle; the next segment is dropped.
        // hb1's server connects back to the address it saw: the NAT's own.
        "nat-idle" if s.pair == "hb1" => Expect::AfterFault {
            lo: s.idle + s.tolerance(),
            hi: s.idle + s.tolerance(),
        },
        "nat-idle" if s.silence() < s.nat_idle => Expect::Never,
        "nat-idle" if s.is_kernel() => {
            let b = s.keepalive_bound();
            Expect::AfterLastByte { lo: b, hi: b }
        }
        "nat-idle" => silent(),
        "lossy" | "slow" => Expect::FalseDeaths(false_deaths(s)),
        _ => Expect::Never,
    }
}

/// Expected false deaths for `lossy` and `slow`: how many exchanges the run makes, times the
/// chance an answer comes later than [`Settings::tolerance`] — by delay (the round trip is
/// the sum of two uniform one-way delays) or by loss (a try fails when either direction
/// loses it; see the backoff below). Checked against runs here: hb `--idle 0.1 --interval
/// 0.05 --probes 2` under 10 % loss died 3 times in 30 s where this predicts about 10 — it
/// errs towards deaths, so the lab's `tight` setting runs at 20 %, and `none` is only
/// claimed far from the edge.
pub fn false_deaths(s: &Settings) -> Deaths {
    if s.is_kernel() {
        return Deaths::Either;
    }
    let tol = s.tolerance();
    let (a, w) = ((s.delay - s.jitter) / 1000.0, 2.0 * s.jitter / 1000.0);
    let rtt_late = if w <= 0.0 {
        f64::from(u8::from(2.0 * a > tol))
    } else {
        let z = (tol - 2.0 * a) / w;
        match z {
            z if z <= 0.0 => 1.0,
            z if z <= 1.0 => 1.0 - z * z / 2.0,
            z if z < 2.0 => (2.0 - z) * (2.0 - z) / 2.0,
            _ => 0.0,
        }
    };
    // A lost segment is first re-sent by the tail loss probe, a few round trips later;
    // then by the retransmission timer, 200 ms and doubling. k lost re-sends cost about
    // 0.2 × (2^k − 1) s; the answer is late when k + 1 tries in a row fail.
    let fail = 1.0 - (1.0 - s.loss / 100.0).powi(2);
    let mut k = 0;
    while 0.2 * (2f64.powi(k) - 1.0) < tol && k < 30 {
        k += 1;
    }
    let loss_late = fail.powi(k + 1);
    let late = 1.0 - (1.0 - rtt_late) * (1.0 - loss_late);
    let rtt = s.delay / 500.0;
    let exchanges = s.duration / (s.silence() + rtt).max(0.05);
    match exchanges * late {
        e if e >= 3.0 => Deaths::Some,
        e if e < 0.02 => Deaths::None,
        _ => Deaths::Either,
    }
}

/// Whether the client's ending line fits the fate.
pub fn fitting(fate: &str, line: &str) -> bool {
    match fate {
        "killed" => line.contains("terminated") || line.contains("reset by peer"),
        "rebooted" => line.contains("reset"),
        "nat-idle" if line.contains("accept failure") => true, // hb1: no way back
        _ => ["dead", "unreachable", "timed out"]
            .iter()
            .any(|w| line.contains(w)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The settings `lab/settings.sh` writes for a run, the knobs (`idle=2`) given to it as
    /// its environment (`IDLE=2`), as `make lab` does.
    fn settings(pair: &str, fate: &str, knobs: &str) -> Settings {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let out = std::env::temp_dir().join(format!("hb-lab-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let mut c = Command::new("bash");
        c.args(["-c", "source lab/topology.sh && source lab/settings.sh"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("PAIR", pair)
            .env("FATE", fate)
            .env("OUT", &out)
            .env("PORT", "9000");
        for k in [
            "IDLE",
            "INTERVAL",
            "PROBES",
            "USER_TIMEOUT",
            "WRITE",
            "DURATION",
        ] {
            c.env_remove(k);
        }
        for k in ["FLAP", "NAT_IDLE", "LOSS", "DELAY", "JITTER"] {
            c.env_remove(k);
        }
        for (k, v) in knobs.split_whitespace().filter_map(|kv| kv.split_once('=')) {
            c.env(k.to_uppercase(), v);
        }
        assert!(c.status().unwrap().success(), "lab/settings.sh failed");
        let text = std::fs::read_to_string(out.join("settings")).unwrap();
        let _ = std::fs::remove_dir_all(&out);
        Settings::parse(&text)
    }

    fn run(pair: &str, fate: &str, knobs: &str) -> Expect {
        expected(&settings(pair, fate, knobs))
    }

    #[test]
    #[cfg_attr(
        not(unix),
        ignore = "needs bash: the lab's defaults live in lab/settings.sh"
    )]
    fn the_knobs_change_the_expectation() {
        let hb = |k| run("hb", "hung", k);
        assert_eq!(hb(""), Expect::AfterLastByte { lo: 2.5, hi: 2.5 });
        assert_eq!(
            hb("idle=2 interval=1 probes=2"),
            Expect::AfterLastByte { lo: 4.0, hi: 4.0 }
        );
        assert_eq!(
            run("ka", "gone", ""),
            Expect::AfterFault { lo: 2.0, hi: 5.0 }
        );
        // With a user timeout the bound is the first probe past it (issue 11: 9.99 s for 10 s).
        assert_eq!(
            run("ka", "gone", "idle=2 interval=1 probes=9 user_timeout=10"),
            Expect::AfterFault { lo: 8.0, hi: 10.0 }
        );
        assert_eq!(
            run("ka", "nat-idle", ""),
            Expect::AfterLastByte { lo: 5.0, hi: 5.0 }
        );
        assert_eq!(run("ka", "nat-idle", "idle=1"), Expect::Never);
        assert_eq!(run("kaw", "busy-gone", "write=0.5"), Expect::Never);
        assert_eq!(
            run("kaw-ut", "busy-gone", "write=0.5 user_timeout=3"),
            Expect::AfterFault { lo: 3.0, hi: 4.5 }
        );
        assert_eq!(run("hb", "flap", ""), Expect::Never);
        assert_eq!(run("hb", "flap", "flap=1"), run("hb", "partition", ""));
        assert_eq!(settings("hb", "hung", "").watch(), 6);
        assert_eq!(settings("kaw-ut", "busy-gone", "").watch(), 11);
    }

    #[test]
    #[cfg_attr(
        not(unix),
        ignore = "needs bash: the lab's defaults live in lab/settings.sh"
    )]
    fn false_deaths_follow_the_settings() {
        let d = |knobs: &str| match run(
            "hb",
            if knobs.contains("loss") {
                "lossy"
            } else {
                "slow"
            },
            knobs,
        ) {
            Expect::FalseDeaths(d) => d,
            e => panic!("{e:?}"),
        };
        assert_eq!(
            d("delay=300 jitter=100 interval=0.1 probes=3"),
            Deaths::Some
        );
        assert_eq!(
            d("delay=300 jitter=100 interval=0.5 probes=3"),
            Deaths::None
        );
        assert_eq!(
            d("delay=300 jitter=100 interval=0.25 probes=3"),
            Deaths::Either
        );
        assert_eq!(
            d("loss=10 idle=0.1 interval=0.05 probes=2 duration=30"),
            Deaths::Some
        );
        assert_eq!(d("loss=20 idle=1 interval=2 probes=8"), Deaths::None);
    }
}

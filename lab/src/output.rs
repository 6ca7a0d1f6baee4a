//! What the lab reads of the programs' output — the one interface between the port and its
//! lab. The programs print it; nothing else of theirs is read. `lab/tests/interface.rs` runs
//! each program and checks it prints every item below (the programs' side); the tests here
//! check the lab reads them (the lab's side). A program that changes one of these lines
//! breaks `make test`, not a lab run months later.
//!
//! | item | printed by | the lab uses it for |
//! | --- | --- | --- |
//! | `[   1.234] PROG: text` | every program with `-t` | the time of each line, seconds since `clock zero` |
//! | [`CLOCK_ZERO`] `debug: clock zero at SECS s since the Unix epoch` | every program (`RUST_LOG=debug`) | putting a log on the capture's clock |
//! | [`HEARTBEAT`] `sending heartbeat #N` | hb_client, hb_client1 | each heartbeat the client says it sent |
//! | [`URGENT`] `debug: sending urgent byte (N unanswered)` | hb_client_oob | each urgent probe it sent |
//! | [`READ`] `debug: read N bytes on LINK` | the in-band clients' readers | an answer from the server |
//! | [`URGENT_ANSWER`] `debug: urgent byte '1' from the server` | hb_client_oob | an answer from the server |
//! | [`LISTENER`] `debug: heartbeat listener on ADDR:PORT` | hb_client1 | the heartbeat link's port (`lab/scenario.sh`, rebooted) |
//! | [`LISTENING`] `debug: listening on ADDR` | every server | the server is ready (`lab/scenario.sh`) |
//! | [`SINCE`] `…, S s after the last byte` | ka_client's ending | the kernel's measure of its silence |
//! | [`ENDINGS`] | every client | the line that ends a client's watch |

/// Every program's zero of `-t`, in Unix seconds.
pub const CLOCK_ZERO: &str = "debug: clock zero at ";
/// hb_client and hb_client1, before each heartbeat.
pub const HEARTBEAT: &str = "sending heartbeat #";
/// hb_client_oob, after each urgent probe sent.
pub const URGENT: &str = "debug: sending urgent byte";
/// A reader's bytes from the server.
pub const READ: &str = "debug: read ";
/// hb_client_oob's answer from the server.
pub const URGENT_ANSWER: &str = "from the server";
/// hb_client1's listener for the heartbeat link.
pub const LISTENER: &str = "debug: heartbeat listener on ";
/// A server ready to accept.
pub const LISTENING: &str = "debug: listening on ";
/// ka_client's ending, with the kernel's silence.
pub const SINCE: &str = " s after the last byte";

/// The lines that end a client's watch.
pub const ENDINGS: [&str; 9] = [
    "connection dead",
    "terminated",
    "unreachable",
    "recv failure",
    "bad recv",
    "connection timed out",
    "connection reset",
    "send failure",
    "accept failure",
];

/// One line of a `-t` log: seconds since the program started, and the text after `PROG: `.
pub fn parse_line(line: &str) -> Option<(f64, &str)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once(']')?;
    let text = rest.trim_start().split_once(": ").map(|(_, t)| t)?;
    Some((stamp.trim().parse().ok()?, text))
}

/// Whether a line (the text after `PROG: `) ends a client's watch.
pub fn is_ending(text: &str) -> bool {
    !text.starts_with("debug:") && ENDINGS.iter().any(|e| text.contains(e))
}

/// A client's log, read: its clock's zero (Unix seconds), its events, and its ending.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// `-t`'s zero, in Unix seconds (the program's own `clock zero` line).
    pub zero: f64,
    /// (seconds since zero, text).
    pub events: Vec<(f64, String)>,
    /// The index in `events` of the line that ended the watch.
    pub ending: Option<usize>,
}

impl Log {
    /// Read a `-t` log written with `RUST_LOG=debug`.
    pub fn read(text: &str) -> Log {
        let events: Vec<(f64, String)> = text
            .lines()
            .filter_map(parse_line)
            .map(|(t, x)| (t, x.to_string()))
            .collect();
        let zero = events
            .iter()
            .find_map(|(_, t)| t.strip_prefix(CLOCK_ZERO))
            .and_then(|t| t.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let ending = events.iter().position(|(_, t)| is_ending(t));
        Log {
            zero,
            events,
            ending,
        }
    }

    /// The ending line's time (Unix seconds) and text.
    pub fn end(&self) -> Option<(f64, &str)> {
        self.ending
            .map(|i| (self.zero + self.events[i].0, self.events[i].1.as_str()))
    }

    /// The times (Unix seconds) of the lines for which `f` holds.
    fn times(&self, f: impl Fn(&str) -> bool) -> Vec<f64> {
        self.events
            .iter()
            .filter(|(_, x)| f(x))
            .map(|(t, _)| self.zero + t)
            .collect()
    }

    /// The last answer from the server the program saw before `before` (Unix seconds).
    pub fn last_answer(&self, before: f64) -> Option<f64> {
        let is_answer = |t: &str| t.starts_with(READ) || t.contains(URGENT_ANSWER);
        self.times(is_answer).into_iter().rfind(|t| *t <= before)
    }

    /// When the client says it sent each heartbeat or urgent probe (Unix seconds), in order.
    pub fn sent(&self) -> Vec<f64> {
        self.times(|x| x.starts_with(HEARTBEAT) || x.starts_with(URGENT))
    }

    /// hb_client1's heartbeat listener port.
    pub fn listener_port(&self) -> Option<u16> {
        self.events
            .iter()
            .find_map(|(_, x)| x.strip_prefix(LISTENER)?.rsplit(':').next()?.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HB1: &str = "\
[   0.000] hb_client1: debug: clock zero at 1796118768.964682 s since the Unix epoch
[   0.001] hb_client1: debug: heartbeat listener on 192.0.2.2:36575
[   1.004] hb_client1: sending heartbeat #1
[   1.004] hb_client1: debug: read 1 bytes on shb
[   3.505] hb_client1: sending heartbeat #2
[   4.505] hb_client1: connection dead
";

    #[test]
    fn reads_the_clock_the_sends_the_answers_and_the_ending() {
        let l = Log::read(HB1);
        assert!((l.zero - 1_796_118_768.964_682).abs() < 1e-6);
        let z = l.zero;
        let sent: Vec<f64> = l.sent().iter().map(|t| t - z).collect();
        assert_eq!(sent.len(), 2);
        assert!((sent[0] - 1.004).abs() < 1e-5 && (sent[1] - 3.505).abs() < 1e-5);
        assert!((l.last_answer(z + 9.0).unwrap() - z - 1.004).abs() < 1e-5);
        assert_eq!(l.last_answer(z + 1.0), None);
        assert_eq!(l.listener_port(), Some(36575));
        assert_eq!(l.end().map(|(_, t)| t), Some("connection dead"));
    }

    #[test]
    fn a_log_without_the_interface_lines_gives_nothing() {
        // The same events in other words: no zero, no sends, no answer, no ending.
        let l = Log::read(
            "[ 0.000] hb_client: clock starts at 17\n[ 1.0] hb_client: heartbeat #1 sent\n\
             [ 1.1] hb_client: got 2004 bytes\n[ 2.0] hb_client: peer is dead\n",
        );
        assert_eq!((l.zero, l.sent().len(), l.ending), (0.0, 0, None));
        assert_eq!(l.last_answer(f64::MAX), None);
        // A debug line never ends a watch, even one naming an ending.
        assert!(!is_ending("debug: 192.0.2.66:9000: connection dead soon"));
        assert!(is_ending("server is unreachable"));
        assert_eq!(parse_line("no stamp: text"), None);
    }
}

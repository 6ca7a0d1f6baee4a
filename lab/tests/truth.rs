//! The wire check's rules, each fed a real capture of this lab (`tests/fixtures/PAIR-FATE`:
//! the run folders `make lab` left, the capture, the client's log, the settings) that it must
//! pass, and the same capture falsified against the rule, which it must fail (issue 19: with
//! every heartbeat removed, six added, three after the line, the kernel's ACKs removed or
//! added, the RST moved, the server silenced, the old check still agreed).

use heartbeat_lab::capture::{self, Segment, ACK, FIN, RST};
use heartbeat_lab::exchange::{self, Exchange, Stream};
use heartbeat_lab::expect::{self, Expect, Settings};
use heartbeat_lab::{deaths, truth, wire, Log};
use std::path::PathBuf;

struct Fixture {
    s: Settings,
    expect: Expect,
    segs: Vec<Segment>,
    logs: Vec<Log>,
    fault: f64,
    end: f64,
    counts: Option<wire::Counts>,
}

fn load(name: &str) -> Fixture {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let num = |f: &str| read(f).trim().parse::<f64>().expect(f);
    let s = Settings::parse(&read("settings"));
    let mut logs = vec![];
    if read("client.log").is_empty() {
        for n in 1.. {
            match std::fs::read_to_string(dir.join(format!("client.{n}.log"))) {
                Ok(t) => logs.push(Log::read(&t)),
                Err(_) => break,
            }
        }
    } else {
        logs.push(Log::read(&read("client.log")));
    }
    Fixture {
        expect: expect::expected(&s),
        segs: capture::read(&std::fs::read(dir.join("capture.pcap")).unwrap()).unwrap(),
        fault: if s.fate == "lossy" || s.fate == "slow" {
            0.0
        } else {
            num("fault.at")
        },
        end: num("end.at"),
        counts: wire::Counts::parse(&read("wire.log")),
        logs,
        s,
    }
}

impl Fixture {
    fn check(&self, segs: &[Segment]) -> String {
        if let Expect::FalseDeaths(want) = self.expect {
            return deaths::check(&self.s, want, segs, &self.logs, self.end).0;
        }
        let run = truth::Run {
            s: &self.s,
            expect: &self.expect,
            segs,
            log: &self.logs[0],
            fault: self.fault,
            end: self.end,
            counts: self.counts,
        };
        truth::check(&run).0
    }

    fn agrees(&self) {
        assert_eq!(
            self.check(&self.segs),
            "agrees",
            "{}/{}",
            self.s.pair,
            self.s.fate
        );
    }

    /// The check of the capture with `edit` applied must fail, naming `why`.
    fn fails(&self, why: &str, edit: impl Fn(&mut Vec<Segment>, &Fixture)) {
        let mut segs = self.segs.clone();
        edit(&mut segs, self);
        let v = self.check(&segs);
        assert!(
            v.starts_with("disagrees") && v.contains(why),
            "{}/{}: want '{why}', got '{v}'",
            self.s.pair,
            self.s.fate
        );
    }

    fn server(&self) -> std::net::Ipv4Addr {
        truth::server_ip(&self.s).unwrap()
    }

    fn death(&self) -> f64 {
        self.logs[0].end().unwrap().0
    }
}

fn client_data(x: &Segment, f: &Fixture) -> bool {
    x.src.0 != f.server() && x.len > 0
}

/// `n` more heartbeats after the client's last one, the k-th (from 1) at `at(k, its time)`.
fn add_heartbeats(segs: &mut Vec<Segment>, f: &Fixture, n: u32, at: impl Fn(u32, f64) -> f64) {
    let last = segs
        .iter()
        .rfind(|x| client_data(x, f) && x.len != 2)
        .unwrap()
        .clone();
    for k in 1..=n {
        let mut x = last.clone();
        x.seq = x.seq.wrapping_add(k * x.len as u32);
        x.at = at(k, last.at);
        segs.push(x);
    }
    segs.sort_by(|a, b| a.at.total_cmp(&b.at));
}

#[test]
fn every_real_capture_agrees() {
    for name in [
        "hb-hung",
        "hb-partition",
        "hb-gone",
        "hb1-hung",
        "oob-hung",
        "oob-gone",
        "hb-rebooted",
        "hb-alive",
        "hb-flap",
        "ka-flap",
        "hb-killed",
        "ka-gone",
        "hb-lossy-tight",
        "hb-slow-loose",
        "hb-lossy-cwnd",
        "hb-lossy-fin-late",
        "hb-lossy-ack-fin",
    ] {
        load(name).agrees();
    }
}

#[test]
fn every_heartbeat_the_log_names_is_on_the_wire() {
    for name in ["hb-hung", "hb-gone", "hb1-hung", "oob-hung", "oob-gone"] {
        let f = load(name);
        // Every heartbeat (urgent probe) removed from the capture.
        f.fails("is not on the wire", |segs, f| {
            segs.retain(|x| !client_data(x, f) || x.len == 2 && f.s.pair == "hb1")
        });
    }
}

#[test]
fn nothing_the_log_does_not_name_is_on_the_wire() {
    for name in ["hb-hung", "hb1-hung", "oob-hung"] {
        let f = load(name);
        // Six heartbeats more than the log names, 0.1 s apart before the last one.
        f.fails("the log names", |segs, f| {
            add_heartbeats(segs, f, 6, |k, last| last - 1.0 + 0.1 * f64::from(k))
        });
        // Three heartbeats after the client's line.
        f.fails("the log names", |segs, f| {
            add_heartbeats(segs, f, 3, |k, _| f.death() + 0.2 * f64::from(k))
        });
        // The heartbeats after the fault on the wire 0.3 s before the log sent them.
        f.fails("before the log sent it", |segs, f| {
            for x in segs
                .iter_mut()
                .filter(|x| client_data(x, f) && x.at > f.fault)
            {
                x.at -= 0.3;
            }
            segs.sort_by(|a, b| a.at.total_cmp(&b.at));
        });
    }
}

#[test]
fn no_heartbeat_leaves_after_the_line() {
    let f = load("hb1-hung");
    let link =
        exchange::heartbeat_link(&f.segs, f.server(), f.logs[0].listener_port(), true).unwrap();
    let d = f.death();
    let mut segs = f.segs.clone();
    let last = segs
        .iter()
        .rfind(|x| client_data(x, &f) && x.src == link.client)
        .unwrap()
        .clone();
    let mut x = last.clone();
    x.seq = x.seq.wrapping_add(1);
    x.at = d + 0.3;
    segs.push(x);
    // The log names it too, but after its line: the client sent it, and it must not have.
    let mut sent = f.logs[0].sent();
    sent.push(d + 0.3);
    let st = Stream::of(&segs, &link).unwrap();
    let x = Exchange {
        stream: &st,
        sent: &sent,
        size: 1,
        fault: f.fault,
    };
    assert!(x.nothing_unsaid().is_ok() && x.all_on_wire().is_ok());
    assert!(x.none_after(d).unwrap_err().contains("after its line"));
    let st = Stream::of(&f.segs, &link).unwrap();
    let x = Exchange {
        stream: &st,
        sent: &f.logs[0].sent(),
        size: 1,
        fault: f.fault,
    };
    assert_eq!(x.none_after(d), Ok(()));
}

#[test]
fn the_kernel_acks_tell_hung_from_gone() {
    for name in ["hb-hung", "hb1-hung", "oob-hung"] {
        let f = load(name);
        // The stopped server's kernel ACKs removed: hung made to look gone.
        f.fails("hung looks gone", |segs, f| {
            segs.retain(|x| {
                !(x.src.0 == f.server() && x.len == 0 && x.at > f.fault && x.at < f.death())
            })
        });
    }
    for name in ["hb-gone", "hb-partition", "oob-gone"] {
        let f = load(name);
        // An ACK of everything the client sent added: gone made to look hung.
        f.fails("looks hung", |segs, f| {
            let last = segs.iter().rfind(|x| client_data(x, f)).unwrap().clone();
            let mut ack = segs
                .iter()
                .rfind(|x| x.src.0 == f.server() && x.has(ACK))
                .unwrap()
                .clone();
            ack.ack = last.seq.wrapping_add(last.len as u32);
            ack.at = last.at + 0.001;
            ack.len = 0;
            ack.flags = ACK;
            segs.push(ack);
            segs.sort_by(|a, b| a.at.total_cmp(&b.at));
        });
    }
}

#[test]
fn the_server_sends_nothing_after_the_fault_nor_after_the_line() {
    for name in [
        "hb-hung",
        "hb-gone",
        "oob-gone",
        "hb-partition",
        "hb-rebooted",
    ] {
        let f = load(name);
        for at in [(f.fault + f.end) / 2.0, (f.death() + f.end) / 2.0] {
            f.fails("sends nothing after the fault", |segs, f| {
                let mut x = segs
                    .iter()
                    .rfind(|x| x.src.0 == f.server() && x.len > 0)
                    .unwrap()
                    .clone();
                x.at = at;
                segs.push(x);
                segs.sort_by(|a, b| a.at.total_cmp(&b.at));
            });
        }
    }
}

#[test]
fn the_line_comes_after_the_probes_the_settings_allow() {
    for name in ["hb-hung", "hb1-hung", "hb-partition"] {
        let f = load(name);
        // The last answer before the fault removed: one heartbeat more went unanswered.
        f.fails("heartbeats unanswered; the settings allow", |segs, f| {
            let i = segs
                .iter()
                .rposition(|x| x.src.0 == f.server() && x.len > 0 && x.at < f.fault)
                .unwrap();
            let t = segs[i].at;
            segs.retain(|x| !(x.src.0 == f.server() && x.len > 0 && (x.at - t).abs() < 0.01));
        });
    }
}

#[test]
fn a_reset_is_followed_by_the_line_at_once() {
    let f = load("hb-rebooted");
    f.fails("after the RST", |segs, f| {
        for x in segs
            .iter_mut()
            .filter(|x| x.src.0 == f.server() && x.has(RST))
        {
            x.at -= 0.4;
        }
        segs.sort_by(|a, b| a.at.total_cmp(&b.at));
    });
    f.fails("no RST", |segs, f| {
        segs.retain(|x| !(x.src.0 == f.server() && x.has(RST)))
    });
}

#[test]
fn a_killed_server_closes_before_the_line() {
    let f = load("hb-killed");
    f.fails("no FIN or RST", |segs, f| {
        segs.retain(|x| !(x.src.0 == f.server() && (x.has(FIN) || x.has(RST))))
    });
}

#[test]
fn a_fate_that_passes_unnoticed_shows_the_server_answering_throughout() {
    for name in ["hb-alive", "hb-flap", "ka-flap"] {
        let f = load(name);
        let quiet = truth::quiet_bound(&f.s) + 0.5;
        f.fails("silent", |segs, f| {
            segs.retain(|x| !(x.src.0 == f.server() && x.at > f.end - quiet))
        });
    }
    let f = load("hb-slow-loose");
    f.fails("silent", |segs, f| {
        segs.retain(|x| !(x.src.0 == f.server() && x.len > 0))
    });
    f.fails("silent", |segs, f| {
        segs.retain(|x| !(x.src.0 == f.server() && x.len > 0 && x.at > f.end - 15.0))
    });
}

#[test]
fn a_flap_cuts_an_exchange_that_is_repaired_across_the_cut() {
    let mut f = load("hb-flap");
    let mend = f.fault + f.s.flap;
    f.fails("never re-sent after it", |segs, f| {
        let cut: Vec<Segment> = segs
            .iter()
            .filter(|x| client_data(x, f) && x.at >= f.fault && x.at < mend)
            .cloned()
            .collect();
        segs.retain(|x| !(client_data(x, f) && x.at >= mend && cut.iter().any(|c| c.seq == x.seq)));
    });
    let ka = load("ka-flap");
    // The probe in the cut answered during it: nothing was lost.
    ka.fails("no keepalive exchange crossed the cut", |segs, f| {
        let probe = segs
            .iter()
            .find(|x| x.src.0 != f.server() && x.at > f.fault)
            .unwrap();
        let mut answer = segs
            .iter()
            .rfind(|x| x.src.0 == f.server())
            .unwrap()
            .clone();
        answer.at = probe.at + 0.001;
        segs.push(answer);
        segs.sort_by(|a, b| a.at.total_cmp(&b.at));
    });
    f.counts = f.counts.map(|c| wire::Counts { cut: 0, ..c });
    f.fails("cut no frame", |_, _| {});
}

#[test]
fn every_closed_connection_of_a_statistical_run_is_a_death_its_log_says() {
    let f = load("hb-lossy-tight");
    // The FIN and RST of the first dead attempt removed: a death that closed nothing.
    f.fails("its connection did not close", |segs, f| {
        let c = exchange::opened(segs, f.server())[0];
        segs.retain(|x| !(c.has(x) && (x.has(FIN) || x.has(RST))));
    });
    // The last attempt, alive at the end, closed before it: a death no log says.
    f.fails("its attempt said nothing", |segs, f| {
        let c = *exchange::opened(segs, f.server()).last().unwrap();
        let mut x = segs
            .iter()
            .rfind(|x| c.has(x) && x.src == c.client)
            .unwrap()
            .clone();
        x.flags = FIN | ACK;
        x.len = 0;
        x.at = f.end - 1.0;
        segs.push(x);
        segs.sort_by(|a, b| a.at.total_cmp(&b.at));
    });
    // One attempt's heartbeats removed.
    f.fails("attempt 3: heartbeat #1", |segs, f| {
        let c = exchange::opened(segs, f.server())[2];
        segs.retain(|x| !(c.has(x) && x.src == c.client && x.len > 0));
    });
}

#[test]
fn bytes_that_waited_behind_unacknowledged_ones_may_leave_after_the_line() {
    // Attempt 20: its SYN was lost, so its congestion window was one segment; half of
    // heartbeat #1 left at once, the rest (with #2) 0.11 s after its line, as the kernel
    // flushed the send buffer of the closed socket.
    let f = load("hb-lossy-cwnd");
    f.agrees();
    // Had the first half been acknowledged before, nothing waited: a heartbeat after the line.
    f.fails("attempt 20: the client sent heartbeat bytes", |segs, f| {
        let c = exchange::opened(segs, f.server())[19];
        let first = segs
            .iter()
            .find(|x| c.has(x) && x.src == c.client && x.len > 0)
            .unwrap()
            .clone();
        let mut ack = segs
            .iter()
            .find(|x| c.has(x) && x.src == c.server)
            .unwrap()
            .clone();
        ack.flags = ACK;
        ack.ack = first.seq.wrapping_add(first.len as u32);
        ack.at = first.at + 0.001;
        segs.push(ack);
        segs.sort_by(|a, b| a.at.total_cmp(&b.at));
    });
}

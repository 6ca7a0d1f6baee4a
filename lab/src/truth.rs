//! The wire's word on a verdict: the capture taken on the client's veth against what the
//! client said. A row is `ok` only when both agree.
//!
//! What is checked, by what the client concluded:
//! * the server closed (killed): a FIN or RST from the server at the fault, before the line;
//! * the server's kernel forgot the connection (rebooted): an RST from the server before it;
//! * silence (hung, gone, partition, nat-idle, busy-gone): no data from the server after the
//!   fault, the client's death the bound after the wire's last answer; for kernel keepalive,
//!   `probes` probes `interval` apart, the first `idle` after the last exchange — or, while
//!   data waits, none at all;
//! * nothing noticed: the server (or its kernel) still answering at the end;
//! * false deaths: one connection per attempt, each answered by a SYN-ACK (the server was
//!   alive), each death a connection the client closed.

use crate::capture::{Segment, ACK, FIN, RST, SYN};
use crate::expect::{Expect, Settings};
use crate::Log;
use std::net::Ipv4Addr;

/// The server's address, as the run's `settings` recorded it from lab/topology.sh.
fn server_ip(s: &Settings) -> Option<Ipv4Addr> {
    s.raw
        .iter()
        .find(|(k, _)| k == "server_ip")
        .and_then(|(_, v)| v.parse().ok())
}

/// `agrees` or `disagrees: why`, and what the wire saw, line by line.
pub fn check(
    s: &Settings,
    expect: &Expect,
    segs: &[Segment],
    log: &Log,
    fault: f64,
    end: f64,
) -> (String, Vec<String>) {
    let Some(srv_ip) = server_ip(s) else {
        return (
            "disagrees: the settings name no server_ip".into(),
            Vec::new(),
        );
    };
    let from_server = |x: &&Segment| x.src.0 == srv_ip;
    let rel = |t: f64| match s.fate.as_str() {
        "alive" => format!("{:.3} s after the client started (no fault)", t - fault), // fault = zero
        _ => format!("F{:+.3} s", t - fault),
    };
    let death = log.end().map(|(t, _)| t);
    let mut notes = vec![format!(
        "{} segments captured, {} from the server",
        segs.len(),
        segs.iter().filter(from_server).count()
    )];
    let server_after = |t: f64| segs.iter().filter(from_server).filter(move |x| x.at > t);
    // The server's last segment (with data, or any) up to the client's line.
    let last_from_server = |data: bool| {
        segs.iter()
            .filter(from_server)
            .filter(|x| (x.len > 0 || !data) && x.at <= death.unwrap_or(end))
            .map(|x| x.at)
            .reduce(f64::max)
    };
    let (last_data, last_any) = (last_from_server(true), last_from_server(false));
    let disagree = |why: String, notes: Vec<String>| (format!("disagrees: {why}"), notes);
    let agree = |notes: Vec<String>| ("agrees".to_string(), notes);

    if s.fate == "nat-idle" && s.pair == "hb1" {
        let back = segs
            .iter()
            .filter(from_server)
            .any(|x| x.has(SYN) && !x.has(ACK));
        notes.push("the server's connection back went to the NAT's address, not the client".into());
        return match back {
            false => agree(notes),
            true => disagree(
                "a connection from the server reached the client".into(),
                notes,
            ),
        };
    }
    match *expect {
        Expect::AtFault => {
            let close = server_after(fault - 0.01).find(|x| x.has(FIN) || x.has(RST));
            let Some(c) = close else {
                return disagree(
                    "no FIN or RST from the server after the fault".into(),
                    notes,
                );
            };
            notes.push(format!(
                "the server's kernel sent {} at {}",
                c.name(),
                rel(c.at)
            ));
            match death {
                Some(d) if d + 0.005 < c.at => disagree(
                    format!("the client ended {:.3} s before the {}", c.at - d, c.name()),
                    notes,
                ),
                _ => agree(notes),
            }
        }
        Expect::Never => {
            let Some(last) = last_any else {
                return disagree("the server never answered on the wire".into(), notes);
            };
            notes.push(format!("last segment from the server at {}", rel(last)));
            let cut = matches!(s.fate.as_str(), "busy-gone" | "partition" | "gone");
            if cut {
                let probes = segs
                    .iter()
                    .filter(|x| x.src.0 != srv_ip && x.at > fault && x.len == 0)
                    .filter(|x| !x.has(FIN) && !x.has(RST))
                    .count();
                let data = segs
                    .iter()
                    .filter(|x| x.src.0 != srv_ip && x.at > fault && x.len > 0);
                notes.push(format!(
                    "after the fault: {} client data segments (retransmissions), {probes} keepalive probes, no answer",
                    data.count()
                ));
                return match (last > fault + 0.01, probes) {
                    (true, _) => disagree("the server answered after the fault".into(), notes),
                    (false, 0) => agree(notes),
                    (false, n) => disagree(
                        format!("{n} keepalive probes went out while data waited"),
                        notes,
                    ),
                };
            }
            let quiet = s.silence() + s.tolerance() + 1.0;
            if last < end - quiet {
                return disagree(
                    format!("the server fell silent {:.3} s before the end", end - last),
                    notes,
                );
            }
            if s.fate == "hung" {
                let acks = server_after(fault).filter(|x| x.len == 0).count();
                notes.push(format!(
                    "the stopped server's kernel sent {acks} ACKs after the fault"
                ));
            }
            agree(notes)
        }
        Expect::AfterFault { .. } | Expect::AfterLastByte { .. } => {
            let Some(d) = death else {
                return disagree("the client never ended".into(), notes);
            };
            if s.fate == "rebooted" {
                return match server_after(fault - 0.01).find(|x| x.has(RST) && x.at <= d + 0.005) {
                    Some(r) => {
                        notes.push(format!(
                            "RST from the server at {}, the line {:.3} s later",
                            rel(r.at),
                            (d - r.at).max(0.0)
                        ));
                        agree(notes)
                    }
                    None => disagree("no RST from the server before the line".into(), notes),
                };
            }
            let answered_late = server_after(fault + 0.01).any(|x| x.len > 0 && x.at < d);
            if answered_late && s.fate != "nat-idle" && s.fate != "flap" {
                return disagree("the server sent data after the fault".into(), notes);
            }
            let last = if s.is_kernel() { last_any } else { last_data };
            let Some(last) = last else {
                return disagree("nothing from the server before the line".into(), notes);
            };
            notes.push(format!(
                "last {} from the server at {}",
                if s.is_kernel() { "segment" } else { "data" },
                rel(last)
            ));
            // The client's segments after the last answer, but the ACK of that answer.
            let after: Vec<&Segment> = segs
                .iter()
                .filter(|x| x.src.0 != srv_ip && x.at > last + 0.02 && x.at <= d + 0.005)
                .filter(|x| !x.has(FIN) && !x.has(RST))
                .collect();
            let gaps: Vec<String> = after
                .windows(2)
                .map(|w| format!("{:.3}", w[1].at - w[0].at))
                .collect();
            notes.push(format!(
                "then {} client segments ({} with data), spaced {} s; the line {:.3} s after the last answer",
                after.len(),
                after.iter().filter(|x| x.len > 0).count(),
                if gaps.is_empty() { "-".into() } else { gaps.join(" ") },
                d - last
            ));
            if s.is_kernel() && s.write.is_none() {
                let n = after.iter().filter(|x| x.len <= 1).count() as u32;
                let want = if s.user_timeout.is_some() {
                    n
                } else {
                    s.probes
                };
                let first = after.first().map_or(0.0, |x| x.at - last);
                if n != want || first < s.idle - 0.05 || first > s.idle + s.slack(s.idle) {
                    return disagree(
                        format!("{n} probes, the first {first:.3} s after the last exchange (want {want} after {} s)", s.idle),
                        notes,
                    );
                }
                let b = s.keepalive_bound();
                if d - last < b - 0.05 || d - last > b + s.slack(b) {
                    return disagree(
                        format!("the line came {:.3} s after the last exchange", d - last),
                        notes,
                    );
                }
            } else if !s.is_kernel() {
                let said = log.last_answer(d).unwrap_or(0.0);
                if (said - last).abs() > 0.05 {
                    return disagree(
                        format!(
                            "the client's last answer was at {}, the wire's at {}",
                            rel(said),
                            rel(last)
                        ),
                        notes,
                    );
                }
            }
            agree(notes)
        }
        Expect::FalseDeaths(_) => agree(notes),
    }
}

/// The wire's word on a statistical run: one connection per attempt, each answered.
pub fn check_deaths(
    s: &Settings,
    segs: &[Segment],
    logs: &[Log],
    end: f64,
) -> (String, Vec<String>) {
    let Some(srv_ip) = server_ip(s) else {
        return (
            "disagrees: the settings name no server_ip".into(),
            Vec::new(),
        );
    };
    let syns = segs
        .iter()
        .filter(|x| x.src.0 != srv_ip && x.has(SYN) && !x.has(ACK));
    // One port per connection, in the order the client opened them.
    let mut ports: Vec<u16> = Vec::new();
    for p in syns.map(|x| x.src.1) {
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let unanswered: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|&p| {
            !segs
                .iter()
                .any(|x| x.src.0 == srv_ip && x.dst.1 == p && x.has(SYN | ACK))
        })
        .collect();
    let answered = ports.len() - unanswered.len();
    // Ended before the run did: a FIN or RST from either side (a server that gave up on
    // its client first closes too; the client's own FIN may then be an RST or nothing).
    let closed = ports
        .iter()
        .filter(|&&p| {
            segs.iter().any(|x| {
                (x.src.1 == p || x.dst.1 == p) && (x.has(FIN) || x.has(RST)) && x.at < end - 0.01
            })
        })
        .count();
    let deaths = logs
        .iter()
        .filter(|l| l.end().is_some_and(|(t, _)| t < end))
        .count();
    let notes = vec![format!(
        "{} connections on the wire, {answered} answered by a SYN-ACK, {closed} closed before the end; {} attempts, {deaths} deaths",
        ports.len(),
        logs.len()
    )];
    // Only the last attempt may still be waiting for its SYN-ACK (lost on the wire) when the
    // run ends, and only if it did not die: a death is false only on an answered connection.
    let last_alive = logs
        .last()
        .is_some_and(|l| l.end().is_none_or(|(t, _)| t >= end));
    let waiting = last_alive && unanswered.len() == 1 && unanswered.last() == ports.last();
    if ports.len() != logs.len() || !(unanswered.is_empty() || waiting) {
        return (
            format!(
                "disagrees: {} connections for {} attempts, {answered} answered",
                ports.len(),
                logs.len()
            ),
            notes,
        );
    }
    if closed != deaths {
        return (
            format!("disagrees: {closed} connections closed, {deaths} deaths said"),
            notes,
        );
    }
    ("agrees".into(), notes)
}

//! The wire's word on kernel keepalive (ka, kaw, kaw-ut): the probes the kernel sends never
//! reach the program, so only the capture can say they went out, how many, and when.
//!
//! * A silent peer (gone, partition, nat-idle): after the last exchange, `probes` zero-length
//!   probes `interval` apart, the first `idle` after it, and the line `idle + probes ×
//!   interval` after it (with `TCP_USER_TIMEOUT`, the first probe past it);
//! * a cut while data waits (busy-gone): the data retransmitted, no probe at all (keepalive
//!   is suspended while data is unacknowledged), and nothing from the server.

use crate::capture::{Segment, FIN, RST};
use crate::truth::Run;
use std::net::Ipv4Addr;

/// Keepalive against a silent peer: the probes and the line, from the last exchange.
pub fn gone(r: &Run, srv: Ipv4Addr, d: f64, notes: &mut Vec<String>) -> Result<(), String> {
    let (s, segs, fault) = (r.s, r.segs, r.fault);
    let from_server = |x: &&Segment| x.src.0 == srv;
    if s.fate != "nat-idle" && s.fate != "flap" {
        if let Some(x) = segs
            .iter()
            .filter(from_server)
            .find(|x| x.len > 0 && x.at > fault + 0.01 && x.at < d)
        {
            return Err(format!(
                "the server sent data at {} after the fault",
                r.at(x.at)
            ));
        }
    }
    let last = segs
        .iter()
        .filter(from_server)
        .filter(|x| x.at <= d)
        .map(|x| x.at)
        .reduce(f64::max)
        .ok_or("nothing from the server before the line")?;
    notes.push(format!("last segment from the server at {}", r.at(last)));
    // The client's segments after the last answer, but the ACK of that answer.
    let after: Vec<&Segment> = segs
        .iter()
        .filter(|x| x.src.0 != srv && x.at > last + 0.02 && x.at <= d + 0.005)
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
    if s.write.is_some() {
        return Ok(()); // kaw-ut: the user timeout, from the first unacknowledged byte
    }
    let n = after.iter().filter(|x| x.len <= 1).count() as u32;
    let want = if s.user_timeout.is_some() {
        n
    } else {
        s.probes
    };
    let first = after.first().map_or(0.0, |x| x.at - last);
    if n != want || first < s.idle - 0.05 || first > s.idle + s.slack(s.idle) {
        return Err(format!(
            "{n} probes, the first {first:.3} s after the last exchange (want {want} after {} s)",
            s.idle
        ));
    }
    let b = s.keepalive_bound();
    if d - last < b - 0.05 || d - last > b + s.slack(b) {
        return Err(format!(
            "the line came {:.3} s after the last exchange",
            d - last
        ));
    }
    Ok(())
}

/// A cut that outlasts the watch (busy-gone without a user timeout, and any pair's `Never`
/// on a cut): nothing from the server after the fault, and no keepalive probe while data
/// waits.
pub fn suspended(r: &Run, srv: Ipv4Addr, notes: &mut Vec<String>) -> Result<(), String> {
    let (segs, fault) = (r.segs, r.fault);
    let last = segs
        .iter()
        .filter(|x| x.src.0 == srv)
        .map(|x| x.at)
        .reduce(f64::max)
        .ok_or("the server never answered on the wire")?;
    notes.push(format!(
        "last segment from the server at F{:+.3} s",
        last - fault
    ));
    let client_after = || segs.iter().filter(|x| x.src.0 != srv && x.at > fault);
    let probes = client_after()
        .filter(|x| x.len == 0 && !x.has(FIN) && !x.has(RST))
        .count();
    notes.push(format!(
        "after the fault: {} client data segments (retransmissions), {probes} keepalive probes, no answer",
        client_after().filter(|x| x.len > 0).count()
    ));
    if last > fault + 0.01 {
        return Err("the server answered after the fault".into());
    }
    if probes > 0 {
        return Err(format!(
            "{probes} keepalive probes went out while data waited"
        ));
    }
    Ok(())
}

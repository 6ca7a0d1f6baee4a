//! The wire's word on kernel keepalive (ka, kaw, kaw-ut): the probes the kernel sends never
//! reach the program, so only the capture can say they went out, how many, and when.
//!
//! * A silent peer (gone, partition, nat-idle) and no data waiting (ka): after the last
//!   exchange, zero-length probes `interval` apart, the first `idle` after it — `probes` of
//!   them, or with `TCP_USER_TIMEOUT` one per tick before the first past it — and the line
//!   `idle + probes × interval` after it (with the user timeout, that first tick past it);
//! * a cut while data waits, with a user timeout (kaw-ut busy-gone): the data retransmitted
//!   after the server's last ACK, no probe, and the line the user timeout after the oldest
//!   unacknowledged byte first went out;
//! * a cut while data waits, without one (kaw busy-gone): the data retransmitted, no probe at
//!   all (keepalive is suspended while data is unacknowledged), and nothing from the server.
//!
//! No server data after the fault is checked for every pair in [`crate::truth`].

use crate::capture::{Segment, FIN, RST};
use crate::exchange::{self, Stream};
use crate::expect::Settings;
use crate::truth::Run;
use std::net::Ipv4Addr;

/// Keepalive against a silent peer: the probes and the line, from the last exchange.
pub fn gone(r: &Run, srv: Ipv4Addr, d: f64, notes: &mut Vec<String>) -> Result<(), String> {
    let (s, segs) = (r.s, r.segs);
    let from_server = |x: &&Segment| x.src.0 == srv;
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
        return busy(r, srv, d, &after, notes);
    }
    let n = after.iter().filter(|x| x.len <= 1).count() as u32;
    let want = probes_before_line(s);
    let first = after.first().map_or(0.0, |x| x.at - last);
    if n != want || first < s.idle - 0.05 || first > s.idle + s.slack(s.idle) {
        return Err(format!(
            "{n} probes, the first {first:.3} s after the last exchange (want {want} after {} s)",
            s.idle
        ));
    }
    let probes: Vec<f64> = after.iter().filter(|x| x.len <= 1).map(|x| x.at).collect();
    if let Some(w) = probes
        .windows(2)
        .find(|w| w[1] - w[0] < s.interval - 0.05 || w[1] - w[0] > s.interval + s.slack(s.interval))
    {
        return Err(format!(
            "probes {:.3} s apart at {}, not the interval of {} s",
            w[1] - w[0],
            r.at(w[1]),
            s.interval
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

/// How many probes go out before the line: `probes`; with `TCP_USER_TIMEOUT` the count is
/// not consulted (Linux's `tcp_keepalive_timer`), and one probe leaves at each tick `idle +
/// k × interval` before the first tick past the user timeout, at least one.
pub fn probes_before_line(s: &Settings) -> u32 {
    match s.user_timeout {
        Some(_) if s.interval > 0.0 => ((s.keepalive_bound() - s.idle) / s.interval)
            .round()
            .max(1.0) as u32,
        Some(_) => 1,
        None => s.probes,
    }
}

/// Data waits and a user timeout ends it (kaw-ut busy-gone): the client's data retransmitted
/// after the server's last ACK, no keepalive probe (`after`: the client's segments after the
/// server's last one), and the line the user timeout after the oldest unacknowledged byte
/// first went out — the kernel counts from then or from its first retransmission, some
/// 0.2 s (Linux's minimum RTO) later, both within the timer's slack.
fn busy(
    r: &Run,
    srv: Ipv4Addr,
    d: f64,
    after: &[&Segment],
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let s = r.s;
    let u = s
        .user_timeout
        .ok_or("data waits and no user timeout: no line should come")?;
    let conn = exchange::opened(r.segs, srv)
        .first()
        .copied()
        .ok_or("the connection is not in the capture")?;
    let st = Stream::of(r.segs, &conn).ok_or("the connection has no handshake")?;
    let acked = st.acked(d);
    let last_ack = st
        .acks
        .iter()
        .find(|a| a.1 == acked && a.0 <= d)
        .map_or(0.0, |a| a.0);
    let waited = st
        .first_sent(acked)
        .ok_or("no data waited unacknowledged before the line")?;
    let resent = st
        .resent
        .iter()
        .filter(|x| x.0 > waited && x.0 <= d + 0.005)
        .count();
    let probes = after.iter().filter(|x| x.len == 0).count();
    notes.push(format!(
        "the server's last ACK of data at {}; the oldest byte it left unacknowledged went out at {}, re-sent {resent} times, {probes} keepalive probes; the line {:.3} s after it",
        r.at(last_ack),
        r.at(waited),
        d - waited
    ));
    if resent == 0 {
        return Err("the data that waited was never retransmitted".into());
    }
    if probes > 0 {
        return Err(format!(
            "{probes} keepalive probes went out while data waited"
        ));
    }
    if d - waited < u - 0.05 || d - waited > u + s.slack(u) {
        return Err(format!(
            "the line came {:.3} s after the oldest unacknowledged byte went out, not within the user timeout of {u} s",
            d - waited
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
        "last segment from the server at {}",
        crate::exchange::from_fault(last - fault)
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
    let resent = exchange::opened(segs, srv)
        .first()
        .and_then(|c| Stream::of(segs, c))
        .map_or(0, |st| st.resent.iter().filter(|x| x.0 > fault).count());
    if resent == 0 {
        return Err("no data was retransmitted after the fault: nothing waited".into());
    }
    Ok(())
}

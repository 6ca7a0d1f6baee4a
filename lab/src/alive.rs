//! The wire's word on a fate that must pass unnoticed (alive, flap, nat-idle that lives,
//! kernel keepalive against a hung server): the server answered throughout — its longest
//! silence below the client's bound ([`crate::truth::quiet_bound`]) — and a flap cut frames
//! and an exchange crossed the cut: lost in it, re-sent (or, for keepalive, probed again)
//! after it, and answered.

use crate::exchange::{self, longest_silence, Stream, TOL};
use crate::truth::{quiet_bound, Run};
use std::net::Ipv4Addr;

/// Nothing noticed: the server answered throughout; for a flap, an exchange crossed the cut;
/// for a cut that lasts, nothing answered and no keepalive probe went out while data waited.
pub fn never(
    r: &Run,
    srv: Ipv4Addr,
    st: Option<&Stream>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let (s, segs, fault) = (r.s, r.segs, r.fault);
    if matches!(s.fate.as_str(), "busy-gone" | "partition" | "gone") {
        return crate::kernel::suspended(r, srv, notes);
    }
    // Keepalive's connection is the first one opened; the application's is its heartbeat link.
    let kernel_stream = s
        .is_kernel()
        .then(|| exchange::opened(segs, srv).first().copied())
        .flatten()
        .and_then(|c| Stream::of(segs, &c));
    let st = if s.is_kernel() {
        kernel_stream.as_ref()
    } else {
        st
    }
    .ok_or("the connection is not in the capture")?;
    // The kernel's probes are answered by ACKs; the application's by data.
    let answers = if s.is_kernel() {
        &st.heard
    } else {
        &st.answers
    };
    let start = st
        .heard
        .first()
        .copied()
        .ok_or("the server never answered on the wire")?;
    let (gap, from) = longest_silence(answers, start, r.end);
    let bound = quiet_bound(s);
    notes.push(format!(
        "the server answered {} times; its longest silence {gap:.3} s from {} (the client's bound {bound:.3} s)",
        answers.len(),
        r.at(from)
    ));
    if gap >= bound {
        return Err(format!(
            "the server was silent {gap:.3} s from {}, past the client's bound of {bound:.3} s",
            r.at(from)
        ));
    }
    if s.fate == "hung" {
        let acks = st.heard.iter().filter(|&&t| t > fault).count();
        notes.push(format!(
            "the stopped server's kernel sent {acks} ACKs after the fault"
        ));
        if acks == 0 {
            return Err("no ACK from the stopped server's kernel after the fault".into());
        }
    }
    if s.fate == "flap" {
        crossed(r, st, notes)?;
    }
    Ok(())
}

/// A flap cut an exchange: the wire counted frames lost to the cut, and something the
/// client sent in the cut was re-sent (or, for keepalive, probed again) after it and answered.
fn crossed(r: &Run, st: &Stream, notes: &mut Vec<String>) -> Result<(), String> {
    let (s, fault) = (r.s, r.fault);
    let mend = fault + s.flap;
    let cut = r.counts.map_or(0, |c| c.cut);
    if cut == 0 {
        return Err("the flap cut no frame (the wire counted cut 0)".into());
    }
    if s.is_kernel() {
        let (before, after) = (
            st.heard.iter().any(|&t| t > fault + TOL && t < mend),
            st.heard.iter().find(|&&t| t >= mend),
        );
        return match (before, after) {
            (false, Some(t)) => {
                notes.push(format!(
                    "the cut lost {cut} frames; the kernel probed again and was answered at {}",
                    r.at(*t)
                ));
                Ok(())
            }
            _ => Err("no keepalive exchange crossed the cut".into()),
        };
    }
    let lost = st.first.iter().find(|f| f.0 >= fault - TOL && f.0 < mend);
    let Some(&(t, a, b)) = lost else {
        return Err("the client sent nothing during the cut".into());
    };
    let again = st
        .resent
        .iter()
        .find(|x| x.0 >= mend && x.1 <= a && a < x.2);
    match again {
        Some(x) if st.acked(f64::MAX) >= b => {
            notes.push(format!(
                "the cut lost {cut} frames: bytes sent at {} went again at {} and were answered",
                r.at(t),
                r.at(x.0)
            ));
            Ok(())
        }
        Some(_) => Err("the retransmission across the cut was never acknowledged".into()),
        None => Err(format!(
            "bytes sent at {} in the cut were never re-sent after it",
            r.at(t)
        )),
    }
}

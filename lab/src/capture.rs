//! The lab's ground truth: the TCP segments `tcpdump -w` caught on the client's veth, read
//! from the pcap file (Ethernet, IPv4, TCP — all the lab's wire carries).
//!
//! A program's verdict is what it concluded; the capture is what happened. A heartbeat the
//! program "sent" may never reach the wire (queued behind an unacknowledged one); a kernel's
//! keepalive probes never reach the program at all. [`Segment`]s are what the checks in
//! [`crate::truth`] and [`crate::exchange`] compare a verdict against.

use std::io;
use std::net::Ipv4Addr;

/// TCP flags.
pub const FIN: u8 = 0x01;
/// SYN.
pub const SYN: u8 = 0x02;
/// RST.
pub const RST: u8 = 0x04;
/// ACK.
pub const ACK: u8 = 0x10;
/// URG.
pub const URG: u8 = 0x20;

/// One TCP segment on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// Seconds since the Unix epoch (the capture's clock, the same as the programs').
    pub at: f64,
    /// Source address and port.
    pub src: (Ipv4Addr, u16),
    /// Destination address and port.
    pub dst: (Ipv4Addr, u16),
    /// Flags (FIN, SYN, RST, ACK, URG bits).
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful with ACK).
    pub ack: u32,
    /// Bytes of payload.
    pub len: usize,
}

impl Segment {
    /// Whether it has every flag in `f`.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f == f
    }

    /// `FIN`, `RST`, `SYN-ACK`, `2004 B`, `ACK` …: what a student would call it.
    pub fn name(&self) -> String {
        let mut n = Vec::new();
        for (f, s) in [(SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (URG, "URG")] {
            if self.has(f) {
                n.push(s.to_string());
            }
        }
        if self.len > 0 {
            n.push(format!("{} B", self.len));
        } else if n.is_empty() || n == ["SYN"] && self.has(ACK) {
            n.push("ACK".into());
        }
        n.join("+")
    }
}

/// Read every TCP/IPv4 segment of a pcap file (microsecond or nanosecond stamps, either byte
/// order, Ethernet or Linux "cooked" link type). Anything else in it is skipped.
pub fn read(bytes: &[u8]) -> io::Result<Vec<Segment>> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    if bytes.len() < 24 {
        return Err(bad("not a pcap file: too short"));
    }
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let (le, nano) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => return Err(bad("not a pcap file: unknown magic")),
    };
    let u32_at = |b: &[u8], i: usize| {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let link = u32_at(bytes, 20);
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= bytes.len() {
        let (sec, frac, caught) = (
            u32_at(bytes, i),
            u32_at(bytes, i + 4),
            u32_at(bytes, i + 8) as usize,
        );
        let Some(frame) = bytes.get(i + 16..i + 16 + caught) else {
            break; // cut short: the capture was stopped mid-record
        };
        i += 16 + caught;
        let at = f64::from(sec) + f64::from(frac) / if nano { 1e9 } else { 1e6 };
        let ip = match link {
            1 if frame.len() >= 14 && frame[12..14] == [0x08, 0x00] => &frame[14..],
            113 if frame.len() >= 16 && frame[14..16] == [0x08, 0x00] => &frame[16..],
            _ => continue,
        };
        if let Some(s) = tcp_of(ip, at) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The TCP segment in an IPv4 packet, if it is one.
fn tcp_of(ip: &[u8], at: f64) -> Option<Segment> {
    if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = ip.get(ihl..)?;
    if tcp.len() < 20 {
        return None;
    }
    let doff = usize::from(tcp[12] >> 4) * 4;
    let addr = |o: usize| Ipv4Addr::new(ip[o], ip[o + 1], ip[o + 2], ip[o + 3]);
    let port = |o: usize| u16::from_be_bytes([tcp[o], tcp[o + 1]]);
    Some(Segment {
        at,
        src: (addr(12), port(0)),
        dst: (addr(16), port(2)),
        flags: tcp[13],
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        ack: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
        len: total.saturating_sub(ihl + doff),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pcap with one Ethernet frame: 192.0.2.66:9000 → 192.0.2.2:40000, flags, payload.
    fn pcap(flags: u8, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let total = (20 + 20 + payload) as u16;
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 66, 192, 0, 2, 2,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&9000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&40000u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&7u32.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        f.extend(ip);
        f.extend(tcp);
        f.extend(vec![b'x'; payload]);
        let mut h = vec![0u8; 24];
        h[..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&65535u32.to_le_bytes());
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        for w in [1_700_000_000u32, 250_000, f.len() as u32, f.len() as u32] {
            h.extend(w.to_le_bytes());
        }
        h.extend(f);
        h
    }

    #[test]
    fn reads_a_segment_with_its_time_flags_and_length() {
        let s = read(&pcap(ACK | FIN, 0)).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].src, (Ipv4Addr::new(192, 0, 2, 66), 9000));
        assert_eq!(s[0].dst, (Ipv4Addr::new(192, 0, 2, 2), 40000));
        assert!((s[0].at - 1_700_000_000.25).abs() < 1e-6);
        assert_eq!(s[0].name(), "FIN");
        assert_eq!(read(&pcap(ACK, 2004)).unwrap()[0].name(), "2004 B");
        assert_eq!(read(&pcap(ACK | RST, 0)).unwrap()[0].name(), "RST");
    }

    #[test]
    fn a_record_cut_short_ends_the_reading_and_garbage_is_an_error() {
        let mut p = pcap(ACK, 10);
        p.truncate(p.len() - 3);
        assert!(read(&p).unwrap().is_empty());
        assert!(read(b"not a capture at all, no").is_err());
    }
}

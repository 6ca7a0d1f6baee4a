//! docs/HANDOUT.md's Wireshark display filters, checked with tshark on the lab's own
//! captures: each filter shows something in the capture its row names and nothing in a
//! capture where that thing does not happen (hb / alive: no urgent byte, no probe, no
//! retransmission, no RST). A filter that matches every packet (`tcp.urgent_pointer` alone
//! does: the field is in every TCP header) fails here.

use crate::common::{full_lab, root};
use crate::documents::lab_for;
use std::process::Command;

/// (capture's run folder, filter, the `make lab` knobs of the row if any) per table row.
fn rows() -> Vec<(String, String, String)> {
    let doc = std::fs::read_to_string(root().join("docs/HANDOUT.md")).unwrap();
    doc.lines()
        .filter(|l| l.starts_with('|') && l.contains("/capture.pcap`"))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let code = |c: &str| c.split('`').nth(1).unwrap_or("").to_string();
            let run = code(cells[1]).trim_end_matches("/capture.pcap").to_string();
            let knobs = code(cells[0]).trim_start_matches("make lab ").to_string();
            (run, code(cells[2]).replace("\\|", "|"), knobs)
        })
        .collect()
}

fn count(pcap: &std::path::Path, filter: &str) -> usize {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter])
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "tshark -Y '{filter}': {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: the lab")]
fn the_handouts_wireshark_filters_show_each_exercise() {
    let rows = rows();
    assert!(rows.len() >= 6, "{rows:?}");
    let lab = full_lab();
    if lab.skipped() {
        return;
    }
    if Command::new("tshark").arg("-v").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no tshark under CI: .ci/run installs it"
        );
        eprintln!("SKIPPED: no tshark here (apt-get install tshark)");
        return;
    }
    let control = lab.run("hb-alive").join("capture.pcap");
    for (run, filter, knobs) in rows {
        let l = if knobs.is_empty() {
            lab
        } else {
            lab_for(&knobs)
        };
        let n = count(&l.run(&run).join("capture.pcap"), &filter);
        assert!(n >= 1, "'{filter}' shows nothing in {run}");
        let all = count(&l.run(&run).join("capture.pcap"), "tcp");
        assert!(
            n < all,
            "'{filter}' shows every packet of {run}: it selects nothing"
        );
        if run != "hb-alive" {
            assert_eq!(
                count(&control, &filter),
                0,
                "'{filter}' matches hb / alive too"
            );
        }
        println!("{filter}: {n} of {all} packets of {run}");
    }
}

//! The pictures of the full lab's runs: every run's `timeline.svg` shows every segment its
//! capture holds, in time order, with the fault and the client's line; the text diagrams
//! draw from the same events (ka probes drawn, the OOB probe before its answer, no fault
//! time where there is no fault); and a real browser — headless Chromium, Debian's
//! `chromium` — renders `index.html` and two pictures to PNG.

use crate::common::full_lab;
use heartbeat_lab::svg::times;
use std::process::Command;

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: the lab")]
fn every_runs_picture_holds_its_capture_in_time_order() {
    let lab = full_lab();
    if lab.skipped() {
        return;
    }
    let runs = heartbeat_lab::runs::runs_in(&lab.dir).unwrap();
    assert_eq!(runs.len(), 40);
    for dir in &runs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let svg = std::fs::read_to_string(dir.join("timeline.svg")).unwrap();
        let text = std::fs::read_to_string(dir.join("diagram.txt")).unwrap();
        let segs = heartbeat_lab::capture::read(&std::fs::read(dir.join("capture.pcap")).unwrap())
            .unwrap();
        let t = times(&svg, "seg");
        assert_eq!(
            t.len(),
            segs.len(),
            "{name}: every captured segment is drawn"
        );
        assert!(t.windows(2).all(|w| w[0] <= w[1]), "{name}: in time order");
        assert!(
            svg.starts_with("<svg") && !svg.contains("<script") && !svg.contains("href=\"http")
        );
        let row = lab.row(&name);
        if !row.contains("\"fate\": \"alive\"")
            && !row.contains("\"fate\": \"nat-idle\"")
            && !row.contains("\"false_deaths\": 0")
            && !row.contains("\"expected\": \"some\"")
        {
            assert_eq!(times(&svg, "fault").len(), 1, "{name}: the fault is marked");
        }
        if let Some(line) = row
            .split("\"line\": \"")
            .nth(1)
            .and_then(|l| l.split('"').next())
        {
            assert!(
                svg.contains(&heartbeat_lab::svg::esc(line)),
                "{name}: its line '{line}'"
            );
        }
        if row.contains("\"expected_s\": [") && !row.contains("\"expected\": \"at once\"") {
            assert!(
                svg.contains("class=\"bound\""),
                "{name}: the bound is marked"
            );
        }
        if row.contains("\"fate\": \"alive\"") {
            assert!(
                !text.contains(" F+") && !text.contains(" F-"),
                "{name}: no fault, no F+:\n{text}"
            );
        }
    }
    // ka: the kernel's probes are drawn, in the text as in the picture.
    let ka = std::fs::read_to_string(lab.run("ka-gone").join("diagram.txt")).unwrap();
    assert!(ka.matches("keepalive probe").count() >= 2, "{ka}");
    let svg = std::fs::read_to_string(lab.run("ka-hung").join("timeline.svg")).unwrap();
    assert!(
        svg.matches("class=\"seg keepalive\"").count() >= 2,
        "ka-hung's probes"
    );
    assert!(
        svg.contains("ACK (of the probe)"),
        "ka-hung: the stopped server's kernel answers"
    );
    // oob: each probe before its answer.
    for run in ["oob-alive", "oob-hung", "oob-flap", "oob-nat-idle"] {
        let d = std::fs::read_to_string(lab.run(run).join("diagram.txt")).unwrap();
        let rows: Vec<&str> = d.lines().filter(|l| l.contains("urgent '1'")).collect();
        assert!(
            rows.first().is_some_and(|r| r.contains("(probe)")),
            "{run}:\n{d}"
        );
        for w in rows.windows(2) {
            assert!(
                !(w[0].contains("(answer)") && w[1].contains("(answer)")),
                "{run}: two answers in a row:\n{d}"
            );
        }
    }
    // hb partition: one heartbeat on the wire, then its retransmissions (exercise 6).
    let svg = std::fs::read_to_string(lab.run("hb-partition").join("timeline.svg")).unwrap();
    assert!(svg.contains("class=\"seg retransmission\""));
}

/// Headless Chromium, Debian's `chromium` (.ci/run installs it).
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: the lab")]
fn chromium_renders_the_index_and_two_pictures() {
    let lab = full_lab();
    if lab.skipped() {
        return;
    }
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no chromium under CI: .ci/run installs it"
        );
        eprintln!("SKIPPED: no chromium here (apt-get install chromium)");
        return;
    };
    let index = lab.dir.join("index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    // Every link of the page is a file of the lab's folder: nothing from the network.
    for href in html
        .split("href=\"")
        .skip(1)
        .map(|h| h.split('"').next().unwrap())
    {
        assert!(!href.contains("://"), "{href}");
        assert!(
            lab.dir.join(href).is_file(),
            "index.html links {href}, which is missing"
        );
    }
    assert!(!html.contains("<script"));
    let shots = std::env::temp_dir().join(format!("hb-lab-shots-{}", std::process::id()));
    std::fs::create_dir_all(&shots).unwrap();
    for (page, size) in [
        (index, "1500,1400"),
        (lab.run("hb-partition").join("timeline.svg"), "1400,1200"),
        (lab.run("ka-hung").join("timeline.svg"), "1400,1000"),
    ] {
        let png = shots.join(format!(
            "{}.png",
            page.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
        ));
        let _ = std::fs::remove_file(&png);
        let out = Command::new("timeout")
            .args([
                "120",
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("--window-size={size}"))
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{browser} on {}: {err}",
            page.display()
        );
        let bytes = std::fs::read(&png).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{}: no PNG: {err}",
            page.display()
        );
        // A blank page of this size compresses to a few kB; a drawn one is far larger.
        assert!(
            bytes.len() > 30_000,
            "{}: {} bytes, blank?",
            page.display(),
            bytes.len()
        );
    }
    let _ = std::fs::remove_dir_all(&shots);
}

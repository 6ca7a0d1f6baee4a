//! The programs' side of the lab's interface (`lab/src/output.rs`): each client pair run on
//! 127.0.0.1 with `-t` and `RUST_LOG=debug`, its server killed, and its log read by the
//! lab's own parser — every line the lab relies on must be there. A program that rewords one
//! fails here, not in a lab run.

use heartbeat_lab::output::{self, Log};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// target/<profile>/, where the port's programs are (built as lab.rs builds them).
fn bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(name)
}

fn build_the_port() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut c = Command::new(env!("CARGO"));
    c.args(["build", "--bins", "-p", "heartbeat", "--manifest-path"])
        .arg(format!("{root}/Cargo.toml"));
    if !cfg!(debug_assertions) {
        c.arg("--release");
    }
    assert!(c.status().unwrap().success(), "cargo build -p heartbeat");
}

/// A server started with `RUST_LOG=debug` on port 0, once it printed the lab's readiness
/// line, and the port that line names (a free port found first could be taken by a
/// parallel test before the server bound it: a CI run saw it).
fn server(prog: &str, opts: &[&str]) -> (Child, u16) {
    let mut c = Command::new(bin(prog))
        .args(opts)
        .arg("0")
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(c.stderr.take().unwrap());
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some((_, addr)) = line.trim_end().split_once(output::LISTENING) {
            let port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
            let port = port.unwrap_or_else(|| panic!("{prog}: no port in {line:?}"));
            // Drain the rest so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return (c, port);
        }
    }
    let _ = c.kill();
    let _ = c.wait();
    panic!("{prog} never printed '{}'", output::LISTENING);
}

/// The client's `-t` log after its server is killed `after` its start.
fn client_log(client: &str, server_prog: &str, opts: &[&str], after: f64) -> Log {
    let (mut srv, port) = server(server_prog, opts);
    let mut cli = Command::new(bin(client))
        .arg("-t")
        .args(opts)
        .args(["127.0.0.1", &port.to_string()])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped()) // open and silent, as the lab's fifo
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs_f64(after));
    srv.kill().unwrap();
    srv.wait().unwrap();
    let mut text = String::new();
    let mut err = cli.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while cli.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = cli.kill();
    let _ = cli.wait();
    Log::read(&reader.join().unwrap())
}

#[test]
#[cfg_attr(not(unix), ignore = "the lab is Linux's")]
fn every_program_prints_what_the_lab_reads() {
    build_the_port();
    let fast = ["--idle", "0.3", "--interval", "0.2", "--probes", "2"];
    for (client, server) in [("hb_client", "hb_server"), ("hb_client1", "hb_server1")] {
        let l = client_log(client, server, &fast, 1.2);
        assert!(l.zero > 1e9, "{client}: no '{}'", output::CLOCK_ZERO);
        assert!(l.sent().len() >= 2, "{client}: no '{}'", output::HEARTBEAT);
        assert!(
            l.last_answer(f64::MAX).is_some(),
            "{client}: no '{}'",
            output::READ
        );
        let (_, end) = l.end().expect("an ending line");
        assert!(end.contains("server terminated"), "{client}: {end}");
        if client == "hb_client1" {
            assert!(l.listener_port().is_some(), "no '{}'", output::LISTENER);
        }
    }
    let oob = ["--interval", "0.2", "--probes", "2"];
    let l = client_log("hb_client_oob", "hb_server_oob", &oob, 1.2);
    assert!(
        l.zero > 1e9 && l.sent().len() >= 2,
        "no '{}'",
        output::URGENT
    );
    assert!(
        l.last_answer(f64::MAX).is_some(),
        "no '{}'",
        output::URGENT_ANSWER
    );
    assert!(l.end().is_some(), "hb_client_oob: no ending line");
    let ka = ["--idle", "1", "--interval", "1", "--probes", "1"];
    let l = client_log("ka_client", "ka_server", &ka, 0.5);
    let (_, end) = l.end().expect("ka_client: an ending line");
    assert!(end.contains(output::SINCE), "ka_client: {end}");
}

//! Kernel keepalive (ka_client / ka_server): values read back, the three fates of seed 001 —
//! gone (DROP: ETIMEDOUT after idle + probes × interval), rebooted (RST), hung (never) —
//! and seed 002's --on-dead. Faults are made only inside a private network namespace.

mod common;

use common::procs::sig;

use common::procs::{server, stamp, Prog};
use common::{in_private_netns, iptables};
use heartbeat::keepalive::{self, Settings};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const S: Duration = Duration::from_secs(10);

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: TCP_USER_TIMEOUT in milliseconds"
)]
fn effective_values_read_back_equal_those_asked_for() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let want = Settings {
        idle: Duration::from_secs(7),
        interval: Duration::from_secs(3),
        probes: 4,
    };
    let lines = keepalive::apply(&s, &want, Some(Duration::from_secs(19))).unwrap();
    let back = keepalive::read_back(&s);
    assert!(*back.enabled.as_ref().unwrap());
    assert_eq!(back.settings(), Some(want));
    assert_eq!(
        keepalive::user_timeout_of(&s).unwrap(),
        Some(Duration::from_secs(19))
    );
    assert_eq!(lines[0], "keepalive on: idle 7 s, interval 3 s, probes 4; read back: idle 7 s, interval 3 s, probes 4");
    assert_eq!(lines[1], "TCP_USER_TIMEOUT 19000 ms; read back 19000 ms");
    assert!(
        lines[2].contains("reported 19 s after the last byte"),
        "{lines:?}"
    );
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: reads /proc")]
fn system_defaults_come_from_proc() {
    let d = keepalive::system_defaults().unwrap();
    assert_eq!(d.source, "/proc/sys/net/ipv4");
    let d = d.settings;
    let read = |n: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{n}"))
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(d.idle.as_secs(), read("tcp_keepalive_time"));
    assert_eq!(d.interval.as_secs(), read("tcp_keepalive_intvl"));
    assert_eq!(d.probes as u64, read("tcp_keepalive_probes"));
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: TCP_USER_TIMEOUT in milliseconds"
)]
fn ka_client_prints_defaults_and_read_back_values() {
    let (_srv, port) = server("ka_server", &[]);
    let mut c = Prog::start(
        "ka_client",
        &[
            "--idle",
            "30",
            "--interval",
            "4",
            "--probes",
            "5",
            "--user-timeout",
            "50",
            "127.0.0.1",
            &port.to_string(),
        ],
    );
    c.expect_line("ka_client: system defaults: idle", S);
    let (_, l) = c.expect_line("keepalive on:", S);
    assert!(l.ends_with("keepalive on: idle 30 s, interval 4 s, probes 5; read back: idle 30 s, interval 4 s, probes 5"), "{l}");
    c.expect_line("reported 50 s after the last byte", S);
    c.expect_line("TCP_USER_TIMEOUT 50000 ms; read back 50000 ms", S);
}

#[test]
fn ka_takes_whole_seconds_only() {
    let mut c = Prog::start("ka_client", &["--idle", "0.5", "127.0.0.1", "9"]);
    assert_eq!(c.wait_exit(S), Some(2));
    assert!(
        c.said()[0].contains("--idle takes whole seconds"),
        "{:?}",
        c.said()
    );
}

/// ka_server on 127.0.0.1, ka_client with idle 1, interval 1, probes 2 (bound 3 s).
fn pair(extra: &[&str]) -> (Prog, Prog, String) {
    let (mut srv, port) = server("ka_server", &[]);
    let mut args = vec!["-t", "--idle", "1", "--interval", "1", "--probes", "2"];
    args.extend_from_slice(extra);
    let p = port.to_string();
    args.extend(["127.0.0.1", &p]);
    let mut cli = Prog::start("ka_client", &args);
    srv.expect_line("accepted", S);
    cli.expect_line("keepalive on", S);
    (srv, cli, p)
}

fn seconds_after_last_byte(line: &str) -> f64 {
    let tail = line.rsplit(", ").next().unwrap();
    tail.split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no seconds in {line}"))
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: network namespaces and iptables"
)]
fn gone_peer_is_reported_as_timed_out_after_the_bound() {
    if !in_private_netns("gone_peer_is_reported_as_timed_out_after_the_bound") {
        return;
    }
    let (_srv, mut cli, port) = pair(&[]);
    iptables(&["-A", "INPUT", "-p", "tcp", "--dport", &port, "-j", "DROP"]);
    let (_, line) = cli.expect_line("connection timed out", S);
    assert!(line.contains("Connection timed out (110)"), "{line}");
    let after = seconds_after_last_byte(&line);
    assert!(
        (2.95..3.6).contains(&after),
        "ETIMEDOUT {after} s after the last byte, expected 3 s: {line}"
    );
    assert_eq!(cli.wait_exit(S), Some(1));
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: network namespaces and iptables"
)]
fn rebooted_peer_is_reported_as_reset_at_the_first_probe() {
    if !in_private_netns("rebooted_peer_is_reported_as_reset_at_the_first_probe") {
        return;
    }
    let (_srv, mut cli, port) = pair(&[]);
    iptables(&[
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        &port,
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
    ]);
    let (_, line) = cli.expect_line("connection reset", S);
    assert!(line.contains("Connection reset by peer (104)"), "{line}");
    let after = seconds_after_last_byte(&line);
    assert!(
        (0.95..1.6).contains(&after),
        "RST at the first probe (1 s), got {after} s: {line}"
    );
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn hung_peer_is_never_reported_by_keepalive() {
    let (srv, mut cli, _) = pair(&[]);
    srv.signal(sig::SIGSTOP);
    // Three times the 3 s bound: the stopped server's kernel keeps ACKing the probes.
    cli.drain(Duration::from_secs(9));
    assert_eq!(
        cli.wait_exit(Duration::ZERO),
        None,
        "still connected: {:?}",
        cli.said()
    );
    assert!(!cli
        .said()
        .iter()
        .any(|l| l.contains("timed out") || l.contains("reset")));
}

#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn killed_peer_is_terminated_and_on_dead_runs_exactly_once() {
    let dir = std::env::temp_dir().join(format!("hb-ondead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("ran");
    let cmd = format!(
        "echo \"backup takes over: $HB_REASON $HB_PEER $HB_SINCE\" >> {}; exit 7",
        log.display()
    );
    let (srv, mut cli, port) = pair(&["--on-dead", &cmd]);
    srv.signal(sig::SIGKILL);
    let (_, line) = cli.expect_line("server terminated", S);
    assert!(seconds_after_last_byte(&line) < 1.0, "{line}");
    assert_eq!(
        cli.wait_exit(S),
        Some(7),
        "the command's status is the program's"
    );
    cli.expect_line("running --on-dead", S);
    let ran = std::fs::read_to_string(&log).unwrap();
    let prefix = format!("backup takes over: terminated 127.0.0.1:{port} 0.");
    assert!(
        ran.starts_with(&prefix) && ran.lines().count() == 1,
        "{ran:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An `--on-dead` command killed by a signal is said to be, and the status is 128 + N.
#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn on_dead_killed_by_a_signal_is_reported_as_such() {
    let (srv, mut cli, _) = pair(&["--on-dead", "kill -TERM $$"]);
    srv.signal(sig::SIGKILL);
    assert_eq!(cli.wait_exit(S), Some(128 + 15), "{:?}", cli.said());
    cli.expect_line("--on-dead command killed by signal 15 (Terminated)", S);
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: network namespaces and iptables"
)]
fn ka_server_with_keepalive_drops_a_vanished_client() {
    if !in_private_netns("ka_server_with_keepalive_drops_a_vanished_client") {
        return;
    }
    let (mut srv, port) = server(
        "ka_server",
        &[
            "-t",
            "--keepalive",
            "--idle",
            "1",
            "--interval",
            "1",
            "--probes",
            "1",
        ],
    );
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let me = c.local_addr().unwrap().port().to_string();
    srv.expect_line("accepted", S);
    iptables(&["-A", "INPUT", "-p", "tcp", "--dport", &me, "-j", "DROP"]);
    let (_, line) = srv.expect_line("connection timed out", S);
    let after = seconds_after_last_byte(&line);
    assert!((1.95..2.6).contains(&after), "{line}");
    assert!(stamp(&line) > Duration::ZERO);
}

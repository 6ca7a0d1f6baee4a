//! msg_t wire format, set_address / tcp_server / tcp_client, and the command line.

mod common;

#[cfg(unix)]
use common::procs::sig;

use common::procs::Prog;
use heartbeat::cli::{Extra, Kind, Parsed, Spec};
use heartbeat::message::{Message, DATA_LEN, MSG_HEARTBEAT, MSG_LEN, MSG_TYPE1, MSG_TYPE2};
use heartbeat::net::{set_address, tcp_client, tcp_server};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

#[test]
fn constants_are_the_articles() {
    assert_eq!((MSG_TYPE1, MSG_TYPE2, MSG_HEARTBEAT), (1, 2, 3));
    assert_eq!((DATA_LEN, MSG_LEN), (2000, 2004));
}

/// The bytes of `msg_t { htonl(3), "ping…" }` as the C sends them, written out by hand.
#[test]
fn message_encodes_byte_for_byte_as_the_c_struct() {
    let mut wire = [0u8; 2004];
    wire[3] = 3; // 00 00 00 03: MSG_HEARTBEAT in network order
    wire[4..8].copy_from_slice(b"ping");
    wire[2003] = 0x7f; // last data byte
    let mut m = Message::heartbeat();
    m.data[..4].copy_from_slice(b"ping");
    m.data[1999] = 0x7f;
    assert_eq!(m.encode(), wire);
    assert_eq!(Message::decode(&wire), m);
}

#[test]
fn message_round_trips_every_type_including_unknown_ones() {
    let mut rng = common::Rng::new(12);
    for t in [
        MSG_TYPE1,
        MSG_TYPE2,
        MSG_HEARTBEAT,
        0,
        9,
        0x0100_0000,
        u32::MAX,
    ] {
        let mut m = Message::new(t);
        m.data.copy_from_slice(&rng.bytes(DATA_LEN));
        let back = Message::decode(&m.encode());
        assert_eq!(back, m);
        assert_eq!(back.is_known(), (1..=3).contains(&t));
    }
    assert!(Message::from_slice(&[0u8; 2003]).is_none());
    assert!(Message::from_slice(&[0u8; 2005]).is_none());
    assert_eq!(
        Message::from_slice(&Message::new(2).encode())
            .unwrap()
            .msg_type,
        2
    );
}

#[test]
fn set_address_takes_a_service_name_from_etc_services() {
    let a = set_address(Some("127.0.0.1"), "http", "tcp").unwrap();
    assert_eq!(a, "127.0.0.1:80".parse::<SocketAddr>().unwrap());
    assert_eq!(set_address(None, "ssh", "tcp").unwrap().port(), 22);
}

#[test]
fn set_address_unknown_service_and_host_say_so() {
    let e = set_address(Some("127.0.0.1"), "no-such-service", "tcp").unwrap_err();
    assert_eq!(e.to_string(), "unknown service: no-such-service");
    let e = set_address(Some("no-such-host.invalid"), "80", "tcp").unwrap_err();
    assert_eq!(e.to_string(), "unknown host: no-such-host.invalid");
}

#[test]
fn set_address_ipv4_ipv6_literals_and_any() {
    assert_eq!(
        set_address(None, "9000", "tcp").unwrap(),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 9000)
    );
    assert_eq!(
        set_address(Some("::1"), "9000", "tcp").unwrap().ip(),
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    );
    assert_eq!(
        set_address(Some("[::1]"), "7", "tcp").unwrap().ip(),
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    );
    assert_eq!(
        set_address(Some("localhost"), "7", "tcp").unwrap().ip(),
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    );
    let e = set_address(Some("127.0.0.1"), "70000", "tcp").unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn tcp_server_and_client_talk_and_reuse_address_is_set() {
    let l = tcp_server(Some("127.0.0.1"), "0").unwrap();
    assert!(socket2::SockRef::from(&l).reuse_address().unwrap());
    let port = l.local_addr().unwrap().port().to_string();
    let mut c = tcp_client("127.0.0.1", &port).unwrap();
    let (mut s, _) = l.accept().unwrap();
    c.write_all(b"hi").unwrap();
    let mut b = [0u8; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"hi");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: errno numbers are Linux's"
)]
fn tcp_server_and_client_errors_read_like_c_error() {
    let l = tcp_server(Some("127.0.0.1"), "0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let e = tcp_server(Some("127.0.0.1"), &port).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    assert_eq!(
        heartbeat::error::describe(&e),
        "bind failed: Address already in use (98)"
    );
    drop(l);
    let e = tcp_client("127.0.0.1", &port).unwrap_err();
    assert_eq!(
        heartbeat::error::describe(&e),
        "connect failed: Connection refused (111)"
    );
}

const SPEC: Spec = Spec::seed000("hb_test", "test", Kind::Client);
const SERVER: Spec = Spec::seed000("hb_test", "test", Kind::Server).with(&[Extra::ReplyDelay]);

fn parse(args: &[&str]) -> Result<Parsed, String> {
    SPEC.parse(args.iter().map(|s| s.to_string()))
}

#[test]
fn cli_parses_positionals_options_and_decimals() {
    let Ok(Parsed::Client(a)) = parse(&[
        "-t",
        "--idle",
        "0.25",
        "127.0.0.1",
        "--interval=0.1",
        "9000",
        "--probes",
        "5",
    ]) else {
        panic!("should parse")
    };
    assert_eq!(a.host, "127.0.0.1");
    assert_eq!(a.port, "9000");
    assert_eq!(a.timing.idle, Duration::from_millis(250));
    assert_eq!(a.timing.interval, Duration::from_millis(100));
    assert_eq!(a.timing.probes, 5);
    assert!(a.timestamps);
    let Ok(Parsed::Server(s)) = SERVER.parse(["--once", "-t", "9000"].map(String::from)) else {
        panic!("should parse")
    };
    assert!(s.timestamps && s.once && s.port == "9000");
    let Ok(Parsed::Client(d)) = parse(&["h", "http"]) else {
        panic!()
    };
    let t = d.timing;
    assert_eq!(
        (t.idle, t.interval, t.probes),
        (Duration::from_secs(60), Duration::from_secs(10), 3)
    );
}

#[test]
fn cli_usage_errors_name_the_problem() {
    assert_eq!(parse(&[]).unwrap_err(), "missing argument HOST");
    assert_eq!(parse(&["127.0.0.1"]).unwrap_err(), "missing argument PORT");
    assert_eq!(
        parse(&["127.0.0.1", "abc12"]).unwrap_err(),
        "unknown service: abc12"
    );
    assert_eq!(
        parse(&["127.0.0.1", "70000"]).unwrap_err(),
        "port 70000 out of range (0-65535)"
    );
    assert!(parse(&["--idle", "-1", "h", "9"])
        .unwrap_err()
        .contains("--idle takes a positive number"));
    assert!(parse(&["--idle", "0", "h", "9"]).is_err());
    assert!(parse(&["--interval", "soon", "h", "9"]).is_err());
    assert!(parse(&["--probes", "-2", "h", "9"]).is_err());
    assert!(parse(&["--reply-delay", "1", "h", "9"])
        .unwrap_err()
        .contains("unknown option"));
    assert!(parse(&["h", "9", "extra"])
        .unwrap_err()
        .contains("unexpected argument"));
    assert_eq!(parse(&["--help"]), Ok(Parsed::Help));
    assert_eq!(parse(&["h", "9", "-V"]), Ok(Parsed::Version));
}

#[test]
fn programs_exit_2_on_usage_errors_with_a_usage_line() {
    for (prog, args) in [
        ("hb_client", vec!["127.0.0.1"]),
        ("hb_client", vec!["127.0.0.1", "port9"]),
        ("hb_server", vec!["70000"]),
        ("hb_server", vec!["--idle", "-3", "9000"]),
        ("hb_client1", vec![]),
        ("hb_server1", vec!["--max-clients", "0", "9000"]),
    ] {
        let mut p = Prog::start(prog, &args);
        assert_eq!(
            p.wait_exit(Duration::from_secs(10)),
            Some(2),
            "{prog} {args:?}"
        );
        let said = p.said();
        assert!(said[0].starts_with(&format!("{prog}: ")), "{said:?}");
        assert!(
            said.iter()
                .any(|l| l.starts_with(&format!("usage: {prog} [options]"))),
            "{said:?}"
        );
    }
}

#[test]
fn programs_help_and_version_exit_0() {
    for prog in ["hb_client", "hb_server", "hb_client1", "hb_server1"] {
        let out = std::process::Command::new(common::procs::bin(prog))
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("--idle") && text.contains("seed 000"),
            "{text}"
        );
        let out = std::process::Command::new(common::procs::bin(prog))
            .arg("-V")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{prog} (heartbeat) {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: errno numbers are Linux's"
)]
fn client_fatal_errors_exit_1_in_c_format() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    drop(l);
    let mut p = Prog::start("hb_client", &["127.0.0.1", &port]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(1));
    assert_eq!(
        p.said(),
        vec!["hb_client: connect failed: Connection refused (111)".to_string()]
    );
    let mut p = Prog::start("hb_client", &["no-such-host.invalid", "9000"]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(1));
    assert_eq!(
        p.said(),
        vec!["hb_client: unknown host: no-such-host.invalid".to_string()]
    );
}

/// Values the kernel would refuse are usage errors that name the option (exit 2), before any
/// connection is made.
#[test]
fn keepalive_values_the_kernel_refuses_are_usage_errors() {
    for (args, says) in [
        (
            vec!["--probes", "0"],
            "--probes takes 1 to 127 here (TCP_KEEPCNT), not 0",
        ),
        (
            vec!["--probes", "200"],
            "--probes takes 1 to 127 here (TCP_KEEPCNT), not 200",
        ),
        (
            vec!["--idle", "40000"],
            "--idle takes 1 to 32767 here (TCP_KEEPIDLE), not 40000",
        ),
        (
            vec!["--interval", "0"],
            "--interval takes a positive number of seconds, not '0'",
        ),
        (
            vec!["--probes", "99999999999"],
            "--probes 99999999999 is too large",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["127.0.0.1", "9"]);
        let mut p = Prog::start("ka_client", &all);
        assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(2), "{args:?}");
        assert!(
            p.said()
                .iter()
                .any(|l| l.ends_with(&format!("ka_client: {says}"))),
            "{args:?}: {:?}",
            p.said()
        );
    }
}

/// `./hb_client … 2>&1 | head -1`: once the pipe's reader has gone, the client ends as the C
/// does, killed by SIGPIPE, instead of heartbeating on unseen.
#[test]
#[cfg_attr(not(unix), ignore = "needs Unix signals (SIGSTOP, SIGKILL, SIGPIPE)")]
fn a_client_whose_output_pipe_closes_ends_by_sigpipe() {
    use std::io::BufRead;
    #[cfg(unix)]
    use std::os::unix::process::ExitStatusExt;
    let (_srv, port) = common::procs::server("hb_server", &["--idle", "0.1", "--interval", "0.1"]);
    let mut c = std::process::Command::new(common::procs::bin("hb_client"))
        .args([
            "--idle",
            "0.1",
            "--interval",
            "0.1",
            "127.0.0.1",
            &port.to_string(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(c.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("sending heartbeat #1"), "{first}");
    drop(err); // head -1 exits
    let end = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = c.try_wait().unwrap() {
            break Some(st);
        }
        if std::time::Instant::now() > end {
            let _ = c.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let status = status.expect("the client ended after its stderr closed");
    #[cfg(not(unix))]
    let _ = status;
    #[cfg(unix)]
    assert_eq!(status.signal(), Some(sig::SIGPIPE), "{status:?}");
}

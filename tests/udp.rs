//! The C's `udp_server` and `udp_client` (seed 000's `readn.c`), kept for students who port
//! the article's UDP examples: a datagram goes out and its echo comes back.

use heartbeat::net::{udp_client, udp_server};
use std::time::Duration;

#[test]
fn udp_client_reaches_udp_server_and_back() {
    let srv = udp_server(Some("127.0.0.1"), "0").unwrap();
    let port = srv.local_addr().unwrap().port().to_string();
    let (cli, peer) = udp_client("127.0.0.1", &port).unwrap();
    assert_eq!(
        peer,
        srv.local_addr().unwrap(),
        "the C's sockaddr_in out-argument"
    );
    cli.send_to(b"ping", peer).unwrap();
    srv.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = srv.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    srv.send_to(b"pong", from).unwrap();
    cli.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (n, back) = cli.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], back), (&b"pong"[..], peer));
}

#[test]
fn udp_names_a_bad_service_as_the_c_does() {
    let e = udp_server(None, "no-such-service").unwrap_err();
    assert!(
        e.to_string().contains("unknown service: no-such-service"),
        "{e}"
    );
}

//! `hb_client_oob HOST PORT` — the out-of-band heartbeat seed 000 left "未完待续", after
//! Stevens' `heartbeat_cli` (UNP vol. 1 §24.7) and `str_cli`.
//!
//! Every `--interval` (Stevens' `alarm(nsec)`) one urgent byte `'1'` goes to the server; any
//! urgent byte back resets the count (`nprobes = 0` in `sig_urg`). The clock ticks on
//! regardless, as `alarm` does, so `server is unreachable` comes at the tick where more than
//! `--probes` probes are unanswered: between `probes × interval` and `(probes + 1) × interval`
//! after the last answer. Defaults `--interval 1 --probes 5`, as Stevens.
//!
//! Like `str_cli`, stdin is copied to the server and what comes back is printed on stdout,
//! so the heartbeat visibly runs beside real traffic. At the end of stdin the client
//! half-closes (`shutdown(SHUT_WR)`), keeps printing the echo and keeps watching until the
//! server closes, then exits 0 if the whole echo was printed; every other ending (exit 1)
//! says how many of the bytes sent were not echoed. The server's progress (it takes what we
//! send) counts as its sign of life beside its urgent bytes; one that takes nothing for
//! `probes` ticks is not reading, whatever it sends (`server is not reading`). Stevens exits
//! 0 on `server is unreachable`; this port exits 1, like the article's `error( 1, … )`.

use heartbeat::cli::{self, Kind, Spec};
use heartbeat::error::die;
use heartbeat::monitor::{Event, Heartbeat, Input, Link, Monitor, Reading, Sink, Writer};
use heartbeat::{net, oob};
use std::sync::Arc;

const SPEC: Spec = Spec::stevens(
    "hb_client_oob",
    "Out-of-band heartbeat client (seed 000's unfinished part; Stevens UNP 24.7): an urgent byte every --interval; copies stdin to the server.",
    Kind::Client,
);

fn main() {
    let a = cli::client(&SPEC);
    let servfd = Arc::new(net::tcp_client(&a.host, &a.port).unwrap_or_else(|e| die(Some(&e), "")));
    // The urgent byte queues behind the buffers: net::tcp_client has bounded them.
    let start = |e: std::io::Error| -> ! { die(Some(&e), "cannot start a thread") };

    let mut mon = Monitor::new(a.timing.alarm(), "server");
    let to_server = mon
        .writer(Sink::Socket(servfd.clone()))
        .unwrap_or_else(|e| start(e));
    let stdout = mon.writer(Sink::Stdout).unwrap_or_else(|e| start(e));
    let reading = Reading::Urgent {
        answer: None,
        data: stdout.clone(),
    };
    mon.watch(Link::Data, &servfd, reading)
        .unwrap_or_else(|e| start(e));
    mon.heartbeat(Heartbeat::Urgent(to_server.clone(), b'1')); // send( servfd, "1", 1, MSG_OOB )
    oob::copy_stdin(to_server.clone()).unwrap_or_else(|e| start(e));

    // A server that sends (even urgent bytes) but takes nothing of ours is making no
    // progress: as long as `probes` unanswered ticks, it is not reading.
    let stall = a.timing.interval * a.timing.probes;
    loop {
        match mon.next_event() {
            // sig_alrm: if ( ++nprobes > maxnprobes ) … ; send( servfd, "1", 1, MSG_OOB )
            Event::Probe(_) if to_server.stalled() >= Some(stall) => {
                let line = stalled("server is not reading", &to_server);
                die(None, &lost(&line, &to_server, &stdout))
            }
            Event::Probe(nprobes) => match mon.send_heartbeat() {
                Ok(true) => log::debug!("sending urgent byte ({nprobes} unanswered)"),
                Ok(false) => {}
                Err(e) => die(Some(&e), "send failure"),
            },
            Event::Dead => {
                let line = stalled("server is unreachable", &to_server);
                die(None, &lost(&line, &to_server, &stdout))
            }
            // str_cli: if ( stdineof == 1 ) return; — with the echo whole
            Event::Input(Input::Closed { .. })
                if to_server.half_closed() && stdout.written() == to_server.written() =>
            {
                heartbeat::error::exit(0)
            }
            Event::Input(Input::Closed { .. }) => {
                let line = net::naming_refusal(&servfd, "server terminated");
                die(None, &lost(&line, &to_server, &stdout))
            }
            Event::Input(Input::Failed {
                link: Link::Stdout,
                error,
                ..
            }) => match error.kind() {
                std::io::ErrorKind::BrokenPipe => heartbeat::error::output_gone(),
                _ => die(Some(&error), "stdout failure"),
            },
            Event::Input(Input::Failed { op, error, .. }) => {
                let line = heartbeat::error::failure_line(op.failure(), &error);
                let line = net::naming_refusal(&servfd, &line);
                die(None, &lost(&line, &to_server, &stdout))
            }
        }
    }
}

/// `line`, and how long the server has read nothing of what waits for it.
fn stalled(line: &str, to_server: &Writer) -> String {
    match to_server.stalled() {
        Some(t) => format!("{line}: it has read nothing for {:.3} s", t.as_secs_f64()),
        None => line.to_string(),
    }
}

/// `line`, and what of the data sent to the server did not come back to stdout.
fn lost(line: &str, to_server: &Writer, stdout: &Writer) -> String {
    let (sent, echoed) = (to_server.written(), stdout.written());
    match sent.saturating_sub(echoed) {
        0 => line.to_string(),
        n => format!("{line}; {n} of the {sent} bytes sent were not echoed"),
    }
}

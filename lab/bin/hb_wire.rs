//! `hb_wire IF_A IF_B` — the lab's wire (issue 11): copies every Ethernet frame between two
//! interfaces with `delay ± jitter`, `loss`, and a cut, like `tc netem` where the kernel has
//! no `sch_netem`. Commands on standard input: `cut`, `mend`, `flap SECONDS`, `delay MS [JITTER]`,
//! `loss PERCENT`, `stats`; at end of input it prints its counts (passed, lost, cut, dropped:
//! by its 1000-frame queues, by the kernel, by a refused send) and exits. See lab/src/wire.rs.

use heartbeat::error::{die, say};
use heartbeat_lab::wire::{self, packet::Raw, Settings};
use std::io::BufRead;
use std::sync::Arc;

fn usage() -> ! {
    eprintln!("usage: hb_wire [-t] IF_A IF_B   (commands on stdin: cut, mend, flap SECONDS, delay MS [JITTER_MS], loss PERCENT, stats)");
    std::process::exit(2)
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = args.remove(0);
    let stamps = args.first().is_some_and(|a| a == "-t");
    if stamps {
        args.remove(0);
    }
    heartbeat::error::init(&argv0, stamps);
    heartbeat::cli::init_logger();
    let [a, b] = <[String; 2]>::try_from(args).unwrap_or_else(|_| usage());
    let open = |name: &str| {
        Raw::open(name)
            .map(Arc::new)
            .unwrap_or_else(|e| die(Some(&e), &format!("cannot open {name}")))
    };
    let (ra, rb) = (open(&a), open(&b));
    let s = Arc::new(Settings::default());
    for (from, to, salt) in [(&ra, &rb, 1), (&rb, &ra, 2)] {
        let (from, to, s) = (Arc::clone(from), Arc::clone(to), Arc::clone(&s));
        std::thread::spawn(move || {
            let e = wire::carry(from, to, s, salt);
            die(Some(&e), "wire failed")
        });
    }
    say(&format!("{a} <-> {b}: {}", s.describe()));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        wire::count_kernel_drops(&s, &[&ra, &rb]);
        match s.command(&line) {
            Ok(what) => say(&format!("{}: {what}", line.trim())),
            Err(problem) => say(&problem),
        }
    }
    wire::count_kernel_drops(&s, &[&ra, &rb]);
    say(&format!("end of input: {}", s.describe()));
}

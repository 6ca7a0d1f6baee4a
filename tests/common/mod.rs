//! Shared test helpers: a reader that hands out data in awkward pieces, a small PRNG, and
//! running the built programs.
#![allow(dead_code)]

pub mod procs;

// Tests that cannot run on every system say why with `#[cfg_attr(…, ignore = "…")]`:
// off Unix, "needs Unix signals" (they hang a program with SIGSTOP or kill it); off Linux,
// "needs Linux: …" (/proc, network namespaces and iptables, or a Linux-only option).

use std::io::{self, Read};

mod rng;
pub use rng::Rng;

/// How a [`ChunkReader`] cuts its data.
#[derive(Clone, Copy, Debug)]
pub enum Chunks {
    /// Every read returns one byte.
    One,
    /// Reads return 1..=max bytes at random.
    Random { max: usize },
    /// Reads return as much as asked.
    Whole,
}

/// A reader over `data` that returns it in `chunks`, fails with `Interrupted` on about one
/// read in `interrupt_one_in` (0: never), and counts the read calls.
pub struct ChunkReader {
    data: Vec<u8>,
    pos: usize,
    chunks: Chunks,
    interrupt_one_in: usize,
    rng: Rng,
    pub reads: usize,
    pub interrupts: usize,
}

impl ChunkReader {
    pub fn new(data: Vec<u8>, chunks: Chunks, interrupt_one_in: usize, seed: u64) -> Self {
        ChunkReader {
            data,
            pos: 0,
            chunks,
            interrupt_one_in,
            rng: Rng::new(seed),
            reads: 0,
            interrupts: 0,
        }
    }
    pub fn remaining(&self) -> &[u8] {
        &self.data[self.pos..]
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.interrupt_one_in > 0 && self.rng.below(self.interrupt_one_in as u64) == 0 {
            self.interrupts += 1;
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let left = self.data.len() - self.pos;
        let n = match self.chunks {
            Chunks::One => 1,
            Chunks::Random { max } => 1 + self.rng.below(max as u64) as usize,
            Chunks::Whole => buf.len(),
        }
        .min(buf.len())
        .min(left);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Every way a test cuts a stream: 1-byte, small random, large random, whole; with and
/// without interrupts.
pub fn every_chunking() -> Vec<(Chunks, usize)> {
    let mut v = Vec::new();
    for c in [
        Chunks::One,
        Chunks::Random { max: 7 },
        Chunks::Random { max: 3000 },
        Chunks::Whole,
    ] {
        v.push((c, 0));
        v.push((c, 3));
    }
    v
}

/// Run the calling test again inside a private network namespace (`unshare -n`, or
/// `unshare -rn` for a user who is not root), on that namespace's own loopback, so it may
/// add iptables rules without touching the machine's network. Returns `true` in the copy
/// running inside (which goes on with the test), `false` in the outer one (which is done:
/// it has asserted that the inner copy passed). Where no namespace can be made, the test
/// is reported as skipped with the reason, and fails under CI (CI runs as root).
pub fn in_private_netns(test: &str) -> bool {
    use std::process::Command;
    if std::env::var_os("HB_IN_NETNS").is_some() {
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        assert!(
            up.is_ok_and(|s| s.success()),
            "ip link set lo up inside the namespace"
        );
        return true;
    }
    let missing: Vec<&str> = ["unshare", "ip", "iptables"]
        .into_iter()
        .filter(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    let exe = std::env::current_exe().expect("test executable");
    let run = |flags: &str| {
        Command::new("unshare")
            .args([flags, "--"])
            .arg(&exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env("HB_IN_NETNS", "1")
            .status()
    };
    let reason = if !missing.is_empty() {
        format!("missing {}", missing.join(", "))
    } else {
        #[cfg(unix)]
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        #[cfg(not(unix))]
        let root = false;
        let flags = if root { "-n" } else { "-rn" };
        match run(flags) {
            Ok(st) if st.success() => return false,
            Ok(st) if st.code() == Some(101) => panic!("{test} failed inside the namespace"),
            Ok(st) => format!("unshare {flags} failed ({st})"),
            Err(e) => format!("unshare: {e}"),
        }
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} could not run under CI: {reason}"
    );
    eprintln!("SKIPPED {test}: {reason}");
    false
}

/// `iptables ARGS` inside the namespace; panics if it fails.
pub fn iptables(args: &[&str]) {
    let st = std::process::Command::new("iptables")
        .args(args)
        .status()
        .expect("iptables");
    assert!(st.success(), "iptables {args:?}");
}

//! Figure 2: helper throughput over a socket pair (a writer thread feeding one end, the
//! helper reading the other): MB/s, lines/s and read calls per line. Beside them, a single
//! read_exact per record, and the article's buffered readline scheme in C.

use crate::common::{cc, Figure, Report};
use heartbeat::readn::{readline_unbuffered, readn, readvrec, LineReader};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Instant;

const REPEATS: usize = 5;

/// Counts read calls.
struct Counting<R>(R, usize);
impl<R: Read> Read for Counting<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.1 += 1;
        self.0.read(b)
    }
}

/// Feed `data` into a socket pair from a thread; return the reading end.
fn feed(data: std::sync::Arc<Vec<u8>>) -> UnixStream {
    let (mut w, r) = UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        let _ = w.write_all(&data);
    });
    r
}

fn lines(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("{i:08} the quick brown fox jumps over the lazy dog\n").into_bytes())
        .collect()
}

/// Run `f` REPEATS times on fresh feeds; return (MB/s samples, reads-per-unit of the last).
fn measure(
    data: &std::sync::Arc<Vec<u8>>,
    units: usize,
    mut f: impl FnMut(&mut Counting<UnixStream>),
) -> (Vec<f64>, Vec<f64>, f64) {
    let (mut mbs, mut per_s, mut reads) = (Vec::new(), Vec::new(), 0.0);
    for _ in 0..REPEATS {
        let mut r = Counting(feed(data.clone()), 0);
        let t = Instant::now();
        f(&mut r);
        let secs = t.elapsed().as_secs_f64();
        mbs.push(data.len() as f64 / secs / 1e6);
        per_s.push(units as f64 / secs);
        reads = r.1 as f64 / units as f64;
    }
    (mbs, per_s, reads)
}

pub fn run(r: &mut Report) {
    eprintln!("helpers: socket pair, {REPEATS} repeats");
    // Records: 2004-byte messages for readn, 2000-byte records for readvrec.
    let n = 20_000;
    let msgs = std::sync::Arc::new(vec![7u8; 2004 * n]);
    let (mut exact, _, _) = measure(&msgs, n, |r| {
        let mut b = [0u8; 2004];
        for _ in 0..n {
            r.read_exact(&mut b).unwrap();
        }
    });
    let fe = Figure::from(
        "helpers",
        "read_exact, 2004-byte records",
        "MB/s",
        &mut exact,
    );
    let base = fe.median;
    r.add(fe);
    let (mut v, _, reads) = measure(&msgs, n, |r| {
        let mut b = [0u8; 2004];
        for _ in 0..n {
            assert_eq!(readn(r, &mut b).unwrap(), 2004);
        }
    });
    let f = Figure::from("helpers", "readn, 2004-byte records", "MB/s", &mut v);
    let d = (f.median / base - 1.0) * 100.0;
    r.add(f.note(format!(
        "{d:+.1} % vs read_exact (target within 10 %); {reads:.2} reads/record"
    )));

    let rec: Vec<u8> = (0..n)
        .flat_map(|_| {
            let mut v = 2000u32.to_be_bytes().to_vec();
            v.extend_from_slice(&[9u8; 2000]);
            v
        })
        .collect();
    let rec = std::sync::Arc::new(rec);
    let (ex2, _, _) = measure(&rec, n, |r| {
        let mut b = [0u8; 2000];
        let mut l = [0u8; 4];
        for _ in 0..n {
            r.read_exact(&mut l).unwrap();
            r.read_exact(&mut b).unwrap();
        }
    });
    let base2 = Figure::from("helpers", "x", "", &mut ex2.clone()).median;
    let (mut v, _, reads) = measure(&rec, n, |r| {
        let mut b = [0u8; 2000];
        for _ in 0..n {
            assert_eq!(readvrec(r, &mut b).unwrap(), 2000);
        }
    });
    let f = Figure::from("helpers", "readvrec, 2000-byte records", "MB/s", &mut v);
    let d = (f.median / base2 - 1.0) * 100.0;
    r.add(f.note(format!(
        "{d:+.1} % vs two read_exact (target within 10 %); {reads:.2} reads/record"
    )));

    let nl = 400_000;
    let text = std::sync::Arc::new(lines(nl));
    let (mut mb, mut ls, reads) = measure(&text, nl, |r| {
        let mut lr = LineReader::new(r);
        let mut b = [0u8; 256];
        while lr.read_line(&mut b).unwrap() > 0 {}
    });
    let lf = Figure::from("helpers", "LineReader, 55-byte lines", "lines/s", &mut ls);
    let lr_med = lf.median;
    r.add(lf.note(format!("{reads:.3} reads/line")));
    r.add(Figure::from(
        "helpers",
        "LineReader, 55-byte lines",
        "MB/s",
        &mut mb,
    ));

    let small = 20_000;
    let text2 = std::sync::Arc::new(lines(small));
    let (mut mb, mut ls, reads) = measure(&text2, small, |r| {
        let mut b = [0u8; 256];
        while readline_unbuffered(r, &mut b).unwrap() > 0 {}
    });
    r.add(
        Figure::from(
            "helpers",
            "readline_unbuffered, 55-byte lines",
            "lines/s",
            &mut ls,
        )
        .note(format!("{reads:.1} reads/line")),
    );
    r.add(Figure::from(
        "helpers",
        "readline_unbuffered, 55-byte lines",
        "MB/s",
        &mut mb,
    ));

    // The article's buffered readline scheme, in C, on the same lines.
    if let Some(exe) = cc("readline_opt") {
        let mut c_ls = Vec::new();
        for _ in 0..REPEATS {
            let (mut w, rd) = UnixStream::pair().unwrap();
            let child = Command::new(&exe)
                .stdin(Stdio::from(std::os::fd::OwnedFd::from(rd)))
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let data = text.clone();
            let writer = std::thread::spawn(move || {
                let _ = w.write_all(&data);
            });
            let out = child.wait_with_output().unwrap();
            writer.join().unwrap();
            let s = String::from_utf8_lossy(&out.stdout);
            let mut it = s.split_whitespace();
            let (n, secs): (f64, f64) = (
                it.next().unwrap().parse().unwrap(),
                it.next().unwrap().parse().unwrap(),
            );
            assert_eq!(n as usize, nl);
            c_ls.push(n / secs);
        }
        let f = Figure::from(
            "helpers",
            "C optimized readline, 55-byte lines",
            "lines/s",
            &mut c_ls,
        );
        let d = (lr_med / f.median - 1.0) * 100.0;
        r.add(f.note(format!("LineReader {d:+.0} % (target >= 0)")));
    }
}

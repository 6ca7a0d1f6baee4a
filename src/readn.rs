//! `readn`, `readvrec` and both `readline` variants from seed 000's `readn.c`.
//!
//! TCP is a byte stream: one `send` of 2004 bytes may arrive as one `recv` of 2004, or of
//! 1448 and 556, or of 1 byte at a time. These helpers rebuild the application's units on
//! top of that stream:
//!
//! * [`readn`] loops until exactly `len` bytes are in (short only at EOF);
//! * [`readvrec`] reads a *variable record*: a 4-byte big-endian length, then that many bytes;
//! * [`LineReader`] (the C `OPTIMIZE_READLINE` variant) reads a `\n`-terminated line through
//!   a 1500-byte buffer, one `read` per buffer-full instead of per byte;
//! * [`readline_unbuffered`] is the plain variant, one `read` call per byte, kept so a student
//!   can measure what the buffer saves.
//!
//! They work on any [`Read`], not only sockets, so they are tested against readers that hand
//! out data one byte at a time and fail with `EINTR` at random.
//!
//! Fixes to the C (each listed in README "Departures from the C code"):
//! * the C `readn` calls `recv(…, MSG_DONTWAIT)` and `continue`s on `EAGAIN`: a 100 % CPU
//!   spin whenever the peer is slow. This one blocks.
//! * the C optimized `readline` keeps its buffer in `static`s, so two descriptors (or two
//!   threads) steal each other's bytes. Here the buffer belongs to one `LineReader`.
//! * the C `readvrec` discards an over-long record through the caller's buffer, exactly
//!   (`if ( reclen < len ) len = reclen;` trims the last piece), but with an empty buffer it
//!   loops for ever; here a small scratch buffer stands in, and a 4 GiB length costs no
//!   allocation either. The C returns 0 for EOF inside a record as for EOF between
//!   records; here EOF inside a record is `UnexpectedEof`, so a cut record is not mistaken
//!   for a clean end.
//! * `hb_server1`'s `readn` of the port could wait for ever; [`readn_until`] bounds it by
//!   one deadline.
//! * an over-long line (`EMSGSIZE` in C) is an error here too, but the rest of that line is
//!   skipped so the next call returns the next line rather than the tail of this one; and a
//!   last line cut by EOF is returned, not dropped as the C optimized variant drops it.

use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::time::Instant;

/// Read until `buf` is full or EOF; return the count (short only at EOF). `Interrupted` is
/// retried; the call blocks like `recv(…, 0)`, it never spins.
pub fn readn<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break, // EOF: return the short count
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// [`readn`] on a socket, all of it by `deadline`, however the bytes are cut: each `recv`
/// waits only for what is left of the time, in `poll` (an hrtimer, so the deadline holds
/// to the millisecond; a socket's `SO_RCVTIMEO` would round it up by as much as 1/8).
/// Returns the count, short only at EOF; `TimedOut` when the deadline passes first. This
/// is `hb_server1`'s `readn( sdata, ( char * )&peer.sin_port, sizeof( peer.sin_port ) )`,
/// which in C could wait for ever on a client that sends one byte.
///
/// ```
/// use heartbeat::readn::readn_until;
/// use std::io::Write;
/// use std::time::{Duration, Instant};
/// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
/// let (s, _) = l.accept().unwrap();
/// c.write_all(&[0x23]).unwrap(); // one byte of two
/// let mut port = [0u8; 2];
/// let by = Instant::now() + Duration::from_millis(100);
/// let e = readn_until(&s, &mut port, by).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// assert!(Instant::now() >= by);
/// ```
#[doc(alias = "readn")]
pub fn readn_until(s: &TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    use crate::sys::{ready, Events};
    let want = Events {
        read: true,
        ..Events::default()
    };
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let late = || {
            let msg = format!("{got} of {} bytes by the deadline", buf.len());
            io::Error::new(ErrorKind::TimedOut, msg)
        };
        if left.is_zero() || !ready(socket2::SockRef::from(s), want, Some(left))?.read {
            if Instant::now() >= deadline {
                return Err(late());
            }
            continue; // woken a moment early: wait the rest
        }
        match (&*s).read(&mut buf[got..]) {
            Ok(0) => break, // EOF: return the short count
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Read one variable record: a 4-byte big-endian length, then the record into `buf`.
///
/// * `Ok(0)`: EOF before (or inside) the length — the stream ended between records;
/// * `Ok(n)`: a record of `n` bytes is in `buf[..n]` (a zero-length record also gives
///   `Ok(0)`, as in C);
/// * `Err(UnexpectedEof)`: the stream ended inside a record;
/// * `Err(InvalidData)`: the record was longer than `buf`. It has been read and thrown away
///   in `buf`-sized pieces, so the stream stands at the next record.
pub fn readvrec<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = [0u8; 4];
    if readn(r, &mut len)? != len.len() {
        return Ok(0);
    }
    let reclen = u32::from_be_bytes(len) as u64;
    let room = buf.len();
    if reclen > room as u64 {
        // Discard the record in buffer-sized pieces, the last one only what is left (as the
        // C's `if ( reclen < len ) len = reclen;`). An empty buffer would make no progress
        // (the C spins there for ever): a small scratch buffer stands in for it.
        let mut scratch = [0u8; 512];
        let buf = if buf.is_empty() {
            &mut scratch[..]
        } else {
            buf
        };
        let mut left = reclen;
        while left > 0 {
            let piece = left.min(buf.len() as u64) as usize;
            let got = readn(r, &mut buf[..piece])?;
            if got < piece {
                return Err(eof_inside(reclen, reclen - left + got as u64));
            }
            left -= piece as u64;
        }
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("record of {reclen} bytes does not fit the {room}-byte buffer; discarded"),
        ));
    }
    let reclen = reclen as usize;
    let got = readn(r, &mut buf[..reclen])?;
    if got < reclen {
        return Err(eof_inside(reclen as u64, got as u64));
    }
    Ok(reclen)
}

fn eof_inside(reclen: u64, got: u64) -> io::Error {
    io::Error::new(
        ErrorKind::UnexpectedEof,
        format!("EOF after {got} of a {reclen}-byte record"),
    )
}

/// The error for a line that does not fit, like the C `EMSGSIZE`.
fn line_too_long(limit: usize) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        format!("Message too long: line longer than {limit} bytes; skipped"),
    )
}

/// Size of the read buffer, as the C `static char b[1500]` (one Ethernet MTU).
pub const LINE_BUFFER: usize = 1500;

/// The buffered `readline` (`OPTIMIZE_READLINE`), with its buffer owned by one reader.
///
/// ```
/// use heartbeat::readn::LineReader;
/// let mut lines = LineReader::new(&b"one\ntwo\n"[..]);
/// let mut buf = [0u8; 80];
/// let n = lines.read_line(&mut buf).unwrap();
/// assert_eq!(&buf[..n], b"one\n");
/// ```
#[doc(alias = "readline")]
pub struct LineReader<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
}

impl<R: Read> LineReader<R> {
    /// A reader with a [`LINE_BUFFER`]-byte buffer of its own.
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: vec![0; LINE_BUFFER].into_boxed_slice(),
            pos: 0,
            end: 0,
        }
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Refill the empty buffer with one `read`; `false` at EOF.
    fn refill(&mut self) -> io::Result<bool> {
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    (self.pos, self.end) = (0, n);
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Read one line, `\n` included, into `out`; return its length (0 at EOF). A last line
    /// cut by EOF is returned without its `\n`. A line longer than `out` is an error (the C
    /// `EMSGSIZE`); the rest of it is skipped so the stream goes on with the next line.
    ///
    /// Where the C copies a byte at a time, this looks for the `\n` in what the buffer holds
    /// and copies the run at once (`memchr` + `memcpy`): same result, fewer instructions.
    #[doc(alias = "readline")]
    pub fn read_line(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        let mut too_long = false;
        loop {
            if self.pos == self.end && !self.refill()? {
                break; // EOF: what we have is the (last, partial) line
            }
            let avail = &self.buf[self.pos..self.end];
            let (take, ends) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            if !too_long && n + take <= out.len() {
                out[n..n + take].copy_from_slice(&avail[..take]);
                n += take;
            } else {
                too_long = true;
            }
            self.pos += take;
            if ends {
                break;
            }
        }
        if too_long {
            return Err(line_too_long(out.len()));
        }
        Ok(n)
    }
}

/// The byte-at-a-time line loop of the unbuffered variant: store bytes until `\n`, EOF or
/// a full `out`; past a full `out`, skip to the end of the line and report it.
fn read_line_with(
    out: &mut [u8],
    mut next: impl FnMut() -> io::Result<Option<u8>>,
) -> io::Result<usize> {
    let mut n = 0;
    while let Some(c) = next()? {
        if n == out.len() {
            // Over the limit: skip to the end of this line, then report it.
            let mut c = c;
            while c != b'\n' {
                match next()? {
                    Some(b) => c = b,
                    None => break,
                }
            }
            return Err(line_too_long(out.len()));
        }
        out[n] = c;
        n += 1;
        if c == b'\n' {
            break;
        }
    }
    Ok(n)
}

/// The unoptimized `readline`: one `read` of one byte per character. Same results as
/// [`LineReader::read_line`]; it exists to show (and measure) the cost of a system call per
/// byte. It never reads past the `\n`, so it needs no buffer of its own.
#[doc(alias = "readline")]
pub fn readline_unbuffered<R: Read + ?Sized>(r: &mut R, out: &mut [u8]) -> io::Result<usize> {
    read_line_with(out, || {
        let mut c = [0u8; 1];
        loop {
            match r.read(&mut c) {
                Ok(0) => return Ok(None),
                Ok(_) => return Ok(Some(c[0])),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    })
}

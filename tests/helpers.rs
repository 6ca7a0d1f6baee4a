//! readn, readvrec, LineReader, readline_unbuffered against readers that cut the stream
//! every way TCP may: one byte at a time, random pieces, `EINTR` sprinkled in, and EOF at
//! every possible byte.

mod common;

use common::{every_chunking, ChunkReader, Chunks, Rng};
use heartbeat::readn::{readline_unbuffered, readn, readvrec, LineReader};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn record(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

#[test]
fn readn_fills_the_buffer_whatever_the_chunking() {
    let data = Rng::new(1).bytes(10_000);
    for (chunks, intr) in every_chunking() {
        let mut r = ChunkReader::new(data.clone(), chunks, intr, 7);
        let mut buf = vec![0u8; 10_000];
        assert_eq!(
            readn(&mut r, &mut buf).unwrap(),
            10_000,
            "{chunks:?} intr={intr}"
        );
        assert_eq!(buf, data);
    }
}

#[test]
fn readn_is_short_only_at_eof_at_every_cut() {
    let data = Rng::new(2).bytes(64);
    for cut in 0..=data.len() {
        let mut r = ChunkReader::new(
            data[..cut].to_vec(),
            Chunks::Random { max: 5 },
            4,
            cut as u64,
        );
        let mut buf = [0u8; 64];
        assert_eq!(readn(&mut r, &mut buf).unwrap(), cut);
        assert_eq!(&buf[..cut], &data[..cut]);
    }
}

#[test]
fn readn_passes_real_errors_through() {
    struct Reset;
    impl Read for Reset {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::from(ErrorKind::ConnectionReset))
        }
    }
    let err = readn(&mut Reset, &mut [0u8; 4]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
}

/// CPU time of this thread (Linux) or process (other Unix; the writer thread only sleeps).
#[cfg(unix)]
fn cpu_time() -> Duration {
    #[cfg(target_os = "linux")]
    let who = libc::RUSAGE_THREAD;
    #[cfg(not(target_os = "linux"))]
    let who = libc::RUSAGE_SELF;
    // SAFETY: rusage is plain data; getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(who, &mut ru) };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(ru.ru_utime) + micros(ru.ru_stime))
}

#[cfg(not(unix))]
fn cpu_time() -> Duration {
    unreachable!("ignored off Unix")
}

/// The C readn spins on EAGAIN (MSG_DONTWAIT) at 100 % CPU; this one must block.
#[test]
#[cfg_attr(not(unix), ignore = "needs getrusage")]
fn readn_blocks_without_spinning_while_the_peer_is_slow() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut w = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut r, _) = l.accept().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(b"ab").unwrap();
        std::thread::sleep(Duration::from_millis(400));
        w.write_all(b"cd").unwrap();
    });
    let cpu = cpu_time;
    let (t0, c0) = (Instant::now(), cpu());
    let mut buf = [0u8; 4];
    assert_eq!(readn(&mut r, &mut buf).unwrap(), 4);
    assert_eq!(&buf, b"abcd");
    assert!(t0.elapsed() >= Duration::from_millis(350));
    let used = cpu() - c0;
    assert!(
        used < Duration::from_millis(100),
        "readn used {used:?} of CPU while waiting"
    );
    writer.join().unwrap();
}

#[test]
fn readvrec_reads_records_whatever_the_chunking() {
    let mut rng = Rng::new(3);
    let payloads: Vec<Vec<u8>> = (0..40).map(|i| rng.bytes(i * 37 % 500)).collect();
    let stream: Vec<u8> = payloads.iter().flat_map(|p| record(p)).collect();
    for (chunks, intr) in every_chunking() {
        let mut r = ChunkReader::new(stream.clone(), chunks, intr, 11);
        let mut buf = [0u8; 512];
        for p in &payloads {
            let n = readvrec(&mut r, &mut buf).unwrap();
            assert_eq!(&buf[..n], &p[..], "{chunks:?}");
        }
        assert_eq!(
            readvrec(&mut r, &mut buf).unwrap(),
            0,
            "EOF between records is Ok(0)"
        );
    }
}

#[test]
fn readvrec_eof_at_every_byte() {
    let stream = record(b"hello, heartbeat");
    for cut in 0..stream.len() {
        let mut r = ChunkReader::new(stream[..cut].to_vec(), Chunks::One, 3, cut as u64);
        let got = readvrec(&mut r, &mut [0u8; 64]);
        if cut < 4 {
            assert_eq!(got.unwrap(), 0, "EOF in the length (cut {cut}) is Ok(0)");
        } else {
            assert_eq!(
                got.unwrap_err().kind(),
                ErrorKind::UnexpectedEof,
                "EOF in the record (cut {cut})"
            );
        }
    }
}

/// The C discard loop reads `len` bytes each time, eating into the next record when the
/// oversize record is not a multiple of the buffer; the port reads exactly the record.
#[test]
fn readvrec_oversize_record_is_skipped_and_the_next_is_intact() {
    let big = Rng::new(4).bytes(1001); // 1001 = 62 × 16 + 9: not a multiple of 16
    let mut stream = record(&big);
    stream.extend(record(b"next record"));
    for (chunks, intr) in every_chunking() {
        let mut r = ChunkReader::new(stream.clone(), chunks, intr, 5);
        let mut buf = [0u8; 16];
        let err = readvrec(&mut r, &mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        let text = err.to_string();
        assert!(
            text.contains("1001") && text.contains("16"),
            "error names both sizes: {text}"
        );
        let n = readvrec(&mut r, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"next record");
    }
}

#[test]
fn readvrec_skips_a_4_gib_record_without_allocating_it() {
    let len = u32::MAX as u64; // 4 GiB - 1 bytes announced
    let head = io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
    let body = io::repeat(0xAB).take(len);
    let tail = io::Cursor::new(record(b"after the flood"));
    let mut r = head.chain(body).chain(tail);
    let mut buf = vec![0u8; 1 << 20];
    let err = readvrec(&mut r, &mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(err.to_string().contains("4294967295"));
    let n = readvrec(&mut r, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"after the flood");
}

#[test]
fn readvrec_4_gib_length_then_eof_fails_fast() {
    let mut r = io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
    let t = Instant::now();
    let err = readvrec(&mut r, &mut [0u8; 64]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    assert!(t.elapsed() < Duration::from_secs(1));
}

fn lines_of(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let mut l: Vec<u8> = (0..rng.below(120) as usize)
                .map(|_| b' ' + (rng.next() % 90) as u8)
                .collect();
            l.push(b'\n');
            l
        })
        .collect()
}

#[test]
fn line_reader_returns_each_line_whatever_the_chunking() {
    let lines = lines_of(&mut Rng::new(6), 300);
    let stream: Vec<u8> = lines.concat();
    for (chunks, intr) in every_chunking() {
        let mut r = LineReader::new(ChunkReader::new(stream.clone(), chunks, intr, 9));
        let mut buf = [0u8; 128];
        for l in &lines {
            let n = r.read_line(&mut buf).unwrap();
            assert_eq!(&buf[..n], &l[..], "{chunks:?}");
        }
        assert_eq!(r.read_line(&mut buf).unwrap(), 0);
    }
}

#[test]
fn line_reader_eof_at_every_byte_keeps_the_partial_last_line() {
    let stream = b"first line\nsecond\n".to_vec();
    for cut in 0..=stream.len() {
        let mut r = LineReader::new(ChunkReader::new(
            stream[..cut].to_vec(),
            Chunks::One,
            4,
            cut as u64,
        ));
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = r.read_line(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, &stream[..cut], "cut {cut}");
    }
}

#[test]
fn line_reader_skips_an_over_long_line_then_reads_the_next() {
    let mut stream = vec![b'x'; 5000];
    stream.extend_from_slice(b"\nshort line\n");
    for (chunks, intr) in every_chunking() {
        let mut r = LineReader::new(ChunkReader::new(stream.clone(), chunks, intr, 2));
        let mut buf = [0u8; 100];
        let err = r.read_line(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("Message too long"), "{err}");
        let n = r.read_line(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"short line\n");
    }
}

#[test]
fn line_reader_reads_a_buffer_at_a_time() {
    let stream = b"0123456789\n".repeat(100); // 1100 bytes, under one 1500-byte buffer
    let mut r = LineReader::new(ChunkReader::new(stream, Chunks::Whole, 0, 0));
    let mut buf = [0u8; 64];
    for _ in 0..100 {
        assert_eq!(r.read_line(&mut buf).unwrap(), 11);
    }
    assert_eq!(r.read_line(&mut buf).unwrap(), 0);
    assert_eq!(r.get_ref().reads, 2, "one read for 100 lines, one for EOF");
}

/// The C buffer is `static`: two descriptors read through it steal each other's bytes.
/// Each LineReader owns its buffer.
#[test]
fn line_readers_on_two_streams_do_not_share_a_buffer() {
    let mut a = LineReader::new(ChunkReader::new(
        b"a1\na2\na3\n".to_vec(),
        Chunks::Whole,
        0,
        0,
    ));
    let mut b = LineReader::new(ChunkReader::new(
        b"b1\nb2\nb3\n".to_vec(),
        Chunks::Whole,
        0,
        0,
    ));
    let mut buf = [0u8; 16];
    for i in 1..=3 {
        let n = a.read_line(&mut buf).unwrap();
        assert_eq!(&buf[..n], format!("a{i}\n").as_bytes());
        let n = b.read_line(&mut buf).unwrap();
        assert_eq!(&buf[..n], format!("b{i}\n").as_bytes());
    }
}

#[test]
fn readline_unbuffered_gives_the_same_lines_one_read_per_byte() {
    let lines = lines_of(&mut Rng::new(8), 50);
    let stream: Vec<u8> = lines.concat();
    let mut r = ChunkReader::new(stream.clone(), Chunks::Whole, 0, 0);
    let mut buf = [0u8; 128];
    for l in &lines {
        let n = readline_unbuffered(&mut r, &mut buf).unwrap();
        assert_eq!(&buf[..n], &l[..]);
    }
    assert_eq!(readline_unbuffered(&mut r, &mut buf).unwrap(), 0);
    assert_eq!(r.reads, stream.len() + 1, "one read per byte, plus the EOF");
}

#[test]
fn readline_unbuffered_with_interrupts_and_long_lines() {
    let mut stream = vec![b'y'; 300];
    stream.extend_from_slice(b"\nok\nlast");
    let mut r = ChunkReader::new(stream, Chunks::One, 3, 1);
    let mut buf = [0u8; 50];
    assert_eq!(
        readline_unbuffered(&mut r, &mut buf).unwrap_err().kind(),
        ErrorKind::InvalidData
    );
    let n = readline_unbuffered(&mut r, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok\n");
    let n = readline_unbuffered(&mut r, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"last", "a last line cut by EOF is returned");
    assert_eq!(readline_unbuffered(&mut r, &mut buf).unwrap(), 0);
    assert!(r.interrupts > 0);
}

#[test]
fn a_line_exactly_the_limit_fits() {
    let mut r = LineReader::new(&b"abc\nabcd\n"[..]);
    let mut buf = [0u8; 4];
    assert_eq!(r.read_line(&mut buf).unwrap(), 4);
    assert!(
        r.read_line(&mut buf).is_err(),
        "5 bytes with the newline do not fit 4"
    );
    assert_eq!(r.read_line(&mut buf).unwrap(), 0);
}

/// With an empty buffer the C `readvrec`'s discard loop reads 0 bytes for ever; the port
/// discards the record and the next one is intact.
#[test]
fn readvrec_with_an_empty_buffer_discards_and_goes_on() {
    let mut data = record(&[7u8; 3]);
    data.extend(record(b"next"));
    let mut r = ChunkReader::new(data, Chunks::Whole, 0, 1);
    let e = readvrec(&mut r, &mut []).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("the 0-byte buffer"), "{e}");
    let mut buf = [0u8; 8];
    assert_eq!(readvrec(&mut r, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"next");
}

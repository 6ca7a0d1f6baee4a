//! LineReader and readline_unbuffered over arbitrary bytes and chunking, against a model:
//! lines up to the limit come back whole with their newline, longer ones are an error and
//! skipped, a last line cut by EOF is returned; both variants agree.
#![no_main]
use heartbeat::readn::{readline_unbuffered, LineReader};
use libfuzzer_sys::fuzz_target;

#[path = "chunked.rs"]
mod chunked;

/// What each call should give: Ok(line) or Err(()) for an over-long line.
fn model(stream: &[u8], limit: usize) -> Vec<Result<Vec<u8>, ()>> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        out.push(if line.len() > limit {
            Err(())
        } else {
            Ok(line.to_vec())
        });
        rest = &rest[end..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (schedule, limit, stream) = chunked::split(data);
    let expected = model(stream, limit);
    let mut buffered = LineReader::new(chunked::Chunked {
        stream,
        pos: 0,
        schedule: schedule.clone(),
        step: 0,
        interrupted: false,
    });
    let mut plain = chunked::Chunked {
        stream,
        pos: 0,
        schedule,
        step: 0,
        interrupted: false,
    };
    let mut buf = vec![0u8; limit];
    let mut buf2 = vec![0u8; limit];
    for want in &expected {
        let a = buffered
            .read_line(&mut buf)
            .map(|n| buf[..n].to_vec())
            .map_err(|_| ());
        let b = readline_unbuffered(&mut plain, &mut buf2)
            .map(|n| buf2[..n].to_vec())
            .map_err(|_| ());
        assert_eq!(&a, want);
        assert_eq!(&b, want);
    }
    assert_eq!(buffered.read_line(&mut buf).unwrap(), 0);
    assert_eq!(readline_unbuffered(&mut plain, &mut buf2).unwrap(), 0);
});

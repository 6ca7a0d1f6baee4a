//! readvrec over arbitrary bytes and arbitrary read chunking, checked against a model that
//! parses the whole stream at once: every record is returned intact, an oversize record is
//! skipped exactly (the next one intact), EOF inside a record is UnexpectedEof.
#![no_main]
use heartbeat::readn::readvrec;
use libfuzzer_sys::fuzz_target;
use std::io::ErrorKind;

#[path = "chunked.rs"]
mod chunked;

fuzz_target!(|data: &[u8]| {
    let (schedule, limit, stream) = chunked::split(data);
    let mut r = chunked::Chunked {
        stream,
        pos: 0,
        schedule,
        step: 0,
        interrupted: false,
    };
    let mut buf = vec![0u8; limit];
    let mut at = 0usize; // the model's position in `stream`
    for _ in 0..10_000 {
        let got = readvrec(&mut r, &mut buf);
        if stream.len() - at < 4 {
            assert_eq!(got.unwrap(), 0, "EOF before a whole length");
            return;
        }
        let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
        let body = at + 4;
        if stream.len() - body < len {
            // EOF inside the record, oversize or not.
            assert_eq!(got.unwrap_err().kind(), ErrorKind::UnexpectedEof);
            return;
        }
        if len > limit {
            assert_eq!(got.unwrap_err().kind(), ErrorKind::InvalidData);
        } else {
            let n = got.unwrap();
            assert_eq!(&buf[..n], &stream[body..body + len]);
        }
        at = body + len;
        assert_eq!(r.pos, at, "the stream stands exactly at the next record");
    }
});

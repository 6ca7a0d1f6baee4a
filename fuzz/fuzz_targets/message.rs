//! msg_t decoding over arbitrary bytes and arbitrary read chunking: the servers'
//! MessageAssembler, fed the stream in the pieces TCP might deliver, yields exactly the
//! messages of each 2004-byte slice, each decoding and re-encoding to the same bytes, and
//! the bytes of an unfinished message are reported as pending.
#![no_main]
use heartbeat::message::{Message, MSG_LEN};
use heartbeat::reader::MessageAssembler;
use libfuzzer_sys::fuzz_target;
use std::io::Read;

#[path = "chunked.rs"]
mod chunked;

fuzz_target!(|data: &[u8]| {
    let (schedule, _, stream) = chunked::split(data);
    let mut r = chunked::Chunked {
        stream,
        pos: 0,
        schedule,
        step: 0,
        interrupted: false,
    };
    let mut asm = MessageAssembler::new();
    let mut got = Vec::new();
    loop {
        match r.read(asm.space()) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(m) = asm.filled(n) {
                    got.push(m);
                }
            }
            Err(_) => continue, // EINTR
        }
    }
    let whole: Vec<&[u8]> = stream.chunks_exact(MSG_LEN).collect();
    assert_eq!(got.len(), whole.len());
    for (m, wire) in got.iter().zip(whole) {
        assert_eq!(&m.encode()[..], wire);
        assert_eq!(Message::from_slice(wire).as_ref(), Some(m));
    }
    assert_eq!(asm.pending(), stream.len() % MSG_LEN);
});

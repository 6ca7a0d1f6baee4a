//! Shared by the targets: split a fuzz input into a read schedule and a stream, and a
//! reader that follows the schedule (chunk sizes, with 0 meaning "fail with EINTR").

use std::io::{self, Read};

/// Input layout: `[n][n schedule bytes][limit byte][stream…]`.
pub fn split(data: &[u8]) -> (Vec<u8>, usize, &[u8]) {
    let n = *data.first().unwrap_or(&0) as usize % 32;
    let schedule = data.get(1..1 + n).unwrap_or(&[]).to_vec();
    let limit = *data.get(1 + n).unwrap_or(&64) as usize + 1;
    let stream = data.get(2 + n..).unwrap_or(&[]);
    (schedule, limit, stream)
}

/// Hands out `stream` in the pieces `schedule` says, cycling; 0 is an `Interrupted` error.
pub struct Chunked<'a> {
    pub stream: &'a [u8],
    pub pos: usize,
    pub schedule: Vec<u8>,
    pub step: usize,
    /// The last read was an interrupt: the next one makes progress (a reader that is
    /// interrupted for ever would rightly keep `readn` retrying for ever).
    pub interrupted: bool,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = if self.schedule.is_empty() {
            buf.len()
        } else {
            self.schedule[self.step % self.schedule.len()] as usize
        };
        self.step += 1;
        if want == 0 && !buf.is_empty() && !self.interrupted {
            self.interrupted = true;
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        self.interrupted = false;
        let want = want.max(1);
        let n = want.min(buf.len()).min(self.stream.len() - self.pos);
        buf[..n].copy_from_slice(&self.stream[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

//! xorshift64*: deterministic, seedable, no dependency. Shared by the tests (`mod common`)
//! and `make soak` (benches/soak.rs takes this file by `#[path]`).
#![allow(dead_code)]

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in `lo..hi` seconds.
    pub fn secs(&mut self, lo: f64, hi: f64) -> std::time::Duration {
        let f = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        std::time::Duration::from_secs_f64(lo + (hi - lo) * f)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// lo..lo + spread random bytes (a random length).
    pub fn some_bytes(&mut self, lo: usize, spread: usize) -> Vec<u8> {
        let n = lo + self.below(spread as u64) as usize;
        self.bytes(n)
    }
}

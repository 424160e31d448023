//! SplitMix64: the demo world's only source of variation. Small, fast and
//! fully determined by its seed, so a seed and a script of actions always
//! replay to the same world (no crate, no system entropy).

#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi]` (inclusive); `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform in `[lo, hi)`.
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// `n` lowercase hex digits, as in Kubernetes pod-template hashes.
    pub fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from_digit((self.next_u64() % 16) as u32, 16).unwrap_or('0')).collect()
    }

    /// A UUID-shaped string, as Kafka appends to member ids.
    pub fn uuid(&mut self) -> String {
        format!("{}-{}-4{}-a{}-{}", self.hex(8), self.hex(4), self.hex(3), self.hex(3), self.hex(12))
    }

    /// A pod IP in `10.<net>.x.y`: DC pods live in 10.20/16, DR in 10.30/16.
    pub fn ip(&mut self, net: u8) -> String {
        format!("10.{net}.{}.{}", self.range(1, 12), self.range(2, 250))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn ranges_stay_inside() {
        let mut r = SplitMix64::new(1);
        for _ in 0..1000 {
            let v = r.range(3, 10);
            assert!((3..=10).contains(&v));
            let f = r.between(0.9, 1.1);
            assert!((0.9..1.1).contains(&f));
        }
        assert_eq!(r.range(5, 5), 5);
        assert_eq!(r.range(5, 2), 5);
    }
}

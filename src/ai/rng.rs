//! A random generator that draws exactly what `torch.Generator("cpu").manual_seed(n)` draws, so a seed from
//! diffusers (or a ComfyUI "CPU noise" workflow) gives the same noise here, draw for draw.
//!
//! PyTorch's CPU generator is a 32-bit Mersenne Twister seeded with the low 32 bits of the seed. `randn` on a
//! contiguous float tensor of 16 or more values fills it with uniforms and turns them into normals in blocks of
//! 16 by Box–Muller (`normal_fill` in ATen); smaller tensors draw doubles one at a time and cache the second
//! Box–Muller value (`normal_distribution<double>`). Both paths, and the cache, are reproduced here.

const N: usize = 624;
const M: usize = 397;

/// `torch.Generator("cpu")` after `manual_seed(seed)`.
#[derive(Clone)]
pub struct TorchRng {
    state: [u32; N],
    index: usize,
    /// The spare Box–Muller sample of the scalar path (ATen's `next_double_normal_sample`).
    next_double_normal: Option<f64>,
}

impl TorchRng {
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; N];
        state[0] = seed as u32;
        for j in 1..N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(j as u32);
        }
        TorchRng { state, index: N, next_double_normal: None }
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for i in 0..N {
            let y = (self.state[i] & UPPER) | (self.state[(i + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.state[i] = self.state[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// One 32-bit draw (`engine_()`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random64()`: the first 32-bit draw is the high half.
    pub fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        let lo = self.next_u32() as u64;
        (hi << 32) | lo
    }

    /// `uniform_real_distribution<float>(0, 1)`: 24 random bits.
    fn uniform_f32(&mut self) -> f32 {
        (self.next_u32() & ((1 << 24) - 1)) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// `uniform_real_distribution<double>(0, 1)`: 53 random bits.
    fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() & ((1u64 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `normal_distribution<double>` with its cached second sample.
    fn normal_f64(&mut self) -> f64 {
        if let Some(v) = self.next_double_normal.take() {
            return v;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.next_double_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// `torch.randn(n, generator=g, dtype=torch.float32)`, flattened in row-major order.
    pub fn randn_f32(&mut self, n: usize) -> Vec<f32> {
        self.randn(n, Self::uniform_f32, box_muller_16_f32, |v| v as f32)
    }

    /// `torch.randn(n, generator=g, dtype=torch.float64)`.
    pub fn randn_f64(&mut self, n: usize) -> Vec<f64> {
        self.randn(n, Self::uniform_f64, box_muller_16_f64, |v| v)
    }

    /// ATen's `normal_kernel`: the scalar path below 16 values, else uniforms turned into normals 16 at a time,
    /// the last (partial) block redrawn and recomputed as a whole.
    fn randn<T: Copy>(
        &mut self,
        n: usize,
        uniform: fn(&mut Self) -> T,
        box_muller_16: fn(&mut [T]),
        from_f64: fn(f64) -> T,
    ) -> Vec<T> {
        if n < 16 {
            return (0..n).map(|_| from_f64(self.normal_f64())).collect();
        }
        let mut data: Vec<T> = (0..n).map(|_| uniform(self)).collect();
        for start in (0..n - 15).step_by(16) {
            box_muller_16(&mut data[start..start + 16]);
        }
        if !n.is_multiple_of(16) {
            let tail = &mut data[n - 16..];
            for v in tail.iter_mut() {
                *v = uniform(self);
            }
            box_muller_16(tail);
        }
        data
    }
}

/// ATen's `normal_fill_16_AVX2` (what x86-64 PyTorch runs): the first eight uniforms give radii, the last eight
/// angles, with the angle computed in float32 (`2π` rounded to float times `u2`).
fn box_muller_16_f32(data: &mut [f32]) {
    const TWO_PI: f32 = 2.0 * std::f32::consts::PI;
    for j in 0..8 {
        let u1 = 1.0 - data[j];
        let u2 = data[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        let theta = TWO_PI * u2;
        data[j] = radius * theta.cos();
        data[j + 8] = radius * theta.sin();
    }
}

fn box_muller_16_f64(data: &mut [f64]) {
    for j in 0..8 {
        let u1 = 1.0 - data[j];
        let u2 = data[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        data[j] = radius * theta.cos();
        data[j + 8] = radius * theta.sin();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mersenne_twister_matches_the_reference_sequence() {
        // std::mt19937 seeded with 5489 (the C++ default): the 10000th output is 4123659995 (C++ standard).
        let mut rng = TorchRng::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = rng.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn only_the_low_32_bits_of_the_seed_count() {
        let a = TorchRng::new(1).randn_f32(20);
        let b = TorchRng::new((1u64 << 32) + 1).randn_f32(20);
        assert_eq!(a, b);
    }
}

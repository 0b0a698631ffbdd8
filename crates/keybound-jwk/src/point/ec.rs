//! Short Weierstrass points of the NIST curves (y² = x³ − 3x + b over GF(p); SEC 2 §2.4.2,
//! §2.5.1, §2.6.1): coordinates below p and the curve equation, in Montgomery arithmetic.
//!
//! One implementation for N 64-bit limbs serves P-256 (4), P-384 (6) and P-521 (9). Only p and
//! b are written down (as SEC 2 prints them); the Montgomery constants are derived from them
//! at compile time. Variable time: a public key is public.

use super::PointFault;

/// A prime field with its Montgomery constants (R = 2^(64·N)) and a curve's `b`.
pub(crate) struct Curve<const N: usize> {
    /// p, little-endian limbs.
    p: [u64; N],
    /// −p⁻¹ mod 2^64.
    n0: u64,
    /// R² mod p: `mul(a, r2)` is a·R, a's Montgomery form.
    r2: [u64; N],
    /// b·R⁻¹ mod p: b at the scale of a product of two plain values.
    b_r_inv: [u64; N],
}

/// P-256 (SEC 2 §2.4.2): p = 2^256 − 2^224 + 2^192 + 2^96 − 1.
pub(crate) const P256: Curve<4> = Curve::new(P256_P, P256_B);
const P256_P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
const P256_B: &str = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";

/// P-384 (SEC 2 §2.5.1): p = 2^384 − 2^128 − 2^96 + 2^32 − 1.
pub(crate) const P384: Curve<6> = Curve::new(P384_P, P384_B);
const P384_P: &str = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe\
                      ffffffff0000000000000000ffffffff";
const P384_B: &str = "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875a\
                      c656398d8a2ed19d2a85c8edd3ec2aef";

/// P-521 (SEC 2 §2.6.1): p = 2^521 − 1.
pub(crate) const P521: Curve<9> = Curve::new(P521_P, P521_B);
const P521_P: &str = "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
                      ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const P521_B: &str = "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef1\
                      09e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00";

impl<const N: usize> Curve<N> {
    /// Derives the constants from p and b, given as big-endian hex (evaluated at compile time).
    const fn new(p_hex: &str, b_hex: &str) -> Self {
        let p = const_limbs::<N>(p_hex);
        let b = const_limbs::<N>(b_hex);
        // Newton's iteration for p0⁻¹ mod 2^64: each step doubles the correct low bits
        // (1 → 2 → … → 64), starting from p0·1 ≡ 1 mod 2 (p is odd).
        let mut inv: u64 = 1;
        let mut i = 0;
        while i < 6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(p[0].wrapping_mul(inv)));
            i += 1;
        }
        let mut one = [0u64; N];
        one[0] = 1;
        let r = const_shl_mod(one, 64 * N, &p);
        Self {
            p,
            n0: inv.wrapping_neg(),
            r2: const_shl_mod(r, 64 * N, &p),
            b_r_inv: const_shr_mod(b, 64 * N, &p),
        }
    }

    /// Checks big-endian coordinates `x` and `y` (each at most 8·N bytes): both below p
    /// (SEC 1 §3.2.2.1 step 2), and y² = x³ − 3x + b (step 3).
    pub(crate) fn check(&self, x: &[u8], y: &[u8]) -> Result<(), (&'static str, PointFault)> {
        let x = self.reduced(x).ok_or(("x", PointFault::NotReduced))?;
        let y = self.reduced(y).ok_or(("y", PointFault::NotReduced))?;
        // Four multiplications: (x·R)·x·R⁻¹ = x², then (x² − 3)·x·R⁻¹ + b·R⁻¹ against y·y·R⁻¹
        // (both sides of y² = x³ − 3x + b times R⁻¹).
        let x2 = self.mul(&self.mul(&x, &self.r2), &x);
        let mut three = [0u64; N];
        if let Some(t0) = three.first_mut() {
            *t0 = 3;
        }
        let rhs = self.add(&self.mul(&self.sub(&x2, &three), &x), &self.b_r_inv);
        if self.mul(&y, &y) == rhs {
            Ok(())
        } else {
            Err(("y", PointFault::NotOnCurve))
        }
    }

    /// The big-endian integer `be` as limbs, when it is below p.
    fn reduced(&self, be: &[u8]) -> Option<[u64; N]> {
        if be.len() > 8 * N {
            return None;
        }
        let mut out = [0u64; N];
        for (limb, chunk) in out.iter_mut().zip(be.rchunks(8)) {
            *limb = match <[u8; 8]>::try_from(chunk) {
                Ok(word) => u64::from_be_bytes(word),
                // The short most significant chunk (P-521's 66 bytes).
                Err(_) => chunk
                    .iter()
                    .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte)),
            };
        }
        lt(&out, &self.p).then_some(out)
    }

    /// a·b·R⁻¹ mod p for a, b < p (Montgomery multiplication, coarsely integrated operand
    /// scanning: one limb of b at a time, each followed by one limb of reduction).
    pub(crate) fn mul(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let mut t = [0u64; N];
        // t + hi·2^(64·N) stays below 2p between rounds, so `hi` is 0 or 1.
        let mut hi = 0u64;
        let Some((&p0, p_rest)) = self.p.split_first() else {
            return t;
        };
        for &bi in b {
            let mut carry = 0u64;
            for (tj, &aj) in t.iter_mut().zip(a) {
                let s = u128::from(*tj) + u128::from(aj) * u128::from(bi) + u128::from(carry);
                *tj = s as u64;
                carry = (s >> 64) as u64;
            }
            let (sum, over) = hi.overflowing_add(carry);
            // Add m·p, with m chosen so the lowest limb becomes 0, and drop that limb: each
            // limb's sum lands one limb lower.
            let Some((t0, t_rest)) = t.split_first_mut() else {
                return t;
            };
            let m = t0.wrapping_mul(self.n0);
            let s = u128::from(*t0) + u128::from(m) * u128::from(p0);
            let mut carry = (s >> 64) as u64;
            let mut below = t0;
            for (tj, &pj) in t_rest.iter_mut().zip(p_rest) {
                let s = u128::from(*tj) + u128::from(m) * u128::from(pj) + u128::from(carry);
                *below = s as u64;
                carry = (s >> 64) as u64;
                below = tj;
            }
            let s = u128::from(sum) + u128::from(carry);
            *below = s as u64;
            hi = u64::from(over) + (s >> 64) as u64;
        }
        if hi != 0 || !lt(&t, &self.p) {
            sub_in_place(&mut t, &self.p);
        }
        t
    }

    /// a + b mod p for a, b < p.
    fn add(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let mut t = *a;
        let mut carry = false;
        for (tj, &bj) in t.iter_mut().zip(b) {
            let (s1, c1) = tj.overflowing_add(bj);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            *tj = s2;
            carry = c1 || c2;
        }
        if carry || !lt(&t, &self.p) {
            sub_in_place(&mut t, &self.p);
        }
        t
    }

    /// a − b mod p for a, b < p.
    fn sub(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let mut t = *a;
        if sub_in_place(&mut t, b) {
            // Went below zero: add p back (the carry out cancels the borrow).
            let mut carry = false;
            for (tj, &pj) in t.iter_mut().zip(&self.p) {
                let (s1, c1) = tj.overflowing_add(pj);
                let (s2, c2) = s1.overflowing_add(u64::from(carry));
                *tj = s2;
                carry = c1 || c2;
            }
        }
        t
    }
}

/// Whether a < b, both little-endian limbs.
fn lt<const N: usize>(a: &[u64; N], b: &[u64; N]) -> bool {
    a.iter().rev().cmp(b.iter().rev()).is_lt()
}

/// t −= b (wrapping); returns the borrow out.
fn sub_in_place<const N: usize>(t: &mut [u64; N], b: &[u64; N]) -> bool {
    let mut borrow = false;
    for (tj, &bj) in t.iter_mut().zip(b) {
        let (d1, b1) = tj.overflowing_sub(bj);
        let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
        *tj = d2;
        borrow = b1 || b2;
    }
    borrow
}

/// Big-endian hex (at most 16·N digits) as little-endian limbs, at compile time.
#[expect(
    clippy::indexing_slicing,
    clippy::panic,
    reason = "const-evaluated on literals: a bad digit or an index out of range fails the build"
)]
const fn const_limbs<const N: usize>(hex: &str) -> [u64; N] {
    let s = hex.as_bytes();
    assert!(s.len() <= 16 * N, "constant too long for the limbs");
    let mut out = [0u64; N];
    let mut i = 0;
    while i < s.len() {
        // Digit i from the end sits at bit 4·i.
        let c = s[s.len() - 1 - i];
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        };
        out[i / 16] |= (v as u64) << (4 * (i % 16));
        i += 1;
    }
    out
}

/// a·2^k mod p for a < p, by k modular doublings, at compile time.
#[expect(
    clippy::indexing_slicing,
    reason = "const-evaluated: an index out of range fails the build"
)]
const fn const_shl_mod<const N: usize>(mut a: [u64; N], k: usize, p: &[u64; N]) -> [u64; N] {
    let mut round = 0;
    while round < k {
        // a = 2a, with the bit shifted out of the top limb kept in `over`.
        let mut over = 0u64;
        let mut j = 0;
        while j < N {
            let next = a[j] >> 63;
            a[j] = (a[j] << 1) | over;
            over = next;
            j += 1;
        }
        // Subtract p when 2a ≥ p (2a < 2p, so once is enough).
        let mut ge = over != 0;
        if !ge {
            ge = true; // equal counts as ≥
            let mut j = N;
            while j > 0 {
                j -= 1;
                if a[j] != p[j] {
                    ge = a[j] > p[j];
                    break;
                }
            }
        }
        if ge {
            let mut borrow = 0u64;
            let mut j = 0;
            while j < N {
                let (d1, b1) = a[j].overflowing_sub(p[j]);
                let (d2, b2) = d1.overflowing_sub(borrow);
                a[j] = d2;
                borrow = (b1 || b2) as u64;
                j += 1;
            }
        }
        round += 1;
    }
    a
}

/// a·2^(−k) mod p for a < p, by k modular halvings (a odd: (a + p)/2), at compile time.
#[expect(
    clippy::indexing_slicing,
    reason = "const-evaluated: an index out of range fails the build"
)]
const fn const_shr_mod<const N: usize>(mut a: [u64; N], k: usize, p: &[u64; N]) -> [u64; N] {
    let mut round = 0;
    while round < k {
        // a + p when a is odd (p is odd, so the sum is even), with the carry out in `top`.
        let mut top = 0u64;
        if a[0] & 1 == 1 {
            let mut carry = 0u64;
            let mut j = 0;
            while j < N {
                let (s1, c1) = a[j].overflowing_add(p[j]);
                let (s2, c2) = s1.overflowing_add(carry);
                a[j] = s2;
                carry = (c1 || c2) as u64;
                j += 1;
            }
            top = carry;
        }
        // Shift right by one, the carry entering at the top.
        let mut j = 0;
        while j < N {
            let next = if j + 1 < N { a[j + 1] } else { top };
            a[j] = (a[j] >> 1) | (next << 63);
            j += 1;
        }
        round += 1;
    }
    a
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn random_below<const N: usize>(c: &Curve<N>, seed: &mut u64) -> [u64; N] {
        loop {
            let mut a = [0u64; N];
            for limb in &mut a {
                *limb = rng(seed);
            }
            // Keep about as many bits as p has, so most draws land below p.
            let top_bits = 64 - c.p[N - 1].leading_zeros();
            a[N - 1] &= if top_bits == 64 {
                u64::MAX
            } else {
                (1u64 << top_bits) - 1
            };
            if lt(&a, &c.p) {
                return a;
            }
        }
    }

    fn one<const N: usize>() -> [u64; N] {
        let mut a = [0u64; N];
        a[0] = 1;
        a
    }

    fn laws<const N: usize>(c: &Curve<N>, b_hex: &str) {
        let b = const_limbs::<N>(b_hex);
        // −p⁻¹·p ≡ −1 mod 2^64.
        assert_eq!(c.n0.wrapping_mul(c.p[0]), u64::MAX);
        let mut seed = 0x5EED_1234_ABCD_0001;
        for _ in 0..300 {
            let (a, b, d) = (
                random_below(c, &mut seed),
                random_below(c, &mut seed),
                random_below(c, &mut seed),
            );
            // Into Montgomery form and back.
            assert_eq!(c.mul(&c.mul(&a, &c.r2), &one()), a);
            assert_eq!(c.mul(&a, &b), c.mul(&b, &a));
            assert_eq!(c.mul(&c.mul(&a, &b), &d), c.mul(&a, &c.mul(&b, &d)));
            assert_eq!(
                c.mul(&a, &c.add(&b, &d)),
                c.add(&c.mul(&a, &b), &c.mul(&a, &d))
            );
            assert_eq!(c.add(&c.sub(&a, &b), &b), a);
            assert_eq!(c.sub(&a, &a), [0u64; N]);
            assert!(lt(&c.mul(&a, &b), &c.p));
        }
        // p − 1 squared is 1 (in Montgomery form: (−R)·(−R)·R⁻¹ = R).
        let mut minus_one = c.p;
        minus_one[0] -= 1;
        let m = c.mul(&minus_one, &c.r2);
        assert_eq!(c.mul(&c.mul(&m, &m), &one()), one());
        // (b·R⁻¹)·R²·R⁻¹ = b.
        assert_eq!(c.mul(&c.b_r_inv, &c.r2), b);
    }

    #[test]
    fn montgomery_arithmetic_obeys_the_field_laws_on_every_curve() {
        laws(&P256, P256_B);
        laws(&P384, P384_B);
        laws(&P521, P521_B);
    }

    fn be<const L: usize>(hex: &str) -> [u8; L] {
        assert_eq!(hex.len(), 2 * L);
        let mut out = [0u8; L];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn generators_are_on_their_curves() {
        // SEC 2 §2.4.2, §2.5.1, §2.6.1.
        P256.check(
            &be::<32>("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
            &be::<32>("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
        )
        .unwrap();
        P384.check(
            &be::<48>("aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"),
            &be::<48>("3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f"),
        )
        .unwrap();
        P521.check(
            &be::<66>("00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66"),
            &be::<66>("011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650"),
        )
        .unwrap();
    }
}

//! Ed25519 public keys (RFC 8032 §5.1.3): canonical encoding, small order, decompression.
//!
//! An encoding is 32 bytes: `y` little-endian in bits 0–254, the sign of `x` in bit 255. The
//! curve is −x² + y² = 1 + d·x²·y² over GF(p), p = 2^255 − 19, d = −121665/121666.
//!
//! The field arithmetic is variable time on purpose: a public key is public, and the checks
//! run on every proof, so speed is what matters (see `ed25519_decompresses`).

use super::PointFault;

/// p = 2^255 − 19, little-endian.
const P: [u8; 32] = le_p_minus(0);

/// p − 1, little-endian: the `y` of the point of order 2, and the Legendre symbol of a non-square.
const P_MINUS_1: [u8; 32] = le_p_minus(1);

/// The two `y` (little-endian, sign bit clear) of the four points of order 8.
///
/// A point P of order 8 doubles to a point of order 4, (±√−1, 0). Edwards doubling (a = −1)
/// gives y(2P) = (x² + y²)/(2 + x² − y²), which is 0 when x² = −y²; put in the curve equation,
/// 2y² = 1 − d·y⁴, so y² = (−1 ± √(1 + d))/d, and only the minus sign gives a square. Its two
/// roots are these `y`; each carries two points (x and −x), so four encodings. Recomputed with:
///
/// ```text
/// p = 2**255 - 19; d = -121665 * pow(121666, p - 2, p) % p
/// def sqrt(a):                      # p ≡ 5 (mod 8)
///     x = pow(a, (p + 3) // 8, p)
///     if x * x % p != a % p: x = x * pow(2, (p - 1) // 4, p) % p
///     return x if x * x % p == a % p else None
/// y2 = (-1 - sqrt(1 + d)) * pow(d, p - 2, p) % p
/// y = sqrt(y2); print(y.to_bytes(32, "little").hex(), (p - y).to_bytes(32, "little").hex())
/// ```
///
/// The tests check d·y⁴ + 2y² − 1 = 0 for both with this module's arithmetic, and that
/// ed25519-dalek calls all eight points weak.
const Y_ORDER_8: [[u8; 32]; 2] = [
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
];

/// d = −121665/121666 mod p, little-endian (RFC 8032 §5.1); the tests check 121666·d = −121665.
const D: [u8; 32] = hex32("a3785913ca4deb75abd841414d0a700098e879777940c78c73fe6f2bee6c0352");

/// p − k as little-endian bytes, for small k.
const fn le_p_minus(k: u8) -> [u8; 32] {
    let mut out = [0xFF; 32];
    let [first, .., last] = &mut out;
    *first = 0xED - k;
    *last = 0x7F;
    out
}

/// 64 hex digits as 32 bytes, in the order written.
#[expect(
    clippy::indexing_slicing,
    clippy::panic,
    reason = "const-evaluated on literals: a bad digit or an index out of range fails the build"
)]
const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        }
    }
    let s = s.as_bytes();
    assert!(s.len() == 64, "64 hex digits expected");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

/// `y` of an encoding: bit 255 (the sign of `x`) cleared.
fn y_of(key: &[u8; 32]) -> [u8; 32] {
    let mut y = *key;
    if let Some(last) = y.last_mut() {
        *last &= 0x7F;
    }
    y
}

fn sign_of(key: &[u8; 32]) -> bool {
    key.last().is_some_and(|b| b & 0x80 != 0)
}

/// Whether little-endian `a` < little-endian `b`.
fn lt(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().rev().cmp(b.iter().rev()).is_lt()
}

/// The cheap checks: `y` < p (RFC 8032 §5.1.3 step 1), not x = 0 with the sign bit set
/// (step 4), and not one of the eight points of small order. Byte comparisons only.
pub(crate) fn check_encoding(key: &[u8; 32]) -> Result<(), PointFault> {
    let y = y_of(key);
    if !lt(&y, &P) {
        return Err(PointFault::NotReduced);
    }
    // x = 0 exactly when y = ±1: the identity (order 1) and (0, −1) (order 2).
    let one = {
        let mut one = [0u8; 32];
        if let Some(first) = one.first_mut() {
            *first = 1;
        }
        one
    };
    let order = if y == one {
        1
    } else if y == P_MINUS_1 {
        2
    } else if y == [0u8; 32] {
        4
    } else if Y_ORDER_8.contains(&y) {
        8
    } else {
        return Ok(());
    };
    if order <= 2 && sign_of(key) {
        return Err(PointFault::NegativeZero);
    }
    Err(PointFault::SmallOrder { order })
}

/// Whether `key` decodes to a point of edwards25519 under RFC 8032 §5.1.3: `y` < p, some x
/// satisfies x² = (y² − 1)/(d·y² + 1), and x = 0 is not written with the sign bit set.
///
/// Small order is not checked here (see [`Jwk::check_key`](crate::Jwk::check_key)). This is
/// the expensive part of the key check: the Legendre symbol of (y² − 1)(d·y² + 1) mod
/// 2^255 − 19, computed with the binary Jacobi algorithm, variable time (a public key is
/// public): about a third of the instructions of the exponentiation that decompression
/// libraries use.
pub fn ed25519_decompresses(key: &[u8; 32]) -> bool {
    let y_bytes = y_of(key);
    if !lt(&y_bytes, &P) {
        return false;
    }
    let y = Fe::from_bytes(&y_bytes);
    let yy = y.square();
    let u = yy.sub(Fe::ONE);
    let v = Fe::from_bytes(&D).mul(yy).add(Fe::ONE);
    // d is not a square mod p, so v = d·y² + 1 is never 0, and x² = u/v = u·v/v² has a
    // root exactly when u·v is 0 or a square.
    if jacobi(&u.mul(v).to_bytes()) < 0 {
        return false;
    }
    let x_is_zero = u.to_bytes() == [0u8; 32];
    !(x_is_zero && sign_of(key))
}

/// The Jacobi symbol (z | p) of a canonical element z (little-endian bytes); p is prime, so
/// this is the Legendre symbol: 1 for a non-zero square, −1 for a non-square, 0 for 0.
///
/// Binary algorithm on 4×64-bit limbs: (2 | n) = −1 when n ≡ 3, 5 (mod 8); for odd a and n,
/// (a | n) = (n | a), negated when both are 3 (mod 4); and (a | n) = (a − n | n). Each round
/// strips the factors of two from a, swaps so that a ≥ n, and subtracts: at most about 510
/// rounds of a few limb operations.
fn jacobi(z: &[u8; 32]) -> i8 {
    let mut a = le_limbs(z);
    let mut n = le_limbs(&P);
    let mut t = 1i8;
    loop {
        if a == [0; 4] {
            return if n == [1, 0, 0, 0] { t } else { 0 };
        }
        // a ≠ 0: strip whole zero limbs (64 factors of two: no sign change), then bits.
        while a[0] == 0 {
            let [_, a1, a2, a3] = a;
            a = [a1, a2, a3, 0];
        }
        let [a0, a1, a2, a3] = a;
        let s = a0.trailing_zeros();
        if s > 0 {
            if s & 1 == 1 && matches!(n[0] & 7, 3 | 5) {
                t = -t;
            }
            a = [
                (a0 >> s) | (a1 << (64 - s)),
                (a1 >> s) | (a2 << (64 - s)),
                (a2 >> s) | (a3 << (64 - s)),
                a3 >> s,
            ];
        }
        let ([a0, a1, a2, a3], [n0, n1, n2, n3]) = (a, n);
        if (a3, a2, a1, a0) < (n3, n2, n1, n0) {
            core::mem::swap(&mut a, &mut n);
            if a[0] & 3 == 3 && n[0] & 3 == 3 {
                t = -t;
            }
        }
        // a ≥ n, both odd: a − n is even (or zero).
        let mut borrow = false;
        for (x, y) in a.iter_mut().zip(n) {
            let (d1, b1) = x.overflowing_sub(y);
            let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
            *x = d2;
            borrow = b1 || b2;
        }
    }
}

/// Little-endian bytes as little-endian 64-bit limbs.
fn le_limbs(b: &[u8; 32]) -> [u64; 4] {
    let mut w = [0u64; 4];
    for (word, chunk) in w.iter_mut().zip(b.chunks_exact(8)) {
        *word = chunk
            .iter()
            .rev()
            .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    }
    w
}

/// Mask of a 51-bit limb.
const MASK: u64 = (1 << 51) - 1;

/// An element of GF(2^255 − 19) in five 51-bit limbs, little-endian; limbs may exceed 51 bits
/// a little between operations (each operation's output is below 2^52 per limb).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fe([u64; 5]);

impl Fe {
    pub(crate) const ONE: Self = Self([1, 0, 0, 0, 0]);

    /// The integer in bits 0–254 of `b` (bit 255 ignored), little-endian.
    pub(crate) fn from_bytes(b: &[u8; 32]) -> Self {
        let [w0, w1, w2, w3] = le_limbs(b);
        Self([
            w0 & MASK,
            ((w0 >> 51) | (w1 << 13)) & MASK,
            ((w1 >> 38) | (w2 << 26)) & MASK,
            ((w2 >> 25) | (w3 << 39)) & MASK,
            (w3 >> 12) & MASK,
        ])
    }

    /// The canonical (fully reduced) little-endian encoding.
    pub(crate) fn to_bytes(self) -> [u8; 32] {
        // Carry twice so every limb is below 2^51 and the value below 2^255 (+ a little).
        let mut l = carry_u64(carry_u64(self.0));
        // Subtract p when the value is ≥ p: q = 1 exactly when value + 19 ≥ 2^255.
        let mut q = 19u64;
        for limb in &l {
            q = (limb + q) >> 51;
        }
        let [l0, ..] = &mut l;
        *l0 += 19 * q;
        let mut c = 0u64;
        for limb in &mut l {
            *limb += c;
            c = *limb >> 51;
            *limb &= MASK;
        }
        // The carry out of the top limb is the 2^255 that value + 19 − 2^255 drops.
        let [l0, l1, l2, l3, l4] = l;
        let words = [
            l0 | (l1 << 51),
            (l1 >> 13) | (l2 << 38),
            (l2 >> 26) | (l3 << 25),
            (l3 >> 39) | (l4 << 12),
        ];
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    pub(crate) fn add(self, o: Self) -> Self {
        let mut r = self.0;
        for (a, b) in r.iter_mut().zip(o.0) {
            *a += b;
        }
        Self(carry_u64(r))
    }

    /// self − o, computed as self + 4p − o (limbs of `o` below 2^53).
    pub(crate) fn sub(self, o: Self) -> Self {
        const FOUR_P: [u64; 5] = [4 * ((1 << 51) - 19), 4 * MASK, 4 * MASK, 4 * MASK, 4 * MASK];
        let mut r = self.0;
        for ((a, b), f) in r.iter_mut().zip(o.0).zip(FOUR_P) {
            *a = *a + f - b;
        }
        Self(carry_u64(r))
    }

    pub(crate) fn mul(self, o: Self) -> Self {
        let [a0, a1, a2, a3, a4] = self.0.map(u128::from);
        let [b0, b1, b2, b3, b4] = o.0.map(u128::from);
        // 2^255 ≡ 19: a limb product landing at 2^(51·k), k ≥ 5, folds back times 19.
        let (b1_19, b2_19, b3_19, b4_19) = (b1 * 19, b2 * 19, b3 * 19, b4 * 19);
        carry_u128([
            a0 * b0 + a1 * b4_19 + a2 * b3_19 + a3 * b2_19 + a4 * b1_19,
            a0 * b1 + a1 * b0 + a2 * b4_19 + a3 * b3_19 + a4 * b2_19,
            a0 * b2 + a1 * b1 + a2 * b0 + a3 * b4_19 + a4 * b3_19,
            a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + a4 * b4_19,
            a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0,
        ])
    }

    pub(crate) fn square(self) -> Self {
        let [a0, a1, a2, a3, a4] = self.0.map(u128::from);
        let (d0, d1, d2, d3) = (2 * a0, 2 * a1, 2 * a2, 2 * a3);
        let (a3_19, a4_19) = (19 * a3, 19 * a4);
        carry_u128([
            a0 * a0 + d1 * a4_19 + d2 * a3_19,
            d0 * a1 + d2 * a4_19 + a3 * a3_19,
            d0 * a2 + a1 * a1 + d3 * a4_19,
            d0 * a3 + d1 * a2 + a4 * a4_19,
            d0 * a4 + d1 * a3 + a2 * a2,
        ])
    }

    /// self^(2^k).
    #[cfg(test)]
    fn square_times(self, k: u32) -> Self {
        (0..k).fold(self, |acc, _| acc.square())
    }

    /// self^((p − 1)/2) = self^(2^254 − 10): 1 for a non-zero square, p − 1 for a
    /// non-square, 0 for 0 (Euler's criterion). 254 squarings and 12 multiplications: the
    /// tests' reference for `jacobi`, three times slower than it.
    #[cfg(test)]
    pub(crate) fn legendre(self) -> Self {
        let z2 = self.square();
        let z4 = z2.square();
        let z9 = z4.square().mul(self);
        let z11 = z9.mul(z2);
        let z_5 = z11.square().mul(z9); // z^(2^5 − 1)
        let z_10 = z_5.square_times(5).mul(z_5);
        let z_20 = z_10.square_times(10).mul(z_10);
        let z_40 = z_20.square_times(20).mul(z_20);
        let z_50 = z_40.square_times(10).mul(z_10);
        let z_100 = z_50.square_times(50).mul(z_50);
        let z_200 = z_100.square_times(100).mul(z_100);
        let z_250 = z_200.square_times(50).mul(z_50);
        // (2^250 − 1)·2^4 + 6 = 2^254 − 10.
        z_250.square_times(4).mul(z4.mul(z2))
    }
}

/// Carries limbs (each below 2^63) so that each is below 2^51 plus a small carry into limb 1.
fn carry_u64(l: [u64; 5]) -> [u64; 5] {
    carry_u128(l.map(u128::from)).0
}

/// Carries 128-bit column sums (each below 2^117) into limbs below 2^52.
fn carry_u128(c: [u128; 5]) -> Fe {
    let [c0, mut c1, mut c2, mut c3, mut c4] = c;
    c1 += c0 >> 51;
    c2 += c1 >> 51;
    c3 += c2 >> 51;
    c4 += c3 >> 51;
    let mask = u128::from(MASK);
    // 2^255 ≡ 19 (mod p): the carry out of the top limb comes back times 19.
    let r0 = (c0 & mask) + (c4 >> 51) * 19;
    let r1 = (c1 & mask) + (r0 >> 51);
    Fe([r0 & mask, r1, c2 & mask, c3 & mask, c4 & mask].map(|x| x as u64))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// A little xorshift generator: deterministic inputs without a dependency.
    fn rng(seed: &mut u64) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_exact_mut(8) {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            chunk.copy_from_slice(&seed.to_le_bytes());
        }
        out
    }

    fn fe(n: u64) -> Fe {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&n.to_le_bytes());
        Fe::from_bytes(&b)
    }

    /// Square-and-multiply over the bits of a little-endian exponent: a reference for
    /// `legendre`, sharing only `mul` and `square` with it.
    fn pow(z: Fe, e: &[u8; 32]) -> Fe {
        let mut acc = Fe::ONE;
        for byte in e.iter().rev() {
            for bit in (0..8).rev() {
                acc = acc.square();
                if byte >> bit & 1 == 1 {
                    acc = acc.mul(z);
                }
            }
        }
        acc
    }

    fn neg(a: Fe) -> Fe {
        Fe::from_bytes(&[0u8; 32]).sub(a)
    }

    #[test]
    fn field_arithmetic_obeys_the_ring_laws_and_reduces_canonically() {
        let mut seed = 0x0123_4567_89AB_CDEF;
        for _ in 0..500 {
            let (a, b, c) = (
                Fe::from_bytes(&rng(&mut seed)),
                Fe::from_bytes(&rng(&mut seed)),
                Fe::from_bytes(&rng(&mut seed)),
            );
            assert_eq!(a.mul(b).to_bytes(), b.mul(a).to_bytes());
            assert_eq!(a.mul(b).mul(c).to_bytes(), a.mul(b.mul(c)).to_bytes());
            assert_eq!(
                a.mul(b.add(c)).to_bytes(),
                a.mul(b).add(a.mul(c)).to_bytes()
            );
            assert_eq!(a.square().to_bytes(), a.mul(a).to_bytes());
            assert_eq!(a.sub(b).add(b).to_bytes(), a.to_bytes());
            assert_eq!(a.sub(a).to_bytes(), [0u8; 32]);
            // Canonical encoding round trip.
            let bytes = a.to_bytes();
            assert!(lt(&bytes, &P));
            assert_eq!(Fe::from_bytes(&bytes).to_bytes(), bytes);
        }
        // Non-canonical inputs reduce: p → 0, p + 1 → 1, 2^255 − 1 → 18.
        assert_eq!(Fe::from_bytes(&P).to_bytes(), [0u8; 32]);
        let mut p1 = P;
        p1[0] += 1;
        assert_eq!(Fe::from_bytes(&p1).to_bytes(), fe(1).to_bytes());
        assert_eq!(Fe::from_bytes(&[0xFF; 32]).to_bytes(), fe(18).to_bytes());
        assert_eq!(neg(Fe::ONE).to_bytes(), P_MINUS_1);
    }

    #[test]
    fn legendre_agrees_with_square_and_multiply_and_eulers_criterion() {
        // (p − 1)/2 little-endian: p − 1 shifted right by one bit.
        let mut half = [0u8; 32];
        for i in 0..32 {
            half[i] = (P_MINUS_1[i] >> 1) | (P_MINUS_1.get(i + 1).copied().unwrap_or(0) << 7);
        }
        let mut seed = 0xDEAD_BEEF_CAFE_F00D;
        let (mut squares, mut non_squares) = (0, 0);
        for i in 0..2000 {
            let a = Fe::from_bytes(&rng(&mut seed));
            let chi = a.legendre().to_bytes();
            if i < 200 {
                assert_eq!(chi, pow(a, &half).to_bytes());
            }
            // The binary Jacobi algorithm agrees with Euler's criterion.
            let expected = if chi == P_MINUS_1 { -1 } else { 1 };
            assert_eq!(jacobi(&a.to_bytes()), expected);
            assert_eq!(jacobi(&a.square().to_bytes()), 1);
            assert_eq!(a.square().legendre().to_bytes(), Fe::ONE.to_bytes());
            if chi == P_MINUS_1 {
                non_squares += 1;
            } else {
                assert_eq!(chi, Fe::ONE.to_bytes());
                squares += 1;
            }
        }
        assert!(
            squares > 500 && non_squares > 500,
            "{squares} {non_squares}"
        );
        assert_eq!(Fe::from_bytes(&[0u8; 32]).legendre().to_bytes(), [0u8; 32]);
        assert_eq!(jacobi(&[0u8; 32]), 0);
        assert_eq!(jacobi(&fe(1).to_bytes()), 1);
        assert_eq!(jacobi(&fe(2).to_bytes()), -1);
        assert_eq!(jacobi(&P_MINUS_1), 1);
        // Inputs with long runs of zero bits (whole zero limbs to strip).
        for k in [1u32, 63, 64, 65, 128, 191, 200, 254] {
            let mut b = [0u8; 32];
            b[(k / 8) as usize] = 1 << (k % 8);
            let a = Fe::from_bytes(&b);
            let expected = if a.legendre().to_bytes() == P_MINUS_1 {
                -1
            } else {
                1
            };
            assert_eq!(jacobi(&a.to_bytes()), expected, "2^{k}");
        }
        // 2 is not a square mod p (p ≡ 5 mod 8); −1 is (p ≡ 1 mod 4).
        assert_eq!(fe(2).legendre().to_bytes(), P_MINUS_1);
        assert_eq!(neg(Fe::ONE).legendre().to_bytes(), Fe::ONE.to_bytes());
    }

    #[test]
    fn constants_are_what_their_derivations_say() {
        let d = Fe::from_bytes(&D);
        // 121666·d = −121665.
        assert_eq!(d.mul(fe(121_666)).to_bytes(), neg(fe(121_665)).to_bytes());
        // d is not a square, which makes d·y² + 1 non-zero for every y.
        assert_eq!(d.legendre().to_bytes(), P_MINUS_1);
        // Both order-8 y: d·y⁴ + 2y² − 1 = 0, and their sum is p.
        for y in Y_ORDER_8 {
            let y2 = Fe::from_bytes(&y).square();
            let lhs = d.mul(y2.square()).add(y2).add(y2).sub(Fe::ONE);
            assert_eq!(lhs.to_bytes(), [0u8; 32]);
            assert!(ed25519_decompresses(&y));
        }
        let sum = Fe::from_bytes(&Y_ORDER_8[0]).add(Fe::from_bytes(&Y_ORDER_8[1]));
        assert_eq!(sum.to_bytes(), [0u8; 32]);
    }
}

//! Constant-time byte comparison for thumbprints, `ath` values and nonces.

use subtle::ConstantTimeEq as _;

/// Whether `a` and `b` are equal, in time that depends on their lengths but not on their
/// contents (no early exit on the first differing byte). Lengths are treated as public:
/// different lengths answer `false` at once, as `subtle` does for slices.
///
/// keybound compares with it what an attacker must not learn byte by byte: RFC 7638 /
/// RFC 9449 §6.1 `jkt` and RFC 8705 §3.1 `x5t#S256` thumbprints, the RFC 9449 §4.3 step 9
/// `ath`, and RFC 9449 §8 server nonces.
///
/// The bytes are XOR-ed and OR-ed together eight at a time and the one resulting word goes
/// through `subtle`'s comparison, which is several times faster than `subtle`'s byte-by-byte
/// slice comparison (a 43-character `ath` in a few nanoseconds instead of about 40).
///
/// ```
/// assert!(keybound_cnf::ct_eq(b"same bytes", b"same bytes"));
/// assert!(!keybound_cnf::ct_eq(b"same bytes", b"same bytez"));
/// assert!(!keybound_cnf::ct_eq(b"short", b"longer"));
/// ```
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u64;
    let mut xs = a.chunks_exact(8);
    let mut ys = b.chunks_exact(8);
    for (x, y) in (&mut xs).zip(&mut ys) {
        if let (Ok(x), Ok(y)) = (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) {
            diff |= u64::from_le_bytes(x) ^ u64::from_le_bytes(y);
        }
    }
    for (x, y) in xs.remainder().iter().zip(ys.remainder()) {
        diff |= u64::from(x ^ y);
    }
    bool::from(diff.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn every_differing_position_and_length_is_seen() {
        for len in 0..40usize {
            let a: [u8; 40] = core::array::from_fn(|i| i as u8 ^ 0x5a);
            let a = a.get(..len).unwrap_or_default();
            assert!(ct_eq(a, a), "len {len}");
            for pos in 0..len {
                for bit in 0..8 {
                    let mut b = [0u8; 40];
                    let b = b.get_mut(..len).unwrap_or_default();
                    b.copy_from_slice(a);
                    if let Some(c) = b.get_mut(pos) {
                        *c ^= 1 << bit;
                    }
                    assert!(!ct_eq(a, b), "len {len} pos {pos} bit {bit}");
                }
            }
            let longer = [0u8; 41];
            assert!(!ct_eq(a, longer.get(..len + 1).unwrap_or_default()));
        }
    }
}

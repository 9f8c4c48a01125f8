//! Shared helpers of the token format, below every other module: the one base64url engine
//! and the one constant-time comparison. Nothing here knows about keys, tokens or HTTP.

use std::sync::LazyLock;

use base64::engine::simd::Simd;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use subtle::{Choice, ConstantTimeEq as _};

/// Strict base64url: no padding, no whitespace, zero unused trailing bits. Every byte string
/// has exactly one accepted spelling, so a token cannot be re-spelled and still verify.
/// (The `base64` crate's engine picks AVX2 or NEON at first use when the CPU has them.)
pub(crate) static B64: LazyLock<Simd> = LazyLock::new(|| {
    Simd::url_safe(
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(false),
    )
});

/// Equality in constant time, the verdict through `subtle` (the length is not secret).
///
/// The differences of the two inputs are OR-ed together sixteen bytes at a time, without a
/// branch, and only that one `u128` is compared with zero through `subtle`. `subtle`'s own
/// comparison of byte slices puts every byte behind an optimization barrier, which made the
/// verify cache's whole-token check (about 300 bytes) cost some 3,800 instructions a
/// request; this costs about a fortieth of that. A property test keeps it equal to
/// `subtle`'s slice comparison.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<16>();
    let (b_words, b_rest) = b.as_chunks::<16>();
    let mut difference = 0u128;
    for (x, y) in a_words.iter().zip(b_words) {
        difference |= u128::from_ne_bytes(*x) ^ u128::from_ne_bytes(*y);
    }
    let mut rest = [0u8; 16];
    for (r, (x, y)) in rest.iter_mut().zip(a_rest.iter().zip(b_rest)) {
        *r = x ^ y;
    }
    difference |= u128::from_ne_bytes(rest);
    let equal: Choice = difference.ct_eq(&0);
    equal.into()
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(B64.encode([0xFB, 0xFF]), "-_8");
        assert!(B64.decode("-_8=").is_err(), "padding is refused");
        assert!(
            B64.decode("-_9").is_err(),
            "non-zero trailing bits are refused"
        );
        assert!(
            B64.decode("+/8").is_err(),
            "the standard alphabet is refused"
        );
    }

    #[test]
    fn ct_eq_compares_contents_and_lengths() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        let long = [7u8; 300];
        let mut other = long;
        assert!(ct_eq(&long, &other));
        for at in [0, 7, 8, 150, 295, 299] {
            other[at] ^= 1;
            assert!(!ct_eq(&long, &other), "a difference at byte {at}");
            other[at] ^= 1;
        }
    }

    proptest::proptest! {
        /// The word-at-a-time comparison says what `subtle`'s byte-slice comparison says, for
        /// any two slices, equal ones and ones differing anywhere.
        #[test]
        fn ct_eq_agrees_with_subtle(
            a in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            flip in proptest::option::of((0usize..80, 1u8..=255)),
            cut in proptest::option::of(0usize..80),
        ) {
            let mut b = a.clone();
            if let Some((at, bits)) = flip && at < b.len() {
                b[at] ^= bits;
            }
            if let Some(len) = cut && len < b.len() {
                b.truncate(len);
            }
            let subtle: bool = a.ct_eq(&b).into();
            proptest::prop_assert_eq!(ct_eq(&a, &b), subtle);
            proptest::prop_assert_eq!(ct_eq(&a, &b), a == b);
        }
    }
}

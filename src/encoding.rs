//! Shared helpers of the token format, below every other module: the one base64url engine
//! and the one constant-time comparison. Nothing here knows about keys, tokens or HTTP.

use std::sync::LazyLock;

use base64::engine::simd::Simd;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use subtle::ConstantTimeEq as _;

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

/// Equality in constant time, through `subtle` (the length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
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
    }
}

//! Reading the unsigned integers of the claims prefix (`iat`, `exp`, `auth_time`, `ver`)
//! eight digits at a time.
//!
//! Every verified token carries three ten-digit timestamps. Digit by digit, each costs a
//! chain of ten dependent multiply-adds; here the digits of a number are found and
//! combined a machine word at a time (the "SWAR" technique), with a plain loop for what
//! does not fit the fast case. Both accept exactly what serde_json accepts for a `u64`
//! (digits only, no leading zero, no overflow); anything else is `None` and left to the
//! general parser.

/// `0x01` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;

/// 10 to the power of the index, for the digits after the first eight.
const POWERS_OF_TEN: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// The number of ASCII digits at the start of the eight bytes of `word` (first byte lowest).
///
/// A byte is a digit when its high nibble is 3 and adding 6 keeps it there. Adding 6 to a
/// non-digit byte may carry into the next byte, but only into a later one, after the first
/// non-digit, which is all that is counted.
fn leading_digits(word: u64) -> usize {
    let high = (word & (0xF0 * ONES)) ^ (0x30 * ONES);
    let low = (word.wrapping_add(0x06 * ONES) & (0xF0 * ONES)) ^ (0x30 * ONES);
    ((high | low).trailing_zeros() / 8) as usize
}

/// The value of eight ASCII digits, the first in the lowest byte.
fn eight_digits(word: u64) -> u64 {
    combine(word.wrapping_sub(0x30 * ONES))
}

/// The value of the first `n` (1 to 8) ASCII digits of `word`. Subtracting `'0'` from every
/// byte can only borrow from a byte after the first non-digit; those bytes are then shifted
/// out, and the zero bytes shifted in count as leading zero digits.
fn first_digits(word: u64, n: usize) -> u64 {
    debug_assert!((1..=8).contains(&n));
    combine(word.wrapping_sub(0x30 * ONES) << (8 * (8 - n)))
}

/// The number whose eight decimal digits (0 to 9) are the bytes of `values`, the most
/// significant in the lowest byte: pairs, then quadruples, then the whole, each step
/// multiplying the more significant half by 10, 100 or 10^4 and adding the other half in
/// the same multiplication. No lane overflows (99, 9 999, 99 999 999).
fn combine(values: u64) -> u64 {
    let pairs = (values.wrapping_mul(10 << 8 | 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    quads.wrapping_mul(10_000 << 32 | 1) >> 32
}

/// Reads a JSON unsigned integer at `json[*at..]` as serde_json would for a `u64`: digits
/// only, no leading zero, no overflow. Moves `at` past it. `None` (with `at` unspecified)
/// for anything else.
#[inline(always)]
pub(crate) fn read_u64(json: &[u8], at: &mut usize) -> Option<u64> {
    let rest = json.get(*at..)?;
    if let Some(chunk) = rest.first_chunk::<16>() {
        let (low, high) = chunk.split_at(8);
        let low = u64::from_le_bytes(low.try_into().ok()?);
        let high = u64::from_le_bytes(high.try_into().ok()?);
        let in_low = leading_digits(low);
        let digits = if in_low < 8 {
            in_low
        } else {
            8 + leading_digits(high)
        };
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        // Up to fifteen digits, all in the chunk and followed by a non-digit in it.
        if digits < 16 {
            *at += digits;
            return Some(if digits <= 8 {
                first_digits(low, digits)
            } else {
                let tail = digits - 8;
                eight_digits(low) * POWERS_OF_TEN[tail] + first_digits(high, tail)
            });
        }
    }
    read_u64_slowly(json, at)
}

/// [`read_u64`] a digit at a time: near the end of the input, and for numbers of sixteen
/// digits or more.
fn read_u64_slowly(json: &[u8], at: &mut usize) -> Option<u64> {
    let start = *at;
    let digits = json[start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(json.len() - start);
    if digits == 0 || (digits > 1 && json[start] == b'0') {
        return None;
    }
    let text = &json[start..start + digits];
    *at += digits;
    // Nineteen digits always fit a u64; only longer numbers need the overflow checks.
    if digits <= 19 {
        Some(
            text.iter()
                .fold(0u64, |value, &b| value * 10 + u64::from(b - b'0')),
        )
    } else {
        text.iter().try_fold(0u64, |value, &b| {
            value.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json makes of the number at the start of `text` (up to the first byte
    /// that cannot continue it), as the reference.
    fn reference(text: &[u8]) -> Option<(u64, usize)> {
        let digits = text
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(text.len());
        if digits == 0 {
            return None;
        }
        let value = serde_json::from_slice::<u64>(&text[..digits]).ok()?;
        Some((value, digits))
    }

    fn check(text: &[u8]) {
        let mut at = 0;
        let ours = read_u64(text, &mut at).map(|v| (v, at));
        assert_eq!(ours, reference(text), "{:?}", String::from_utf8_lossy(text));
        // The same number further into a buffer.
        let mut padded = b"xyz".to_vec();
        padded.extend_from_slice(text);
        let mut at = 3;
        let ours = read_u64(&padded, &mut at).map(|v| (v, at - 3));
        assert_eq!(ours, reference(text), "{:?}", String::from_utf8_lossy(text));
    }

    #[test]
    fn every_length_and_every_follower_agrees_with_serde_json() {
        let digits = b"9876543210123456789012345";
        for len in 0..=digits.len() {
            for follower in [
                &b""[..],
                b",",
                b"}",
                b",\"exp\":1",
                b"/",
                b":",
                b" ",
                b"\xff",
                b"a",
            ] {
                for tail in [&b""[..], b"0123456789abcdefghij"] {
                    let mut text = digits[..len].to_vec();
                    text.extend_from_slice(follower);
                    text.extend_from_slice(tail);
                    check(&text);
                }
            }
        }
    }

    #[test]
    fn leading_zeros_overflow_and_edges_agree_with_serde_json() {
        for text in [
            &b"0,"[..],
            b"0",
            b"00,",
            b"01,aaaaaaaaaaaaaaaa",
            b"0123456789,aaaaaaaaaaaa",
            b"1800000000,\"exp\":1800001800",
            b"18446744073709551615,aaaaaaa",
            b"18446744073709551616,aaaaaaa",
            b"99999999999999999999,aaaaaaa",
            b"9999999999999999999,aaaaaaaa",
            b"999999999999999,aaaaaaaaaaaa",
            b"9999999999999999,aaaaaaaaaaa",
            b"1000000000000000,aaaaaaaaaaa",
            b"100000000,aaaaaaaaaaaaaaaaaa",
            b"12345678,aaaaaaaaaaaaaaaaaaa",
            b"1e5,aaaaaaaaaaaaaaaaaaaaaaaa",
            b"-1,aaaaaaaaaaaaaaaaaaaaaaaaa",
            b"",
        ] {
            check(text);
        }
    }

    #[test]
    fn every_byte_after_every_digit_count_agrees() {
        for len in 1..=17 {
            for byte in 0..=255u8 {
                let mut text: Vec<u8> = (0..len).map(|i| b'1' + (i % 9) as u8).collect();
                text.push(byte);
                text.extend_from_slice(b"0000000000000000");
                check(&text);
            }
        }
    }
}

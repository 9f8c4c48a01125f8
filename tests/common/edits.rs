//! Every single-byte edit of a token, for the exhaustive property tests of the signed
//! (`tests/properties.rs`) and the encrypted (`tests/properties_jwe.rs`) codec.

use std::fmt::Display;

use proptest::sample::Index;
use tower_stateless_session::RejectionKind;

/// Checks that `outcome`, the result of reading an edited token, is a refusal of one of
/// the `allowed` kinds; `what` names the edit in the failure message.
pub fn assert_refused_as<T>(
    outcome: Result<T, RejectionKind>,
    allowed: &[RejectionKind],
    what: impl Display,
) {
    match outcome {
        Ok(_) => panic!("{what}: the edited token was accepted"),
        Err(kind) => assert!(
            allowed.contains(&kind),
            "{what}: refused as {kind:?}, expected one of {allowed:?}"
        ),
    }
}

/// One arbitrary edit of `token`, for the proptest properties: `edit` 0 replaces the byte
/// at `at` by `byte` (by another value if it is already `byte`), 1 inserts `byte` at `at`,
/// anything else deletes the byte at `at`.
pub fn arbitrary_edit(token: &[u8], edit: u8, at: Index, byte: u8) -> Vec<u8> {
    let mut edited = token.to_vec();
    match edit {
        0 => {
            let i = at.index(edited.len());
            edited[i] = if edited[i] == byte {
                byte.wrapping_add(1)
            } else {
                byte
            };
        }
        1 => edited.insert(at.index(edited.len() + 1), byte),
        _ => {
            edited.remove(at.index(edited.len()));
        }
    }
    edited
}

/// One edit of a token.
pub struct Edit {
    /// The edited token.
    pub bytes: Vec<u8>,
    /// The segment the edit falls in (0 for the header, counted by dots); `None` when a
    /// dot was replaced or deleted.
    pub segment: Option<usize>,
    /// Whether a dot was replaced, inserted or deleted (the segment count changed).
    pub dot_changed: bool,
    /// What was done, for assertion messages.
    pub what: String,
}

/// One byte of each kind the parsers tell apart, to insert: base64url characters (each
/// stands for all of them), a dot, padding, blanks, a NUL, percent, quote and brace, DEL,
/// and bytes that are not ASCII. Arbitrary bytes at arbitrary positions are left to the
/// proptest properties.
pub const INSERTED: &[u8] = b"AQgw_-z9.= \t\0%\"{\x7f\x80\xff";

/// The segment of byte `i` of `token`; `None` for a dot.
pub fn segment_of(token: &[u8], i: usize) -> Option<usize> {
    if token[i] == b'.' {
        return None;
    }
    Some(dots_before(token, i))
}

fn dots_before(token: &[u8], i: usize) -> usize {
    token[..i].iter().filter(|&&b| b == b'.').count()
}

/// Every replacement of one byte by another value: 255 edits per position.
pub fn replacements(token: &[u8]) -> impl Iterator<Item = Edit> + '_ {
    (0..token.len()).flat_map(move |i| {
        (0..=u8::MAX)
            .filter(move |&byte| byte != token[i])
            .map(move |byte| {
                let mut bytes = token.to_vec();
                bytes[i] = byte;
                Edit {
                    bytes,
                    segment: segment_of(token, i),
                    dot_changed: token[i] == b'.' || byte == b'.',
                    what: format!("byte {i} ({:?}) replaced by {byte:#04x}", token[i] as char),
                }
            })
    })
}

/// An insertion of each byte of [`INSERTED`] at every position. The inserted byte joins
/// the segment of the byte it now precedes (the last segment at the very end; right after a
/// dot, the next segment).
pub fn insertions(token: &[u8]) -> impl Iterator<Item = Edit> + '_ {
    (0..=token.len()).flat_map(move |i| {
        INSERTED.iter().map(move |&byte| {
            let mut bytes = token.to_vec();
            bytes.insert(i, byte);
            Edit {
                bytes,
                segment: Some(dots_before(token, i)),
                dot_changed: byte == b'.',
                what: format!("{byte:#04x} inserted at {i}"),
            }
        })
    })
}

/// Every deletion of one byte.
pub fn deletions(token: &[u8]) -> impl Iterator<Item = Edit> + '_ {
    (0..token.len()).map(move |i| {
        let mut bytes = token.to_vec();
        let removed = bytes.remove(i);
        Edit {
            bytes,
            segment: segment_of(token, i),
            dot_changed: removed == b'.',
            what: format!("byte {i} ({:?}) deleted", removed as char),
        }
    })
}

//! How entries are written in Redis: sorted-set members and scores, the channel's and the
//! log's messages, stream ids.

use crate::revocation::Revocation;
use crate::token::SessionId;

/// Sorted-set score, member and the message (on the channel and in the log) for an entry.
pub(super) fn encode(revocation: &Revocation) -> (u64, String, String) {
    match revocation {
        Revocation::Session { sid, expires_at } => (
            *expires_at,
            sid.to_string(),
            format!("s {sid} {expires_at}"),
        ),
        Revocation::Subject {
            subject,
            before,
            expires_at,
        } => (
            *expires_at,
            format!("{before}:{subject}"),
            format!("u {before} {expires_at} {subject}"),
        ),
    }
}

pub(super) fn decode_message(text: &str) -> Option<Revocation> {
    let (kind, rest) = text.split_once(' ')?;
    match kind {
        "s" => {
            let (sid, expires_at) = rest.split_once(' ')?;
            Some(Revocation::Session {
                sid: sid.parse().ok()?,
                expires_at: expires_at.parse().ok()?,
            })
        }
        "u" => {
            let (before, rest) = rest.split_once(' ')?;
            let (expires_at, subject) = rest.split_once(' ')?;
            Some(Revocation::Subject {
                subject: subject.to_owned(),
                before: before.parse().ok()?,
                expires_at: expires_at.parse().ok()?,
            })
        }
        _ => None,
    }
}

/// A sorted-set member and score read back as an entry.
pub(super) fn decode_member(session: bool, member: &[u8], expires_at: u64) -> Option<Revocation> {
    if session {
        let sid = SessionId::from_ascii(member)?;
        return Some(Revocation::Session { sid, expires_at });
    }
    let member = std::str::from_utf8(member).ok()?;
    let (before, subject) = member.split_once(':')?;
    Some(Revocation::Subject {
        subject: subject.to_owned(),
        before: before.parse().ok()?,
        expires_at,
    })
}

/// The milliseconds part of a stream id (`<ms>-<seq>`).
pub(super) fn id_millis(id: &str) -> Option<u64> {
    id.split_once('-')
        .map_or(Some(id), |(ms, _)| Some(ms))?
        .parse()
        .ok()
}

/// A stream id as (milliseconds, sequence), in the order of the stream.
pub(super) fn id_order(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

pub(super) fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    // Names a node or a generation of the data: unique enough from the clock alone if the
    // random source fails.
    if getrandom::fill(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        raw = nanos.to_le_bytes()[..bytes.min(16)].to_vec();
    }
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let sid = SessionId::from_bytes([3; 16]);
        for revocation in [
            Revocation::Session {
                sid,
                expires_at: 99,
            },
            Revocation::Subject {
                subject: "ada lovelace: 1815".into(),
                before: 10,
                expires_at: 20,
            },
        ] {
            let (score, member, message) = encode(&revocation);
            assert_eq!(decode_message(&message), Some(revocation.clone()));
            let session = matches!(revocation, Revocation::Session { .. });
            assert_eq!(
                decode_member(session, member.as_bytes(), score),
                Some(revocation)
            );
        }
        for bad in ["", "x 1 2", "s notasid 1", "u 1 2", "u a 2 s"] {
            assert_eq!(decode_message(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn stream_ids_give_their_milliseconds() {
        assert_eq!(id_millis("1700000000123-7"), Some(1_700_000_000_123));
        assert_eq!(id_millis("42"), Some(42));
        assert_eq!(id_millis("x-1"), None);
    }
}

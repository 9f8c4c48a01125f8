//! The paged load of the sorted sets: how a node joins the set, and loads it again after
//! an absence longer than the log keeps.

use std::time::Instant;

use ::redis::RedisResult;

use super::feed::RevocationFeed;
use super::text::decode_member;
use crate::metrics;
use crate::redis::Commands;

/// Entries of a sorted set read per page.
const PAGE: u64 = 10_000;
/// When every entry of a page expires within this of the page's last (seconds), they are
/// all held until the last one's expiry, and the page is read without its scores, which
/// the server formats one by one (on Redis 7.0, ten times the cost of the page without
/// them). An entry is then held at most an hour past its own expiry, never less long.
const PAGE_SPAN: u64 = 3600;

/// A load of the sorted sets under way, page by page.
pub(super) struct Load {
    /// 0: the sessions, 1: the subjects.
    pub(super) set: usize,
    pub(super) cursor: Cursor,
    pub(super) loaded: u64,
    pub(super) expected: u64,
    /// For the log line that reports how long the load took.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(super) started: Instant,
}

/// Where the next page of a set starts.
pub(super) enum Cursor {
    /// At the first live entry.
    Start,
    /// At rank `next`, just after `member` (rank `next - 1` when the page was read).
    After {
        next: u64,
        member: Vec<u8>,
        score: f64,
    },
    /// At the first entry scored `score` or more (the last entry read is gone: its ties are
    /// read again).
    From(f64),
}

impl RevocationFeed {
    /// One page of a sorted set, by rank, in one round trip: the rank of the last entry
    /// read (if entries before it were trimmed or added, the page is read again from where
    /// that entry now is; if it is gone, from its score), the page's members, and the first
    /// and last of them with their scores. Every entry of the page is held until the last
    /// one's expiry when they all expire within [`PAGE_SPAN`] of each other; otherwise the
    /// page's scores are read in a second round trip.
    pub(super) async fn load_page(&mut self, commands: &mut Commands) -> RedisResult<()> {
        type Scored = Vec<(Vec<u8>, f64)>;
        let now = self.clock.now();
        let Some(load) = self.load.as_mut() else {
            return Ok(());
        };
        let session = load.set == 0;
        let key = if session {
            &self.keys.sessions
        } else {
            &self.keys.subjects
        };
        let (start, last) = match &load.cursor {
            Cursor::Start => {
                let expired: u64 = ::redis::cmd("ZCOUNT")
                    .arg(key)
                    .arg("-inf")
                    .arg(now)
                    .query_async(commands)
                    .await?;
                (expired, None)
            }
            Cursor::From(score) => {
                let below: u64 = ::redis::cmd("ZCOUNT")
                    .arg(key)
                    .arg("-inf")
                    .arg(format!("({score}"))
                    .query_async(commands)
                    .await?;
                (below, None)
            }
            Cursor::After {
                next,
                member,
                score,
            } => (*next, Some((member.clone(), *score))),
        };
        let stop = start + PAGE - 1;
        let scored = |from: i64, to: i64| {
            ::redis::cmd("ZRANGE")
                .arg(key)
                .arg(from)
                .arg(to)
                .arg("WITHSCORES")
                .to_owned()
        };
        let (start_at, stop_at) = (
            i64::try_from(start).unwrap_or(i64::MAX),
            i64::try_from(stop).unwrap_or(i64::MAX),
        );
        // The empty member is never one of ours: its rank is nil.
        let last_member = last
            .as_ref()
            .map_or(&[][..], |(member, _)| member.as_slice());
        let (rank, members, first, at_stop, at_end): (
            Option<u64>,
            Vec<Vec<u8>>,
            Scored,
            Scored,
            Scored,
        ) = ::redis::pipe()
            .zrank(key, last_member)
            .cmd("ZRANGE")
            .arg(key)
            .arg(start)
            .arg(stop)
            .add_command(scored(start_at, start_at))
            .add_command(scored(stop_at, stop_at))
            .add_command(scored(-1, -1))
            .query_async(commands)
            .await?;
        if let Some((member, score)) = last {
            match rank {
                Some(rank) if rank + 1 == start => {}
                Some(rank) => {
                    load.cursor = Cursor::After {
                        next: rank + 1,
                        member,
                        score,
                    };
                    return Ok(());
                }
                None => {
                    load.cursor = Cursor::From(score);
                    return Ok(());
                }
            }
        }
        let read = members.len();
        let complete = (read as u64) < PAGE;
        // The page's ends as the other commands of the round trip saw them: when they are
        // not the page's own, the set moved in between; the page is read again.
        let bound = if complete { at_end } else { at_stop };
        let ends = match (
            members.first(),
            members.last(),
            first.first(),
            bound.first(),
        ) {
            (Some(head), Some(tail), Some((first, low)), Some((last, high)))
                if head == first && tail == last =>
            {
                Some((*low, *high))
            }
            _ => None,
        };
        let entries: Vec<(Vec<u8>, u64)> = match ends {
            None if read > 0 => return Ok(()),
            None => Vec::new(),
            // Scores are whole seconds, written by us.
            Some((low, high)) if high - low <= PAGE_SPAN as f64 => {
                members.into_iter().map(|m| (m, high as u64)).collect()
            }
            Some(_) => {
                let page: Scored = scored(start_at, stop_at).query_async(commands).await?;
                if page.len() != read || page.last().map(|(m, _)| m) != members.last() {
                    return Ok(());
                }
                page.into_iter()
                    .map(|(m, score)| (m, score as u64))
                    .collect()
            }
        };
        load.cursor = match entries.last() {
            Some((member, expires_at)) if !complete => Cursor::After {
                next: start + read as u64,
                member: member.clone(),
                score: *expires_at as f64,
            },
            _ => Cursor::Start,
        };
        // A thousand at a time, letting the worker thread serve other tasks in between.
        for chunk in entries.chunks(1_000) {
            let revocations = chunk.iter().filter_map(|(member, expires_at)| {
                (*expires_at > now)
                    .then(|| decode_member(session, member, *expires_at))
                    .flatten()
            });
            self.local.insert_batch(revocations, now);
            tokio::task::yield_now().await;
        }
        metrics::revocation_reads("set", read);
        load.loaded += read as u64;
        if complete {
            load.set += 1;
            if load.set == 2 {
                return self.finish_load(commands).await;
            }
        }
        Ok(())
    }
}

//! The background task behind every Redis-backed part: connect, subscribe, run the
//! reconnection hook, serve, and start over with backoff when the connection breaks.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::redis::RedisResult;
use tokio::sync::mpsc;

use super::link::{Commands, Event, Link};
use super::status::StatusCell;
use super::target::Target;
use super::{RedisConfig, RedisError, RedisStatus};

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// What a Redis-backed part does with its connection. The task calls these in order: on
/// every (re)connection, [`on_connect`](Feed::on_connect) once the subscription is in place;
/// then [`on_message`](Feed::on_message) for each message, [`on_job`](Feed::on_job) for each
/// job sent through the [`RedisHandle`], [`on_tick`](Feed::on_tick) periodically. An error
/// from any of them ends the connection (a new one is made, and `on_connect` runs again).
pub(crate) trait Feed: Send + 'static {
    /// A unit of work sent by the handles (a write, usually).
    type Job: Send + 'static;

    /// For logs: what this part keeps in Redis ("revocations").
    const NAME: &'static str;

    /// The part's name in metric names: `stateless_session_<METRICS>_connected`, ...
    /// ("revocation"); see [`observability`](crate::observability).
    const METRICS: &'static str;

    /// The pub/sub channels to subscribe to.
    fn channels(&self) -> Vec<String>;

    /// The reconnection hook, run on every (re)connection after subscribing: reload the full
    /// state, write back what was made locally while disconnected.
    fn on_connect(
        &mut self,
        commands: &mut Commands,
    ) -> impl Future<Output = RedisResult<()>> + Send;

    /// A message on one of the channels.
    fn on_message(&mut self, channel: &str, payload: &[u8]);

    /// A job from a handle. On error, keep what must be retried (for `on_connect`).
    fn on_job(
        &mut self,
        commands: &mut Commands,
        job: Self::Job,
    ) -> impl Future<Output = RedisResult<()>> + Send;

    /// How often [`on_tick`](Feed::on_tick) runs while connected.
    fn tick_every(&self) -> Duration;

    /// Periodic work while connected (trimming, heartbeats).
    fn on_tick(&mut self, commands: &mut Commands) -> impl Future<Output = RedisResult<()>> + Send;

    /// The connection was lost (or could not be made) after having been up: the local state
    /// stays as it is. For logging what is kept.
    fn on_lost(&mut self, error: &str);
}

/// The handles' side of a running task: send jobs, read the status. Clones share the task,
/// which stops once every handle is dropped.
pub(crate) struct RedisHandle<J> {
    jobs: mpsc::UnboundedSender<J>,
    status: Arc<StatusCell>,
    description: Arc<str>,
}

impl<J> Clone for RedisHandle<J> {
    fn clone(&self) -> Self {
        RedisHandle {
            jobs: self.jobs.clone(),
            status: Arc::clone(&self.status),
            description: Arc::clone(&self.description),
        }
    }
}

impl<J> RedisHandle<J> {
    /// Queues a job; it runs when connected, in order.
    pub(crate) fn send(&self, job: J) {
        // Fails only once the task is gone, and the task outlives every handle.
        let _ = self.jobs.send(job);
    }

    pub(crate) fn status(&self) -> RedisStatus {
        self.status.snapshot()
    }

    /// Waits up to `timeout` for the first full synchronisation; whether it happened.
    pub(crate) async fn wait_synced(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.status.wait_synced())
            .await
            .is_ok()
    }

    /// Where it connects: hosts, never passwords.
    pub(crate) fn description(&self) -> &str {
        &self.description
    }
}

/// Checks `config` and starts `feed`'s task on the current Tokio runtime. It connects (and
/// reconnects) by itself; nothing waits for Redis here.
pub(crate) fn spawn<F: Feed>(
    config: &RedisConfig,
    feed: F,
) -> Result<RedisHandle<F::Job>, RedisError> {
    let target = Target::build(config)?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| RedisError::NoRuntime)?;
    let (jobs, queue) = mpsc::unbounded_channel();
    let status = Arc::new(StatusCell::new(F::METRICS));
    let description: Arc<str> = target.description.clone().into();
    runtime.spawn(run(target, feed, queue, Arc::clone(&status)));
    Ok(RedisHandle {
        jobs,
        status,
        description,
    })
}

enum Ended {
    /// Every handle is gone.
    Closed,
    /// The connection broke.
    Lost(String),
}

async fn run<F: Feed>(
    mut target: Target,
    mut feed: F,
    mut queue: mpsc::UnboundedReceiver<F::Job>,
    status: Arc<StatusCell>,
) {
    let channels = feed.channels();
    let mut backoff = BACKOFF_MIN;
    let mut outage_logged = false;
    loop {
        let ended = match Link::open(&mut target, &channels).await {
            Ok(mut link) => match feed.on_connect(&mut link.commands).await {
                Ok(()) => {
                    status.synced(link.resp3());
                    redis_synced(F::NAME, &target.description, link.resp3());
                    backoff = BACKOFF_MIN;
                    outage_logged = false;
                    serve(&mut feed, &mut link, &mut queue, target.ping_every).await
                }
                Err(error) => Ended::Lost(error.to_string()),
            },
            Err(error) => {
                status.attempt_failed();
                Ended::Lost(error.to_string())
            }
        };
        match ended {
            Ended::Closed => return,
            Ended::Lost(error) => {
                status.lost();
                if !outage_logged {
                    redis_lost(F::NAME, &target.description, &error);
                    feed.on_lost(&error);
                    outage_logged = true;
                }
            }
        }
        if queue.is_closed() {
            return;
        }
        tokio::time::sleep(jitter(backoff)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// `delay` shortened by up to a quarter, so nodes that lost Redis together do not all come
/// back in the same millisecond.
fn jitter(delay: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    delay - delay / 4 * u32::from(byte[0]) / 255
}

async fn serve<F: Feed>(
    feed: &mut F,
    link: &mut Link,
    queue: &mut mpsc::UnboundedReceiver<F::Job>,
    ping_every: Duration,
) -> Ended {
    let start = tokio::time::Instant::now();
    let mut ping = tokio::time::interval_at(start + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = feed.tick_every();
    let mut tick = tokio::time::interval_at(start + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = link.events.next() => match event {
                Event::Message { channel, payload } => feed.on_message(&channel, &payload),
                Event::Lost(error) => return Ended::Lost(error),
            },
            job = queue.recv() => match job {
                Some(job) => {
                    if let Err(error) = feed.on_job(&mut link.commands, job).await {
                        return Ended::Lost(error.to_string());
                    }
                }
                None => return Ended::Closed,
            },
            _ = ping.tick() => {
                if let Err(error) = link.ping().await {
                    return Ended::Lost(error.to_string());
                }
            }
            _ = tick.tick() => {
                if let Err(error) = feed.on_tick(&mut link.commands).await {
                    return Ended::Lost(error.to_string());
                }
            }
        }
    }
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn redis_lost(part: &str, target: &str, error: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        part,
        target,
        error,
        "Redis connection lost or refused: keeping the local state, reconnecting with backoff"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (part, target, error);
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn redis_synced(part: &str, target: &str, resp3: bool) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        part,
        target,
        protocol = if resp3 { "RESP3" } else { "RESP2" },
        "Redis connected: subscribed, state reloaded"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (part, target, resp3);
}

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
/// At most a second between attempts: a node (and the nodes whose writes it waits for)
/// is back within about a second of Redis.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What a Redis-backed part does with its connection. The task calls these in order: on
/// every (re)connection, [`on_connect`](Feed::on_connect) once the subscription is in place;
/// then, while [`loading`](Feed::loading) says a load is under way, [`load_step`](Feed::load_step)
/// one page at a time, with whatever else is ready in between; and
/// [`on_message`](Feed::on_message) for each message, [`on_jobs`](Feed::on_jobs) for the jobs
/// sent through the [`RedisHandle`], [`on_tick`](Feed::on_tick) periodically. An error from any
/// of them ends the connection (a new one is made, and `on_connect` runs again).
pub(crate) trait Feed: Send + 'static {
    /// A unit of work sent by the handles (a write, usually).
    type Job: Send + 'static;

    /// For logs: what this part keeps in Redis ("revocations").
    const NAME: &'static str;

    /// The part's name in metric names: `stateless_session_<METRICS>_connected`, ...
    /// ("revocation"); see [`observability`](crate::observability).
    const METRICS: &'static str;

    /// The most queued jobs handed to [`on_jobs`](Feed::on_jobs) at once.
    const BATCH: usize = 1;

    /// The pub/sub channels to subscribe to.
    fn channels(&self) -> Vec<String>;

    /// The reconnection hook, run on every (re)connection after subscribing: bring the state
    /// up to date, write back what was made locally while disconnected. A part whose full
    /// load is long starts it here and lets [`load_step`](Feed::load_step) carry it on.
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

    /// Up to [`BATCH`](Feed::BATCH) jobs queued together, in order. The default hands them to
    /// [`on_job`](Feed::on_job) one at a time.
    fn on_jobs(
        &mut self,
        commands: &mut Commands,
        jobs: Vec<Self::Job>,
    ) -> impl Future<Output = RedisResult<()>> + Send {
        async move {
            for job in jobs {
                self.on_job(commands, job).await?;
            }
            Ok(())
        }
    }

    /// A load under way, driven page by page by [`load_step`](Feed::load_step): entries
    /// read so far and about how many there are. The default: never.
    fn loading(&self) -> Option<(u64, u64)> {
        None
    }

    /// One step (a page) of the load under way. Each step must be short (well inside the
    /// response timeout) and leave the load resumable where it stopped, should the
    /// connection break.
    fn load_step(
        &mut self,
        commands: &mut Commands,
    ) -> impl Future<Output = RedisResult<()>> + Send {
        let _ = commands;
        async { Ok(()) }
    }

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
                    report(&feed, &status, &link, &target.description);
                    backoff = BACKOFF_MIN;
                    outage_logged = false;
                    let every = target.ping_every;
                    let described = target.description.as_str();
                    serve(
                        &mut feed,
                        &mut link,
                        &mut queue,
                        every,
                        (&status, described),
                    )
                    .await
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

/// Tells the status where the part stands after a step: loading (with its progress), or in
/// step with Redis (logged when it was not before).
fn report<F: Feed>(feed: &F, status: &StatusCell, link: &Link, description: &str) {
    match feed.loading() {
        Some((loaded, expected)) => status.loading(loaded, expected),
        None => {
            if status.synced(link.resp3()) {
                redis_synced(F::NAME, description, link.resp3());
            }
        }
    }
}

/// `delay` shortened by up to a quarter, so nodes that lost Redis together do not all come
/// back in the same millisecond.
fn jitter(delay: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    delay - delay / 4 * u32::from(byte[0]) / 255
}

/// While loading, how many ready events are handled between two pages at most (so the
/// load goes on under a stream of messages, and messages do not wait for the whole load).
const READY_PER_PAGE: usize = 256;

async fn serve<F: Feed>(
    feed: &mut F,
    link: &mut Link,
    queue: &mut mpsc::UnboundedReceiver<F::Job>,
    ping_every: Duration,
    (status, description): (&StatusCell, &str),
) -> Ended {
    let start = tokio::time::Instant::now();
    let mut ping = tokio::time::interval_at(start + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = feed.tick_every();
    let mut tick = tokio::time::interval_at(start + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut clocks = (&mut ping, &mut tick);
    loop {
        if feed.loading().is_some() {
            // A page of the load, then what is ready, without waiting for more.
            if let Err(error) = feed.load_step(&mut link.commands).await {
                return Ended::Lost(error.to_string());
            }
            report(feed, status, link, description);
            for _ in 0..READY_PER_PAGE {
                let event = tokio::select! {
                    biased;
                    event = wait::<F>(link, queue, &mut clocks) => event,
                    () = std::future::ready(()) => break,
                };
                if let Some(ended) = handle(feed, link, event).await {
                    return ended;
                }
            }
        } else {
            let event = wait::<F>(link, queue, &mut clocks).await;
            if let Some(ended) = handle(feed, link, event).await {
                return ended;
            }
            // A tick or a message may have started a load.
            if feed.loading().is_some() {
                report(feed, status, link, description);
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

/// What woke the task up.
enum Wake<J> {
    Message { channel: String, payload: Vec<u8> },
    Jobs(Vec<J>),
    Ping,
    Tick,
    Ended(Ended),
}

/// Waits for the next event: a message, queued jobs (up to `F::BATCH`), a ping or a tick
/// due. Cancel-safe: nothing is taken until it returns.
async fn wait<F: Feed>(
    link: &mut Link,
    queue: &mut mpsc::UnboundedReceiver<F::Job>,
    (ping, tick): &mut (&mut tokio::time::Interval, &mut tokio::time::Interval),
) -> Wake<F::Job> {
    tokio::select! {
        event = link.events.next() => match event {
            Event::Message { channel, payload } => Wake::Message { channel, payload },
            Event::Lost(error) => Wake::Ended(Ended::Lost(error)),
        },
        job = queue.recv() => match job {
            Some(job) => {
                let mut jobs = vec![job];
                while jobs.len() < F::BATCH {
                    match queue.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                Wake::Jobs(jobs)
            }
            None => Wake::Ended(Ended::Closed),
        },
        _ = ping.tick() => Wake::Ping,
        _ = tick.tick() => Wake::Tick,
    }
}

/// Handles one event to the end; `Some` when the connection ended.
async fn handle<F: Feed>(feed: &mut F, link: &mut Link, wake: Wake<F::Job>) -> Option<Ended> {
    let result = match wake {
        Wake::Message { channel, payload } => {
            feed.on_message(&channel, &payload);
            Ok(())
        }
        Wake::Jobs(jobs) => feed.on_jobs(&mut link.commands, jobs).await,
        Wake::Ping => link.ping().await,
        Wake::Tick => feed.on_tick(&mut link.commands).await,
        Wake::Ended(ended) => return Some(ended),
    };
    result.err().map(|error| Ended::Lost(error.to_string()))
}

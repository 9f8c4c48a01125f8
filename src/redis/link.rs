//! One connection's life: open it (commands and subscription), read its events, ping it.

use std::time::Duration;

use ::redis::aio::{ConnectionLike, MultiplexedConnection, PubSubSink, PubSubStream};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{
    AsyncConnectionConfig, Client, Cmd, ErrorKind, Pipeline, ProtocolVersion, PushInfo, PushKind,
    RedisFuture, RedisResult, Value,
};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::target::{ClusterTarget, Target, TargetKind};

/// The command side of a link: one multiplexed connection to a server (plain or found
/// through Sentinel), or a cluster connection that routes each command to its slot's node.
/// Use it with redis-rs commands and pipelines (`query_async(&mut commands)`).
#[derive(Clone)]
pub(crate) enum Commands {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Commands::Single(c) => c.req_packed_command(cmd),
            Commands::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Commands::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Commands::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Commands::Single(c) => c.get_db(),
            Commands::Cluster(c) => c.get_db(),
        }
    }
}

/// What the subscription delivered.
pub(crate) enum Event {
    /// A message on one of the channels.
    Message { channel: String, payload: Vec<u8> },
    /// The link is broken (closed by the server, network cut, unsubscribed by force).
    Lost(String),
}

/// Where the subscription's messages arrive.
pub(crate) enum Events {
    /// RESP3: push messages of the command connection (also tells of its disconnection).
    Push(mpsc::UnboundedReceiver<PushInfo>),
    /// RESP2: a connection of its own, in subscriber mode.
    PubSub {
        sink: PubSubSink,
        stream: PubSubStream,
    },
}

impl Events {
    /// The next message, or the loss of the link. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Event {
        match self {
            Events::Push(receiver) => loop {
                let Some(push) = receiver.recv().await else {
                    return Event::Lost("the connection closed".into());
                };
                match push.kind {
                    PushKind::Message => {
                        let mut data = push.data.into_iter();
                        if let (Some(channel), Some(payload)) = (data.next(), data.next())
                            && let (Some(channel), Some(payload)) = (bytes(channel), bytes(payload))
                        {
                            return Event::Message {
                                channel: String::from_utf8_lossy(&channel).into_owned(),
                                payload,
                            };
                        }
                    }
                    PushKind::Disconnection => {
                        return Event::Lost("the connection closed".into());
                    }
                    PushKind::Unsubscribe => {
                        return Event::Lost("unsubscribed by the server".into());
                    }
                    _ => {}
                }
            },
            Events::PubSub { stream, .. } => match stream.next().await {
                Some(message) => Event::Message {
                    channel: message.get_channel_name().to_owned(),
                    payload: message.get_payload_bytes().to_vec(),
                },
                None => Event::Lost("the subscriber connection closed".into()),
            },
        }
    }
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}

/// A working connection: commands, and the subscription to the channels asked for.
pub(crate) struct Link {
    pub(crate) commands: Commands,
    pub(crate) events: Events,
    response_timeout: Duration,
}

impl Link {
    /// Whether the link speaks RESP3: its subscription then arrives as push messages on
    /// the command connection (RESP2 needs a subscriber connection of its own).
    pub(crate) fn resp3(&self) -> bool {
        matches!(self.events, Events::Push(_))
    }

    /// Connects (asking the sentinels for the primary first, if that is the form) and
    /// subscribes to `channels`. A server that does not speak RESP3 is spoken to in RESP2
    /// from then on.
    pub(crate) async fn open(target: &mut Target, channels: &[String]) -> RedisResult<Link> {
        let limit = target.connect_timeout * 2 + target.response_timeout * 2;
        let attempt = async {
            let limits = target_timeouts(target);
            loop {
                let protocol = target.protocol;
                let opened = match &mut target.kind {
                    TargetKind::Single(client) => {
                        open_single(client.clone(), protocol, channels, limits).await
                    }
                    TargetKind::Sentinel(sentinel) => {
                        let client = sentinel.client.async_get_client().await?;
                        open_single(client, protocol, channels, limits).await
                    }
                    TargetKind::Cluster(cluster) => {
                        open_cluster(cluster, protocol, channels, limits).await
                    }
                };
                match opened {
                    Err(e) if protocol == ProtocolVersion::RESP3 && no_resp3(&e) => {
                        target.protocol = ProtocolVersion::RESP2;
                    }
                    other => return other,
                }
            }
        };
        tokio::time::timeout(limit, attempt)
            .await
            .map_err(|_| timed_out("connecting"))?
    }

    /// `PING` on the command connection and, with RESP2, on the subscriber connection.
    pub(crate) async fn ping(&mut self) -> RedisResult<()> {
        let limit = self.response_timeout;
        let ping = ::redis::cmd("PING");
        tokio::time::timeout(limit, ping.query_async::<()>(&mut self.commands))
            .await
            .map_err(|_| timed_out("PING"))??;
        if let Events::PubSub { sink, .. } = &mut self.events {
            tokio::time::timeout(limit, sink.ping::<()>())
                .await
                .map_err(|_| timed_out("PING on the subscriber"))??;
        }
        Ok(())
    }
}

/// Whether `error` says the server does not know `HELLO` (Redis before 6, or a server or
/// proxy without it): then it speaks RESP2 only. redis-rs recognises the message of old
/// servers; newer ones word it differently.
fn no_resp3(error: &::redis::RedisError) -> bool {
    if error.kind() == ErrorKind::RESP3NotSupported {
        return true;
    }
    let text = error.to_string().to_ascii_lowercase();
    text.contains("unknown command") && text.contains("hello")
}

fn timed_out(what: &str) -> ::redis::RedisError {
    ::redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("Redis: {what} timed out"),
    ))
}

#[derive(Clone, Copy)]
struct Limits {
    connect: Duration,
    response: Duration,
}

fn target_timeouts(target: &Target) -> Limits {
    Limits {
        connect: target.connect_timeout,
        response: target.response_timeout,
    }
}

fn connection_config(timeouts: Limits) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.response))
}

/// `client` with its protocol replaced.
fn speaking(client: &Client, protocol: ProtocolVersion) -> RedisResult<Client> {
    let info = client.get_connection_info().clone();
    let redis = info.redis_settings().clone().set_protocol(protocol);
    Client::open(info.set_redis_settings(redis))
}

async fn open_single(
    client: Client,
    protocol: ProtocolVersion,
    channels: &[String],
    timeouts: Limits,
) -> RedisResult<Link> {
    let client = speaking(&client, protocol)?;
    if protocol == ProtocolVersion::RESP3 {
        let (sender, receiver) = mpsc::unbounded_channel();
        let config = connection_config(timeouts).set_push_sender(sender);
        let mut commands = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        commands.subscribe(channels).await?;
        return Ok(Link {
            commands: Commands::Single(commands),
            events: Events::Push(receiver),
            response_timeout: timeouts.response,
        });
    }
    let commands = client
        .get_multiplexed_async_connection_with_config(&connection_config(timeouts))
        .await?;
    let events = subscriber(&client, channels).await?;
    Ok(Link {
        commands: Commands::Single(commands),
        events,
        response_timeout: timeouts.response,
    })
}

/// A RESP2 subscriber connection of its own.
async fn subscriber(client: &Client, channels: &[String]) -> RedisResult<Events> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channels).await?;
    let (sink, stream) = pubsub.split();
    Ok(Events::PubSub { sink, stream })
}

async fn open_cluster(
    cluster: &ClusterTarget,
    protocol: ProtocolVersion,
    channels: &[String],
    timeouts: Limits,
) -> RedisResult<Link> {
    let invalid = |e: super::RedisError| {
        ::redis::RedisError::from((ErrorKind::InvalidClientConfig, "cluster", e.to_string()))
    };
    if protocol == ProtocolVersion::RESP3 {
        let (sender, receiver) = mpsc::unbounded_channel();
        let client = cluster
            .client(protocol, Some(sender), timeouts.connect, timeouts.response)
            .map_err(invalid)?;
        let mut commands = client.get_async_connection().await?;
        // A cluster delivers a classic PUBLISH to every node, so a subscription on any node
        // hears every message; redis-rs keeps it through topology changes.
        commands.subscribe(channels).await?;
        return Ok(Link {
            commands: Commands::Cluster(commands),
            events: Events::Push(receiver),
            response_timeout: timeouts.response,
        });
    }
    let client = cluster
        .client(protocol, None, timeouts.connect, timeouts.response)
        .map_err(invalid)?;
    let commands = client.get_async_connection().await?;
    // RESP2: a subscriber connection to the first seed that answers.
    let mut last_error = None;
    for seed in 0..cluster.seeds().len() {
        let subscribed = async {
            let client = cluster.seed_client(seed, protocol).map_err(invalid)?;
            subscriber(&client, channels).await
        };
        match subscribed.await {
            Ok(events) => {
                return Ok(Link {
                    commands: Commands::Cluster(commands),
                    events,
                    response_timeout: timeouts.response,
                });
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| timed_out("subscribing")))
}

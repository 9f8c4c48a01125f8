//! A minimal Redis client: RESP2 over TCP, enough for the revocation store (AUTH, SELECT,
//! ZADD, ZRANGEBYSCORE, ZREMRANGEBYSCORE, PUBLISH, SUBSCRIBE).

use std::io;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Largest bulk string accepted in a reply.
const MAX_BULK: usize = 16 * 1024 * 1024;
/// Largest array accepted in a reply.
const MAX_ARRAY: usize = 16 * 1024 * 1024;

/// Where and how to connect, parsed from `redis://[[user]:password@]host[:port][/db]`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Address {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: Option<u32>,
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(f, "redis://{}:{}", self.host, self.port)?;
        if let Some(db) = self.db {
            write!(f, "/{db}")?;
        }
        Ok(())
    }
}

impl Address {
    pub(crate) fn parse(url: &str) -> Result<Self, &'static str> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or("the URL must start with redis:// (TLS is not supported)")?;
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        let (user, password) = match credentials {
            None => (None, None),
            Some(c) => match c.split_once(':') {
                Some((u, p)) => ((!u.is_empty()).then(|| u.to_owned()), Some(p.to_owned())),
                None => (Some(c.to_owned()), None),
            },
        };
        let (host, port) = if let Some(inner) = host_port.strip_prefix('[') {
            let (h, after) = inner.split_once(']').ok_or("unclosed [ in the host")?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| "the port is not a number")?,
                None if after.is_empty() => 6379,
                None => return Err("unexpected text after the host"),
            };
            (h.to_owned(), port)
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_owned(),
                    p.parse().map_err(|_| "the port is not a number")?,
                ),
                None => (host_port.to_owned(), 6379),
            }
        };
        if host.is_empty() {
            return Err("the URL has no host");
        }
        let db = match path.trim_end_matches('/') {
            "" => None,
            n => Some(n.parse().map_err(|_| "the database is not a number")?),
        };
        Ok(Address {
            host,
            port,
            user,
            password,
            db,
        })
    }
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Value>>),
}

fn protocol(message: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("redis protocol: {message}"),
    )
}

/// One connection.
pub(crate) struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
}

impl Connection {
    /// Connects, authenticates and selects the database, within `timeout`.
    pub(crate) async fn open(address: &Address, timeout: Duration) -> io::Result<Self> {
        let connect = TcpStream::connect((address.host.as_str(), address.port));
        let stream = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "redis connect timed out"))??;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        let mut connection = Connection {
            reader: BufReader::new(read),
            writer: BufWriter::new(write),
        };
        if let Some(password) = &address.password {
            match &address.user {
                Some(user) => {
                    connection
                        .command(&[b"AUTH", user.as_bytes(), password.as_bytes()])
                        .await?
                }
                None => connection.command(&[b"AUTH", password.as_bytes()]).await?,
            };
        }
        if let Some(db) = address.db {
            connection
                .command(&[b"SELECT", db.to_string().as_bytes()])
                .await?;
        }
        Ok(connection)
    }

    /// Buffers a command without sending it (for pipelines).
    pub(crate) async fn queue(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        frame.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            frame.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            frame.extend_from_slice(arg);
            frame.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&frame).await
    }

    /// Sends what was queued.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        self.writer.flush().await
    }

    /// Sends one command and reads its reply; a Redis error reply becomes an `io::Error`.
    pub(crate) async fn command(&mut self, args: &[&[u8]]) -> io::Result<Value> {
        self.queue(args).await?;
        self.flush().await?;
        self.reply().await
    }

    /// Reads one reply; a Redis error reply becomes an `io::Error`.
    pub(crate) async fn reply(&mut self) -> io::Result<Value> {
        match self.read().await? {
            Value::Error(message) => Err(io::Error::other(format!("redis: {message}"))),
            value => Ok(value),
        }
    }

    async fn line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let n = self.reader.read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "redis closed the connection",
            ));
        }
        if !line.ends_with(b"\r\n") {
            return Err(protocol("a line does not end with CRLF"));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn number(bytes: &[u8]) -> io::Result<i64> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| protocol("a length or integer is not a number"))
    }

    /// Reads one value (arrays of any depth, without recursion).
    pub(crate) async fn read(&mut self) -> io::Result<Value> {
        // Open arrays: items so far and how many are still expected.
        let mut open: Vec<(Vec<Value>, usize)> = Vec::new();
        loop {
            let line = self.line().await?;
            let (&kind, body) = line
                .split_first()
                .ok_or_else(|| protocol("an empty line"))?;
            let mut value = match kind {
                b'+' => Value::Simple(String::from_utf8_lossy(body).into_owned()),
                b'-' => Value::Error(String::from_utf8_lossy(body).into_owned()),
                b':' => Value::Int(Self::number(body)?),
                b'$' => match Self::number(body)? {
                    -1 => Value::Bulk(None),
                    n if n >= 0 && (n as usize) <= MAX_BULK => {
                        let mut data = vec![0u8; n as usize + 2];
                        self.reader.read_exact(&mut data).await?;
                        if !data.ends_with(b"\r\n") {
                            return Err(protocol("a bulk string does not end with CRLF"));
                        }
                        data.truncate(n as usize);
                        Value::Bulk(Some(data))
                    }
                    _ => return Err(protocol("a bulk length is out of range")),
                },
                b'*' => match Self::number(body)? {
                    -1 => Value::Array(None),
                    0 => Value::Array(Some(Vec::new())),
                    n if n > 0 && (n as usize) <= MAX_ARRAY => {
                        open.push((Vec::with_capacity((n as usize).min(1024)), n as usize));
                        continue;
                    }
                    _ => return Err(protocol("an array length is out of range")),
                },
                _ => return Err(protocol("an unknown reply type")),
            };
            // Hand the value to the innermost open array, closing arrays as they fill.
            loop {
                let Some((items, remaining)) = open.last_mut() else {
                    return Ok(value);
                };
                items.push(value);
                *remaining -= 1;
                if *remaining > 0 {
                    break;
                }
                let (items, _) = open.pop().unwrap_or_default();
                value = Value::Array(Some(items));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let a = Address::parse("redis://127.0.0.1:6380/2").expect("url");
        assert_eq!(
            (a.host.as_str(), a.port, a.db),
            ("127.0.0.1", 6380, Some(2))
        );
        let a = Address::parse("redis://:s3cret@localhost").expect("url");
        assert_eq!(
            (a.port, a.user.as_deref(), a.password.as_deref()),
            (6379, None, Some("s3cret"))
        );
        let a = Address::parse("redis://app:pw@[::1]:7000/").expect("url");
        assert_eq!(
            (a.host.as_str(), a.port, a.user.as_deref()),
            ("::1", 7000, Some("app"))
        );
        assert!(!format!("{a:?}").contains("pw"), "Debug hides the password");
        for bad in [
            "http://x",
            "redis://",
            "redis://h:port",
            "redis://h/db",
            "redis://[::1",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[tokio::test]
    async fn replies_of_every_kind_parse() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 64];
            let _ = socket.read(&mut buf).await;
            socket
                .write_all(
                    b"*5\r\n+OK\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n*0\r\n*1\r\n$0\r\n\r\n-ERR bad\r\n",
                )
                .await
                .expect("write");
        });
        let address = Address::parse(&format!("redis://{addr}")).expect("url");
        let mut c = Connection::open(&address, Duration::from_secs(2))
            .await
            .expect("open");
        let value = c.command(&[b"PING"]).await.expect("reply");
        assert_eq!(
            value,
            Value::Array(Some(vec![
                Value::Simple("OK".into()),
                Value::Int(42),
                Value::Bulk(Some(b"abc".to_vec())),
                Value::Bulk(None),
                Value::Array(Some(vec![
                    Value::Array(Some(vec![])),
                    Value::Array(Some(vec![Value::Bulk(Some(vec![]))])),
                ])),
            ]))
        );
        let error = c.reply().await.expect_err("an error reply");
        assert!(error.to_string().contains("ERR bad"), "{error}");
    }
}

//! The connection layer: one multiplexed connection to a standalone or Sentinel-chosen master,
//! or a Cluster connection; the commands the store sends; replies and errors classified.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::RwLock;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisConnectionInfo, Value};

use crate::error::RedisStoreError;
use crate::options::RedisOptions;
use crate::target::Target;

/// The check-and-insert script (RFC 9449 §11.1), one round trip per proof.
///
/// `KEYS[1]` the `jti` key, `KEYS[2]` its tag's epoch key; `ARGV[1]` the epoch value this
/// instance knows, `ARGV[2]` this call's token, `ARGV[3]` the entry's life in milliseconds.
/// Replies: `1` inserted (or already inserted by this very call: the token matches, so a
/// resend by the driver is recognised), `0` replay, `-1` epoch missing, a bulk string: the
/// epoch now stored (another one).
pub(crate) const CHECK_SCRIPT: &str = "\
local e = redis.call('GET', KEYS[2])
if e ~= ARGV[1] then
  if e then return e end
  return -1
end
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[2] then return 1 end
return 0
";

/// Reads an epoch key, creating it with `ARGV[1]` when missing; replies with the value held.
pub(crate) const EPOCH_SCRIPT: &str = "\
local e = redis.call('GET', KEYS[1])
if e then return e end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
";

/// What the driver answered, reduced to what the store acts on.
#[derive(Debug)]
pub(crate) enum Failure {
    /// `OOM`: a `noeviction` server is full.
    Oom,
    /// The connection is gone or unusable (I/O error, closed, `READONLY`: the server is no
    /// longer a master); a new one is needed.
    Connection(String),
    /// `NOSCRIPT`: the server does not know the script (restarted, flushed); nothing ran.
    NoScript,
    /// The driver's own response timeout (Cluster): the reply may still come.
    Timeout,
    /// Anything else (`CLUSTERDOWN`, `MOVED` after the driver's retries, `BUSY`, `LOADING`,
    /// an unexpected reply …).
    Other(String),
}

impl Failure {
    pub(crate) fn from_error(e: &redis::RedisError) -> Self {
        match e.code() {
            Some("OOM") => return Self::Oom,
            Some("NOSCRIPT") => return Self::NoScript,
            Some("READONLY") => return Self::Connection(e.to_string()),
            _ => {}
        }
        // A script error wraps the command's error: `ERR Error running script … OOM …` on
        // older servers.
        let text = e.to_string();
        if text.contains("OOM command not allowed") {
            return Self::Oom;
        }
        if text.contains("READONLY") {
            return Self::Connection(text);
        }
        if e.is_timeout() {
            return Self::Timeout;
        }
        if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() {
            return Self::Connection(text);
        }
        Self::Other(text)
    }

    pub(crate) fn from_server_error(e: redis::ServerError) -> Self {
        Self::from_error(&redis::RedisError::from(e))
    }
}

/// A live connection to one node and the generation it was installed with.
#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) conn: MultiplexedConnection,
    pub(crate) generation: u64,
    pub(crate) node: String,
}

enum Source {
    Direct(Client),
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

/// A standalone server or the master Sentinel names: one multiplexed connection, replaced
/// (with an identity check, done by the store) when it breaks.
pub(crate) struct Single {
    source: Source,
    config: AsyncConnectionConfig,
    live: RwLock<Option<Live>>,
    generations: AtomicU64,
    pub(crate) reconnecting: AtomicBool,
    pub(crate) timeouts: AtomicU32,
}

impl Single {
    /// The connection in use, if any.
    pub(crate) fn current(&self) -> Option<Live> {
        self.live.read().ok().and_then(|l| l.clone())
    }

    /// Drops the connection of `generation` (not a newer one); true if it was the current one.
    pub(crate) fn invalidate(&self, generation: u64) -> bool {
        let Ok(mut live) = self.live.write() else {
            return false;
        };
        if live.as_ref().is_some_and(|l| l.generation == generation) {
            *live = None;
            true
        } else {
            false
        }
    }

    /// Installs a connection opened with [`Single::open`].
    pub(crate) fn install(&self, live: Live) {
        if let Ok(mut l) = self.live.write() {
            *l = Some(live);
        }
        self.timeouts.store(0, Ordering::Relaxed);
    }

    /// Opens a new connection to the master (not installed).
    pub(crate) async fn open(&self) -> redis::RedisResult<Live> {
        let client = match &self.source {
            Source::Direct(c) => c.clone(),
            Source::Sentinel(s) => s.lock().await.async_get_client().await?,
        };
        let node = node_name(&client);
        let conn = client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        Ok(Live {
            conn,
            generation,
            node,
        })
    }

    /// The master Sentinel names now (`None` for a direct connection).
    pub(crate) async fn sentinel_master(&self) -> Option<redis::RedisResult<String>> {
        match &self.source {
            Source::Direct(_) => None,
            Source::Sentinel(s) => Some(
                s.lock()
                    .await
                    .async_get_client()
                    .await
                    .map(|c| node_name(&c)),
            ),
        }
    }
}

/// A client for one server URL, with the configured TLS roots for `rediss://`.
fn standalone_client(url: &str, opts: &RedisOptions) -> Result<Client, RedisStoreError> {
    let invalid = |e: redis::RedisError| RedisStoreError::InvalidUrl {
        reason: e.to_string(),
    };
    #[cfg(feature = "tls")]
    if let Some(pem) = &opts.tls_root_pem {
        return Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            },
        )
        .map_err(invalid);
    }
    let _ = opts;
    Client::open(url).map_err(invalid)
}

/// One request on one connection: `Err` for a broken connection, `Ok(Err(text))` for an
/// error reply.
async fn on_conn(
    conn: &mut MultiplexedConnection,
    c: &Cmd,
) -> redis::RedisResult<Result<Value, String>> {
    match conn.req_packed_command(c).await {
        Err(e) if matches!(Failure::from_error(&e), Failure::Connection(_)) => Err(e),
        Err(e) => Ok(Err(e.to_string())),
        Ok(v) => Ok(v.extract_error().map_err(|e| e.to_string())),
    }
}

impl Live {
    /// This node's identity and its `maxmemory-policy` (or why it could not be read).
    pub(crate) async fn identify(&self) -> redis::RedisResult<(NodeInfo, Result<String, String>)> {
        let mut conn = self.conn.clone();
        let mut server = redis::cmd("INFO");
        server.arg("server");
        let mut repl = redis::cmd("INFO");
        repl.arg("replication");
        let mut stats = redis::cmd("INFO");
        stats.arg("stats");
        let mut policy = redis::cmd("CONFIG");
        policy.arg("GET").arg("maxmemory-policy");
        let server = on_conn(&mut conn, &server).await?;
        let repl = on_conn(&mut conn, &repl).await?;
        let stats = on_conn(&mut conn, &stats).await?;
        let policy = on_conn(&mut conn, &policy).await?;
        let (Ok(server), Ok(repl), Ok(stats)) = (server, repl, stats) else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "INFO refused",
            )));
        };
        Ok((
            NodeInfo::parse(
                self.node.clone(),
                &[&text_of(&server), &text_of(&repl), &text_of(&stats)],
            ),
            policy.and_then(policy_of),
        ))
    }
}

/// The value of a `CONFIG GET maxmemory-policy` reply.
fn policy_of(v: Value) -> Result<String, String> {
    let items: Vec<Value> = match v {
        Value::Array(a) => a,
        Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => return Err(format!("unexpected reply {other:?}")),
    };
    match items.get(1) {
        Some(v) => Ok(String::from_utf8_lossy(&text_of(v)).into_owned()),
        None => Err("CONFIG GET returned no value (command renamed?)".to_owned()),
    }
}

fn node_name(client: &Client) -> String {
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(h, p)
        | redis::ConnectionAddr::TcpTls {
            host: h, port: p, ..
        } => {
            format!("{h}:{p}")
        }
        other => format!("{other}"),
    }
}

/// Standalone/Sentinel or Cluster.
pub(crate) enum Backend {
    Single(Box<Single>),
    Cluster(Box<Cluster>),
}

/// A Cluster connection, rebuilt from its client when it stops answering: redis-rs 1.8's
/// cluster connection can stay wedged after many requests met a dead node (every later
/// request times out, even once the node is back), so the store replaces it.
pub(crate) struct Cluster {
    client: redis::cluster::ClusterClient,
    conn: RwLock<ClusterConnection>,
    pub(crate) rebuilding: AtomicBool,
    pub(crate) timeouts: AtomicU32,
    pub(crate) last_rebuild_ms: AtomicU64,
}

impl Cluster {
    /// The connection in use.
    pub(crate) fn current(&self) -> Option<ClusterConnection> {
        self.conn.read().ok().map(|c| c.clone())
    }

    /// Opens a new connection (not installed).
    pub(crate) async fn open(&self) -> redis::RedisResult<ClusterConnection> {
        self.client.get_async_connection().await
    }

    /// Replaces the connection in use.
    pub(crate) fn install(&self, conn: ClusterConnection) {
        if let Ok(mut c) = self.conn.write() {
            *c = conn;
        }
        self.timeouts.store(0, Ordering::Relaxed);
    }
}

/// One server's identity and settings, from `INFO server` and `INFO replication`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NodeInfo {
    pub(crate) node: String,
    pub(crate) run_id: String,
    pub(crate) role: String,
    pub(crate) replid: String,
    pub(crate) replid2: String,
    pub(crate) uptime_s: u64,
    pub(crate) evicted_keys: u64,
}

impl NodeInfo {
    fn parse(node: String, sections: &[&[u8]]) -> Self {
        let mut info = Self {
            node,
            ..Self::default()
        };
        for text in sections {
            for line in String::from_utf8_lossy(text).lines() {
                let Some((k, v)) = line.trim_end().split_once(':') else {
                    continue;
                };
                match k {
                    "run_id" => info.run_id = v.to_owned(),
                    "role" => info.role = v.to_owned(),
                    "master_replid" => info.replid = v.to_owned(),
                    "master_replid2" => info.replid2 = v.to_owned(),
                    "uptime_in_seconds" => info.uptime_s = v.parse().unwrap_or(0),
                    "evicted_keys" => info.evicted_keys = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        info
    }

    /// Was promoted from replica: it keeps its former master's replication id as `replid2`.
    pub(crate) fn was_promoted(&self) -> bool {
        !self.replid2.is_empty() && self.replid2.bytes().any(|b| b != b'0')
    }
}

/// One check's outcome as the script (and `WAIT`) answered it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Inserted,
    Replayed,
    EpochMissing,
    EpochChanged(Vec<u8>),
}

impl Backend {
    /// Connects to `target` and checks nothing yet (the store does).
    pub(crate) async fn connect(
        target: &Target,
        opts: &RedisOptions,
    ) -> Result<Self, RedisStoreError> {
        let unreachable = |e: redis::RedisError| RedisStoreError::Unreachable {
            target: target.redacted(),
            detail: e.to_string(),
        };
        // No driver response timeout: the store times each call itself, and a late reply
        // must not cost the connection (and every other call in flight on it).
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(opts.connect_timeout))
            .set_response_timeout(None);
        match target {
            Target::Standalone { url } => {
                let client = standalone_client(url, opts)?;
                let single = Single {
                    source: Source::Direct(client),
                    config,
                    live: RwLock::new(None),
                    generations: AtomicU64::new(1),
                    reconnecting: AtomicBool::new(false),
                    timeouts: AtomicU32::new(0),
                };
                let live = single.open().await.map_err(unreachable)?;
                single.install(live);
                Ok(Self::Single(Box::new(single)))
            }
            Target::Sentinel {
                sentinels,
                service,
                db,
                username,
                password,
            } => {
                let mut info = RedisConnectionInfo::default().set_db(*db);
                if let Some(u) = username {
                    info = info.set_username(u);
                }
                if let Some(p) = password {
                    info = info.set_password(p);
                }
                let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
                let client = SentinelClient::build(
                    sentinels.clone(),
                    service.clone(),
                    Some(node),
                    SentinelServerType::Master,
                )
                .map_err(|e| RedisStoreError::InvalidUrl {
                    reason: e.to_string(),
                })?;
                let single = Single {
                    source: Source::Sentinel(tokio::sync::Mutex::new(client)),
                    config,
                    live: RwLock::new(None),
                    generations: AtomicU64::new(1),
                    reconnecting: AtomicBool::new(false),
                    timeouts: AtomicU32::new(0),
                };
                let live = tokio::time::timeout(opts.connect_timeout, single.open())
                    .await
                    .map_err(|_| RedisStoreError::Unreachable {
                        target: target.redacted(),
                        detail: "timed out asking Sentinel for the master".to_owned(),
                    })?
                    .map_err(unreachable)?;
                single.install(live);
                Ok(Self::Single(Box::new(single)))
            }
            Target::Cluster { seeds } => {
                let builder = redis::cluster::ClusterClientBuilder::new(seeds.clone())
                    .connection_timeout(opts.connect_timeout);
                #[cfg(feature = "tls")]
                let builder = match &opts.tls_root_pem {
                    Some(pem) => builder.certs(redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem.clone()),
                    }),
                    None => builder,
                };
                let client = builder.build().map_err(|e| RedisStoreError::InvalidUrl {
                    reason: e.to_string(),
                })?;
                let conn =
                    tokio::time::timeout(opts.connect_timeout, client.get_async_connection())
                        .await
                        .map_err(|_| RedisStoreError::Unreachable {
                            target: target.redacted(),
                            detail: "timed out connecting to the cluster".to_owned(),
                        })?
                        .map_err(unreachable)?;
                Ok(Self::Cluster(Box::new(Cluster {
                    client,
                    conn: RwLock::new(conn),
                    rebuilding: AtomicBool::new(false),
                    timeouts: AtomicU32::new(0),
                    last_rebuild_ms: AtomicU64::new(0),
                })))
            }
        }
    }

    fn cluster_conn(c: &Cluster) -> redis::RedisResult<ClusterConnection> {
        c.current().ok_or_else(|| {
            redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "cluster connection lock poisoned",
            ))
        })
    }

    fn single_conn(s: &Single) -> redis::RedisResult<Live> {
        s.current().ok_or_else(|| {
            redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "not connected (reconnecting)",
            ))
        })
    }

    /// Runs the check script (and `WAIT`), falling back from `EVALSHA` to `EVAL` on
    /// `NOSCRIPT` (nothing ran, so sending again is safe).
    pub(crate) async fn check(
        &self,
        sha: &str,
        keys: [&[u8]; 2],
        epoch: &[u8],
        token: i64,
        ttl_ms: u64,
        wait: Option<(u32, u64)>,
    ) -> Result<Reply, (Failure, Option<u64>)> {
        let mut generation = None;
        for by_sha in [true, false] {
            let mut c = if by_sha {
                redis::cmd("EVALSHA")
            } else {
                redis::cmd("EVAL")
            };
            c.arg(if by_sha { sha } else { CHECK_SCRIPT })
                .arg(2)
                .arg(keys[0])
                .arg(keys[1])
                .arg(epoch)
                .arg(token)
                .arg(ttl_ms);
            let replies = match self {
                Self::Single(s) => {
                    let live = Self::single_conn(s).map_err(|e| (Failure::from_error(&e), None))?;
                    generation = Some(live.generation);
                    let mut conn = live.conn;
                    match wait {
                        None => conn.req_packed_command(&c).await.map(|v| vec![v]),
                        Some((n, ms)) => {
                            let mut p = Pipeline::new();
                            p.add_command(c).add_command(wait_cmd(n, ms));
                            conn.req_packed_commands(&p, 0, 2).await
                        }
                    }
                }
                Self::Cluster(cl) => {
                    let mut conn =
                        Self::cluster_conn(cl).map_err(|e| (Failure::from_error(&e), None))?;
                    match wait {
                        None => conn.req_packed_command(&c).await.map(|v| vec![v]),
                        Some((n, ms)) => {
                            let mut p = Pipeline::new();
                            p.add_command(c).add_command(wait_cmd(n, ms));
                            let route = SingleNodeRoutingInfo::SpecificNode(Route::with_key(
                                keys[0],
                                SlotAddr::Master,
                            ));
                            conn.route_pipeline(p, 0, 2, route).await
                        }
                    }
                }
            };
            let mut replies = replies
                .map_err(|e| (Failure::from_error(&e), generation))?
                .into_iter();
            let script = replies.next().unwrap_or(Value::Nil);
            let reply = match script {
                Value::ServerError(e) => match Failure::from_server_error(e) {
                    Failure::NoScript if by_sha => continue,
                    f => return Err((f, generation)),
                },
                Value::Int(1) => Reply::Inserted,
                Value::Int(0) => Reply::Replayed,
                Value::Int(-1) => Reply::EpochMissing,
                Value::BulkString(e) => Reply::EpochChanged(e),
                other => {
                    return Err((
                        Failure::Other(format!("unexpected script reply {other:?}")),
                        generation,
                    ));
                }
            };
            if let (Reply::Inserted, Some((n, _))) = (&reply, wait) {
                match replies.next() {
                    Some(Value::Int(acks)) if acks >= i64::from(n) => {}
                    Some(Value::Int(acks)) => {
                        return Err((
                            Failure::Other(format!("WAIT: {acks} of {n} replicas acknowledged")),
                            generation,
                        ));
                    }
                    other => {
                        return Err((
                            Failure::Other(format!("unexpected WAIT reply {other:?}")),
                            generation,
                        ));
                    }
                }
            }
            return Ok(reply);
        }
        Err((Failure::Other("NOSCRIPT after EVAL".to_owned()), generation))
    }

    /// `GET` the epoch key, or create it with `candidate`; the value held afterwards.
    pub(crate) async fn get_or_create_epoch(
        &self,
        key: &[u8],
        candidate: &[u8],
    ) -> redis::RedisResult<Vec<u8>> {
        let mut c = redis::cmd("EVAL");
        c.arg(EPOCH_SCRIPT).arg(1).arg(key).arg(candidate);
        let v = self.request(&c).await?;
        match v {
            Value::BulkString(b) => Ok(b),
            other => Err(unexpected("epoch script", &other)),
        }
    }

    /// Overwrites the epoch key (after a state loss this instance detected).
    pub(crate) async fn set_epoch(&self, key: &[u8], value: &[u8]) -> redis::RedisResult<()> {
        let mut c = redis::cmd("SET");
        c.arg(key).arg(value);
        match self.request(&c).await? {
            Value::Okay => Ok(()),
            other => Err(unexpected("SET epoch", &other)),
        }
    }

    /// Loads the check script on every node (`SCRIPT LOAD` goes to all nodes in Cluster).
    pub(crate) async fn load_script(&self) -> redis::RedisResult<()> {
        let mut c = redis::cmd("SCRIPT");
        c.arg("LOAD").arg(CHECK_SCRIPT);
        match self {
            Self::Single(_) => self.request(&c).await.map(|_| ()),
            Self::Cluster(cl) => Self::cluster_conn(cl)?
                .route_command(
                    c,
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllNodes, None)),
                )
                .await
                .map(|_| ()),
        }
    }

    async fn request(&self, c: &Cmd) -> redis::RedisResult<Value> {
        let v = match self {
            Self::Single(s) => Self::single_conn(s)?.conn.req_packed_command(c).await?,
            Self::Cluster(cl) => Self::cluster_conn(cl)?.req_packed_command(c).await?,
        };
        v.extract_error()
    }

    /// Sends `c` to every master (or every node, replicas included); `(node, reply or error
    /// text)` each.
    async fn each_node(
        &self,
        c: Cmd,
        replicas_too: bool,
    ) -> redis::RedisResult<Vec<(String, Result<Value, String>)>> {
        match self {
            Self::Single(s) => {
                let live = Self::single_conn(s)?;
                let mut conn = live.conn;
                let r = on_conn(&mut conn, &c).await?;
                Ok(vec![(live.node, r)])
            }
            Self::Cluster(cl) => {
                let v = Self::cluster_conn(cl)?
                    .route_command(
                        c,
                        RoutingInfo::MultiNode((
                            if replicas_too {
                                MultipleNodeRoutingInfo::AllNodes
                            } else {
                                MultipleNodeRoutingInfo::AllMasters
                            },
                            None,
                        )),
                    )
                    .await?;
                let Value::Map(entries) = v else {
                    return Err(unexpected("multi-node reply", &v));
                };
                Ok(entries
                    .into_iter()
                    .map(|(node, reply)| {
                        let node = match node {
                            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                            Value::SimpleString(s) => s,
                            other => format!("{other:?}"),
                        };
                        let reply = reply.extract_error().map_err(|e| e.to_string());
                        (node, reply)
                    })
                    .collect())
            }
        }
    }

    /// `INFO server` and `INFO replication` of every master that answers.
    pub(crate) async fn node_infos(&self) -> redis::RedisResult<Vec<NodeInfo>> {
        let mut server = redis::cmd("INFO");
        server.arg("server");
        let mut repl = redis::cmd("INFO");
        repl.arg("replication");
        let mut stats = redis::cmd("INFO");
        stats.arg("stats");
        let servers = self.each_node(server, false).await?;
        let repls = self.each_node(repl, false).await?;
        let stats = self.each_node(stats, false).await?;
        let find = |list: &[(String, Result<Value, String>)], node: &str| {
            list.iter()
                .find(|(n, _)| n == node)
                .and_then(|(_, r)| r.as_ref().ok())
                .map(text_of)
        };
        let mut out = Vec::new();
        for (node, s) in &servers {
            let Ok(s) = s else { continue };
            let (Some(r), Some(st)) = (find(&repls, node), find(&stats, node)) else {
                continue;
            };
            out.push(NodeInfo::parse(node.clone(), &[&text_of(s), &r, &st]));
        }
        Ok(out)
    }

    /// `CONFIG GET maxmemory-policy` on every node, replicas included (a replica may be
    /// promoted): the policy, or the error text.
    pub(crate) async fn eviction_policies(
        &self,
    ) -> redis::RedisResult<Vec<(String, Result<String, String>)>> {
        let mut c = redis::cmd("CONFIG");
        c.arg("GET").arg("maxmemory-policy");
        Ok(self
            .each_node(c, true)
            .await?
            .into_iter()
            .map(|(node, r)| (node, r.and_then(policy_of)))
            .collect())
    }

    /// `CLUSTER INFO`'s `cluster_state` on every master (Cluster only).
    pub(crate) async fn cluster_states(&self) -> redis::RedisResult<Vec<(String, String)>> {
        let mut c = redis::cmd("CLUSTER");
        c.arg("INFO");
        Ok(self
            .each_node(c, false)
            .await?
            .into_iter()
            .map(|(node, r)| {
                let state = match r {
                    Ok(v) => String::from_utf8_lossy(&text_of(&v))
                        .lines()
                        .find_map(|l| {
                            l.trim_end()
                                .strip_prefix("cluster_state:")
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(|| "unknown".to_owned()),
                    Err(e) => e,
                };
                (node, state)
            })
            .collect())
    }

    /// `CLUSTER SLOTS`: `(first, last, master host:port)` per range (Cluster only).
    pub(crate) async fn cluster_slots(&self) -> redis::RedisResult<Vec<(u16, u16, String)>> {
        let Self::Cluster(cl) = self else {
            return Ok(Vec::new());
        };
        let mut conn = Self::cluster_conn(cl)?;
        let mut c = redis::cmd("CLUSTER");
        c.arg("SLOTS");
        let v = conn
            .route_command(c, RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random))
            .await?
            .extract_error()?;
        let Value::Array(ranges) = v else {
            return Err(unexpected("CLUSTER SLOTS", &v));
        };
        let mut out = Vec::new();
        for r in ranges {
            let Value::Array(parts) = r else { continue };
            let mut it = parts.into_iter();
            let (Some(Value::Int(a)), Some(Value::Int(b)), Some(Value::Array(master))) =
                (it.next(), it.next(), it.next())
            else {
                continue;
            };
            let mut m = master.into_iter();
            let (Some(host), Some(Value::Int(port))) = (m.next(), m.next()) else {
                continue;
            };
            let host = String::from_utf8_lossy(&text_of(&host)).into_owned();
            let (Ok(a), Ok(b)) = (u16::try_from(a), u16::try_from(b)) else {
                continue;
            };
            out.push((a, b, format!("{host}:{port}")));
        }
        Ok(out)
    }

    /// Whether this is a Cluster connection.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

fn wait_cmd(replicas: u32, timeout_ms: u64) -> Cmd {
    let mut c = redis::cmd("WAIT");
    c.arg(replicas).arg(timeout_ms);
    c
}

fn text_of(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        Value::SimpleString(s) => s.as_bytes().to_vec(),
        Value::VerbatimString { text, .. } => text.as_bytes().to_vec(),
        Value::Okay => b"OK".to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

fn unexpected(what: &str, v: &Value) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected reply",
        format!("{what}: {v:?}"),
    ))
}

/// CRC16-XMODEM, the Cluster key-slot hash (slot = crc16(tag) mod 16384).
pub(crate) fn key_slot(tag: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in tag {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc & 0x3fff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slot_matches_the_cluster_specification_example() {
        // Redis Cluster specification: CRC16 of "123456789" is 0x31C3.
        assert_eq!(key_slot(b"123456789"), 0x31c3 & 0x3fff);
    }

    #[test]
    fn parses_node_identity_from_info() {
        let i = NodeInfo::parse(
            "h:1".to_owned(),
            &[
                b"# Server\r\nrun_id:abc\r\nuptime_in_seconds:42\r\n",
                b"# Replication\r\nrole:master\r\nmaster_replid:r1\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n",
                b"# Stats\r\nevicted_keys:7\r\n",
            ],
        );
        assert_eq!(i.evicted_keys, 7);
        assert_eq!(i.run_id, "abc");
        assert_eq!(i.role, "master");
        assert_eq!(i.replid, "r1");
        assert_eq!(i.uptime_s, 42);
        assert!(!i.was_promoted());
        let p = NodeInfo {
            replid2: "5f3a".to_owned(),
            ..i
        };
        assert!(p.was_promoted());
    }

    #[test]
    fn classifies_errors_fail_closed() {
        let io = redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        assert!(matches!(Failure::from_error(&io), Failure::Connection(_)));
        let other = redis::RedisError::from((redis::ErrorKind::Client, "x"));
        assert!(matches!(Failure::from_error(&other), Failure::Other(_)));
        // Redirects left after the driver's own, a cluster or master down, a server still
        // loading: all unavailability, never an answer.
        use redis::ServerErrorKind as K;
        for kind in [
            K::Moved,
            K::Ask,
            K::ClusterDown,
            K::MasterDown,
            K::TryAgain,
            K::BusyLoading,
        ] {
            let e = redis::RedisError::from((
                redis::ErrorKind::Server(kind),
                "server error",
                "3999 127.0.0.1:6381".to_owned(),
            ));
            assert!(
                matches!(Failure::from_error(&e), Failure::Other(_)),
                "{kind:?}"
            );
        }
        let ro = redis::RedisError::from((
            redis::ErrorKind::Server(K::ReadOnly),
            "READONLY",
            "You can't write against a read only replica.".to_owned(),
        ));
        assert!(matches!(Failure::from_error(&ro), Failure::Connection(_)));
    }
}

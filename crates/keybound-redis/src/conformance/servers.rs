//! Throwaway `redis-server` processes for tests: standalone servers, a Cluster, Sentinels.
//!
//! Each one runs from a temporary directory on free loopback ports, with persistence off
//! unless asked, and is killed (and its directory removed) when its guard drops — also when
//! a test fails. If `redis-server` or `redis-cli` is not installed, starting one fails with
//! [`ServerError::Missing`], whose message says how to install them.

use core::fmt;
use core::time::Duration;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Why a test server could not be started or driven.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// A program is not installed.
    Missing {
        /// `redis-server` or `redis-cli`.
        program: &'static str,
    },
    /// A server did not come up (its log's tail attached).
    Start {
        /// What went wrong.
        detail: String,
    },
    /// A `redis-cli` command failed.
    Command {
        /// The command and its output.
        detail: String,
    },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { program } => write!(
                f,
                "`{program}` is not installed: these tests need real Redis servers; run \
                 `apt-get install -y redis-server redis-tools` (`cargo xtask ci` installs them)"
            ),
            Self::Start { detail } => write!(f, "redis-server did not start: {detail}"),
            Self::Command { detail } => write!(f, "redis-cli failed: {detail}"),
        }
    }
}

impl core::error::Error for ServerError {}

fn find(program: &'static str) -> Result<PathBuf, ServerError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(ServerError::Missing { program })
}

/// Fails with [`ServerError::Missing`] unless `redis-server` and `redis-cli` are installed.
pub fn require_redis() -> Result<(), ServerError> {
    find("redis-server")?;
    find("redis-cli")?;
    Ok(())
}

/// A free loopback TCP port (bound once and released).
pub fn free_port() -> Result<u16, ServerError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ServerError::Start {
            detail: format!("no free port: {e}"),
        })
}

fn temp_dir(kind: &str) -> Result<PathBuf, ServerError> {
    let mut r = [0u8; 6];
    crate::rng::fill(&mut r);
    let dir = std::env::temp_dir().join(format!(
        "keybound-{kind}-{}-{}",
        std::process::id(),
        crate::key::hex(&r)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| ServerError::Start {
        detail: format!("{}: {e}", dir.display()),
    })?;
    Ok(dir)
}

/// One `redis-server` process (or Sentinel) and its directory; killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    sentinel: bool,
}

impl RedisServer {
    /// A standalone server with no persistence and no memory limit.
    pub fn start() -> Result<Self, ServerError> {
        Self::start_with(&[])
    }

    /// A standalone server with extra `--name value` arguments (e.g. `["--maxmemory",
    /// "2mb"]`, `["--appendonly", "yes"]`); they override the defaults.
    pub fn start_with(extra: &[&str]) -> Result<Self, ServerError> {
        let port = free_port()?;
        let dir = temp_dir("redis")?;
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.push(dir.display().to_string());
        args.push("--logfile".to_owned());
        args.push(dir.join("redis.log").display().to_string());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut s = Self {
            child: None,
            port,
            dir,
            args,
            sentinel: false,
        };
        s.spawn()?;
        Ok(s)
    }

    /// A Sentinel watching the master at `master_port` under `name` (quorum 1, master
    /// considered down after 1 s).
    pub fn start_sentinel(name: &str, master_port: u16) -> Result<Self, ServerError> {
        let port = free_port()?;
        let dir = temp_dir("sentinel")?;
        let conf = dir.join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {dir}\nlogfile {log}\n\
             sentinel monitor {name} 127.0.0.1 {master_port} 1\n\
             sentinel down-after-milliseconds {name} 1000\n\
             sentinel failover-timeout {name} 4000\n\
             sentinel parallel-syncs {name} 1\n",
            dir = dir.display(),
            log = dir.join("sentinel.log").display(),
        );
        std::fs::write(&conf, text).map_err(|e| ServerError::Start {
            detail: format!("{}: {e}", conf.display()),
        })?;
        let mut s = Self {
            child: None,
            port,
            dir,
            args: vec![conf.display().to_string(), "--sentinel".to_owned()],
            sentinel: true,
        };
        s.spawn()?;
        Ok(s)
    }

    fn spawn(&mut self) -> Result<(), ServerError> {
        let program = find("redis-server")?;
        find("redis-cli")?;
        let child = Command::new(program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ServerError::Start {
                detail: e.to_string(),
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port) {
                return Ok(());
            }
            if let Some(c) = &mut self.child
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(ServerError::Start {
                    detail: format!("exited with {status}; log: {}", self.log_tail()),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(ServerError::Start {
            detail: format!("no PONG within 10 s; log: {}", self.log_tail()),
        })
    }

    fn log_tail(&self) -> String {
        let name = if self.sentinel {
            "sentinel.log"
        } else {
            "redis.log"
        };
        let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .get(lines.len().saturating_sub(8)..)
            .unwrap_or_default()
            .join(" | ")
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its working directory (RDB/AOF files, `nodes.conf`, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the process at once (SIGKILL: no save, no goodbye) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, directory and arguments (a Cluster node keeps its
    /// `nodes.conf`; data survives only with persistence on).
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        // The port may linger for a moment after the kill.
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Runs `redis-cli -p PORT ARGS…` and returns its output (trimmed).
    pub fn cli(&self, args: &[&str]) -> Result<String, ServerError> {
        cli(self.port, args)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// Runs `redis-cli -p port ARGS…`.
pub fn cli(port: u16, args: &[&str]) -> Result<String, ServerError> {
    let program = find("redis-cli")?;
    let out = Command::new(program)
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ServerError::Command {
            detail: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || text.starts_with("ERR") || text.starts_with("(error)") {
        return Err(ServerError::Command {
            detail: format!(
                "{args:?}: {text} {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(text)
}

/// A Redis Cluster of `masters` masters on loopback, each with its own directory; nodes may
/// be killed and restarted through [`RedisCluster::node`].
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` nodes (at least 3), creates the cluster with `redis-cli --cluster
    /// create`, and, for each entry of `replicas_of`, adds one replica of that master.
    /// Nodes time out after 1 s, so a failover takes a few seconds.
    pub fn start(masters: usize, replicas_of: &[usize]) -> Result<Self, ServerError> {
        let mut nodes = Vec::new();
        for _ in 0..masters + replicas_of.len() {
            let bus = free_port()?;
            nodes.push(RedisServer::start_with(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                "--cluster-port",
                &bus.to_string(),
                "--cluster-replica-validity-factor",
                "0",
            ])?);
        }
        let mut args = vec!["--cluster".to_owned(), "create".to_owned()];
        args.extend(
            nodes
                .iter()
                .take(masters)
                .map(|n| format!("127.0.0.1:{}", n.port())),
        );
        args.extend([
            "--cluster-replicas".to_owned(),
            "0".to_owned(),
            "--cluster-yes".to_owned(),
        ]);
        let first = nodes
            .first()
            .map(RedisServer::port)
            .ok_or(ServerError::Start {
                detail: "no nodes".to_owned(),
            })?;
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(first, &argv)?;
        let cluster = Self { nodes };
        cluster.wait_first_ok(masters, Duration::from_secs(20))?;
        for (i, &master) in replicas_of.iter().enumerate() {
            let replica = cluster.nodes.get(masters + i).ok_or(ServerError::Start {
                detail: "replica index".to_owned(),
            })?;
            let master = cluster.nodes.get(master).ok_or(ServerError::Start {
                detail: format!("no master {master}"),
            })?;
            let id = master.cli(&["CLUSTER", "MYID"])?;
            let bus = cluster_bus_port(master)?;
            replica.cli(&[
                "CLUSTER",
                "MEET",
                "127.0.0.1",
                &master.port().to_string(),
                &bus,
            ])?;
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if replica.cli(&["CLUSTER", "REPLICATE", &id]).is_ok() {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(ServerError::Start {
                        detail: "replica never learnt its master".to_owned(),
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while !replica
                .cli(&["INFO", "replication"])?
                .contains("master_link_status:up")
            {
                if Instant::now() >= deadline {
                    return Err(ServerError::Start {
                        detail: "replica never synced".to_owned(),
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        cluster.wait_ok(Duration::from_secs(20))?;
        Ok(cluster)
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` (every node, replicas included).
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// Node `i` (masters first, then replicas, in creation order).
    pub fn node(&mut self, i: usize) -> Option<&mut RedisServer> {
        self.nodes.get_mut(i)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Waits until every node reports `cluster_state:ok`.
    pub fn wait_ok(&self, limit: Duration) -> Result<(), ServerError> {
        self.wait_first_ok(self.nodes.len(), limit)
    }

    fn wait_first_ok(&self, count: usize, limit: Duration) -> Result<(), ServerError> {
        let deadline = Instant::now() + limit;
        loop {
            let ok = self.nodes.iter().take(count).all(|n| {
                n.cli(&["CLUSTER", "INFO"])
                    .is_ok_and(|t| t.contains("cluster_state:ok"))
            });
            if ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ServerError::Start {
                    detail: "cluster_state never became ok".to_owned(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the running nodes report `cluster_state:ok` (killed nodes are skipped).
    pub fn wait_running_ok(&mut self, limit: Duration) -> Result<(), ServerError> {
        let deadline = Instant::now() + limit;
        loop {
            let mut ok = true;
            for n in &mut self.nodes {
                if n.is_running()
                    && !n
                        .cli(&["CLUSTER", "INFO"])
                        .is_ok_and(|t| t.contains("cluster_state:ok"))
                {
                    ok = false;
                }
            }
            if ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ServerError::Start {
                    detail: "cluster_state never became ok".to_owned(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn cluster_bus_port(node: &RedisServer) -> Result<String, ServerError> {
    let out = node.cli(&["CONFIG", "GET", "cluster-port"])?;
    out.lines()
        .nth(1)
        .map(|s| s.trim().to_owned())
        .ok_or(ServerError::Command {
            detail: format!("CONFIG GET cluster-port: {out}"),
        })
}

//! The accepted URL forms: standalone, Sentinel and Cluster.

use crate::error::RedisStoreError;

/// Default port of a Redis server.
const REDIS_PORT: u16 = 6379;
/// Default port of a Sentinel.
const SENTINEL_PORT: u16 = 26379;

/// Where the store's data lives, parsed from its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// One server, handed to the driver as written (`redis://`, `rediss://`, `valkey://`,
    /// `unix://` …).
    Standalone { url: String },
    /// Masters found through Sentinel.
    Sentinel {
        /// `redis://host:port` of every Sentinel.
        sentinels: Vec<String>,
        /// The monitored master's name.
        service: String,
        /// Database number on the master.
        db: i64,
        /// Credentials for the master (not the Sentinels), percent-decoded.
        username: Option<String>,
        password: Option<String>,
    },
    /// A Redis Cluster; every seed as `redis://[user:pass@]host:port`.
    Cluster { seeds: Vec<String> },
}

impl Target {
    /// Parses `url` (see the crate documentation for the forms).
    pub(crate) fn parse(url: &str) -> Result<Self, RedisStoreError> {
        let bad = |reason: String| RedisStoreError::InvalidUrl { reason };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no `scheme://`".to_owned()))?;
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "rediss" | "valkeys" | "rediss+cluster" | "valkeys+cluster"
                if !cfg!(feature = "tls") =>
            {
                Err(bad(format!(
                    "`{scheme}://` needs keybound-redis' `tls` feature"
                )))
            }
            "redis" | "rediss" | "valkey" | "valkeys" | "unix" | "redis+unix" | "valkey+unix" => {
                Ok(Self::Standalone {
                    url: url.to_owned(),
                })
            }
            "redis+cluster" | "valkey+cluster" | "rediss+cluster" | "valkeys+cluster" => {
                let node_scheme = if scheme.starts_with("rediss") || scheme.starts_with("valkeys") {
                    "rediss"
                } else {
                    "redis"
                };
                let (auth, hosts, path) = split_authority(rest)?;
                if !path.is_empty() && path != "/" {
                    return Err(bad(
                        "a cluster URL has no path (Cluster has one database)".to_owned()
                    ));
                }
                let seeds = hosts
                    .iter()
                    .map(|h| {
                        let (host, port) = host_port(h, REDIS_PORT)?;
                        Ok(match auth {
                            Some(a) => format!("{node_scheme}://{a}@{host}:{port}"),
                            None => format!("{node_scheme}://{host}:{port}"),
                        })
                    })
                    .collect::<Result<Vec<_>, RedisStoreError>>()?;
                Ok(Self::Cluster { seeds })
            }
            "redis+sentinel" | "valkey+sentinel" => {
                let (auth, hosts, path) = split_authority(rest)?;
                let mut parts = path.trim_start_matches('/').split('/');
                let service = parts.next().unwrap_or_default();
                if service.is_empty() {
                    return Err(bad(
                        "a sentinel URL names the master: redis+sentinel://HOST:PORT,…/NAME[/DB]"
                            .to_owned(),
                    ));
                }
                let db = match parts.next() {
                    None | Some("") => 0,
                    Some(d) => d
                        .parse::<i64>()
                        .ok()
                        .filter(|d| *d >= 0)
                        .ok_or_else(|| bad(format!("database `{d}` is not a number")))?,
                };
                if parts.next().is_some() {
                    return Err(bad(
                        "too many path segments after the master name".to_owned()
                    ));
                }
                let sentinels = hosts
                    .iter()
                    .map(|h| {
                        let (host, port) = host_port(h, SENTINEL_PORT)?;
                        Ok(format!("redis://{host}:{port}"))
                    })
                    .collect::<Result<Vec<_>, RedisStoreError>>()?;
                let (username, password) = match auth {
                    None => (None, None),
                    Some(a) => {
                        let (u, p) = match a.split_once(':') {
                            Some((u, p)) => (u, Some(p)),
                            None => (a, None),
                        };
                        let u = percent_decode(u)?;
                        (
                            (!u.is_empty()).then_some(u),
                            p.map(percent_decode).transpose()?,
                        )
                    }
                };
                Ok(Self::Sentinel {
                    sentinels,
                    service: percent_decode(service)?,
                    db,
                    username,
                    password,
                })
            }
            other => Err(bad(format!(
                "unknown scheme `{other}` (redis, rediss, valkey, valkeys, unix, redis+cluster, \
                 redis+sentinel)"
            ))),
        }
    }

    /// The target without credentials, for errors and logs.
    pub(crate) fn redacted(&self) -> String {
        match self {
            Self::Standalone { url } => redact(url),
            Self::Sentinel {
                sentinels, service, ..
            } => format!(
                "redis+sentinel://{}/{service}",
                sentinels
                    .iter()
                    .map(|s| s.trim_start_matches("redis://"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Self::Cluster { seeds } => format!(
                "redis+cluster://{}",
                seeds
                    .iter()
                    .map(|s| host_of_seed(s))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

/// `[userinfo@]h1[:p1],h2[:p2]…` then the path (starting with `/`, or empty).
fn split_authority(rest: &str) -> Result<(Option<&str>, Vec<&str>, &str), RedisStoreError> {
    if rest.contains(['?', '#']) {
        return Err(RedisStoreError::InvalidUrl {
            reason: "query strings and fragments are not accepted here".to_owned(),
        });
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (auth, hosts) = match authority.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, authority),
    };
    let hosts: Vec<&str> = hosts.split(',').collect();
    if hosts.iter().any(|h| h.is_empty()) {
        return Err(RedisStoreError::InvalidUrl {
            reason: "empty host in the host list".to_owned(),
        });
    }
    Ok((auth, hosts, path))
}

/// `host[:port]` or `[v6][:port]`, checked.
fn host_port(s: &str, default: u16) -> Result<(String, u16), RedisStoreError> {
    let bad = || RedisStoreError::InvalidUrl {
        reason: format!("`{s}` is not HOST[:PORT]"),
    };
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (format!("[{h}]"), port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (s.to_owned(), None),
        }
    };
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return Err(bad());
    }
    let port = match port {
        None => default,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
    };
    Ok((host, port))
}

fn percent_decode(s: &str) -> Result<String, RedisStoreError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| core::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| RedisStoreError::InvalidUrl {
                    reason: "bad percent-encoding".to_owned(),
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| RedisStoreError::InvalidUrl {
        reason: "percent-encoding is not UTF-8".to_owned(),
    })
}

/// `scheme://[userinfo@]rest` → `scheme://rest`.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            format!("{scheme}://{host}{path}")
        }
        None => "<unparsable URL>".to_owned(),
    }
}

fn host_of_seed(seed: &str) -> &str {
    let rest = seed.split_once("://").map_or(seed, |(_, r)| r);
    rest.rsplit_once('@').map_or(rest, |(_, h)| h)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn accepts_standalone_urls_as_written() {
        for url in [
            "redis://127.0.0.1:6379",
            "valkey://u:p@h",
            "unix:///run/redis.sock",
            #[cfg(feature = "tls")]
            "rediss://cache.example:6380/2",
        ] {
            assert_eq!(
                Target::parse(url),
                Ok(Target::Standalone {
                    url: url.to_owned()
                })
            );
        }
    }

    #[test]
    fn parses_cluster_host_list_with_default_ports_and_credentials() {
        assert_eq!(
            Target::parse("redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2,[::1]:7002"),
            Ok(Target::Cluster {
                seeds: vec![
                    "redis://u:p%40ss@10.0.0.1:7000".to_owned(),
                    "redis://u:p%40ss@10.0.0.2:6379".to_owned(),
                    "redis://u:p%40ss@[::1]:7002".to_owned(),
                ]
            })
        );
        let t = Target::parse("redis+cluster://u:secret@h1:1,h2:2/").unwrap();
        assert_eq!(t.redacted(), "redis+cluster://h1:1,h2:2");
    }

    #[test]
    fn parses_sentinel_url_with_service_db_and_master_credentials() {
        assert_eq!(
            Target::parse("redis+sentinel://:pa%3Ass@s1:26380,s2/mymaster/3"),
            Ok(Target::Sentinel {
                sentinels: vec!["redis://s1:26380".to_owned(), "redis://s2:26379".to_owned()],
                service: "mymaster".to_owned(),
                db: 3,
                username: None,
                password: Some("pa:ss".to_owned()),
            })
        );
        let t = Target::parse("redis+sentinel://u:x@s1/m").unwrap();
        assert_eq!(t.redacted(), "redis+sentinel://s1:26379/m");
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn rejects_tls_urls_without_the_tls_feature() {
        for url in ["rediss://h:6380", "rediss+cluster://h1,h2"] {
            assert!(
                matches!(Target::parse(url), Err(RedisStoreError::InvalidUrl { reason }) if reason.contains("`tls` feature")),
                "{url}"
            );
        }
    }

    #[cfg(feature = "tls")]
    #[test]
    fn parses_tls_cluster_urls() {
        assert_eq!(
            Target::parse("rediss+cluster://h1:7000,h2"),
            Ok(Target::Cluster {
                seeds: vec!["rediss://h1:7000".to_owned(), "rediss://h2:6379".to_owned()]
            })
        );
    }

    #[test]
    fn rejects_malformed_urls() {
        for url in [
            "127.0.0.1:6379",
            "http://h",
            "redis+cluster://",
            "redis+cluster://h1,,h2",
            "redis+cluster://h1:0",
            "redis+cluster://h1:99999",
            "redis+cluster://h1/3",
            "redis+cluster://h1?x=1",
            "redis+sentinel://s1",
            "redis+sentinel://s1/",
            "redis+sentinel://s1/m/x",
            "redis+sentinel://s1/m/1/2",
            "redis+sentinel://[::1/m",
        ] {
            assert!(
                matches!(Target::parse(url), Err(RedisStoreError::InvalidUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn redacts_standalone_credentials() {
        let t = Target::parse("redis://user:secret@h:1/0?protocol=3").unwrap();
        assert_eq!(t.redacted(), "redis://h:1/0");
    }
}

//! Server nonces remembered per origin and per server role (RFC 9449 §8, §9), in a map of
//! bounded size that evicts the least recently used entry.

use std::collections::HashMap;
use std::string::String;

/// How many nonces a client remembers by default (origins × roles).
pub const DEFAULT_NONCE_CAPACITY: usize = 128;

/// Which server a request goes to. Nonces of the two are kept apart even on one origin: an
/// authorization server's token-endpoint nonce (RFC 9449 §8) and a resource server's nonce
/// (§9) are issued and checked by different components and need not be interchangeable.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Target {
    /// A protected resource (RFC 9449 §7, §9). The default for ordinary requests.
    #[default]
    Resource,
    /// An authorization server endpoint: token, PAR (RFC 9449 §5, §8). The token helpers use it.
    AuthorizationServer,
}

/// An origin (RFC 6454 §4: scheme, host, port) and the server role at it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NonceKey {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) target: Target,
}

impl NonceKey {
    /// The key of `url`'s origin for `target`; `None` for URLs without a host or port.
    pub(crate) fn new(url: &reqwest::Url, target: Target) -> Option<Self> {
        Some(NonceKey {
            scheme: url.scheme().to_ascii_lowercase(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
            target,
        })
    }
}

/// The bounded LRU map of nonces.
#[derive(Debug)]
pub(crate) struct NonceCache {
    entries: HashMap<NonceKey, (String, u64)>,
    capacity: usize,
    tick: u64,
}

impl NonceCache {
    pub(crate) fn new(capacity: usize) -> Self {
        NonceCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            tick: 0,
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    /// The nonce for `key`, marking it recently used.
    pub(crate) fn get(&mut self, key: &NonceKey) -> Option<String> {
        let tick = self.next_tick();
        let (nonce, used) = self.entries.get_mut(key)?;
        *used = tick;
        Some(nonce.clone())
    }

    /// Remembers `nonce` for `key`, evicting the least recently used entry when full.
    pub(crate) fn put(&mut self, key: NonceKey, nonce: &str) {
        let tick = self.next_tick();
        if let Some(entry) = self.entries.get_mut(&key) {
            nonce.clone_into(&mut entry.0);
            entry.1 = tick;
            return;
        }
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(key, (nonce.to_owned(), tick));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(host: &str, target: Target) -> NonceKey {
        NonceKey::new(&reqwest::Url::parse(host).unwrap(), target).unwrap()
    }

    #[test]
    fn evicts_least_recently_used_nonce_when_full() {
        let mut c = NonceCache::new(2);
        c.put(key("https://a.example", Target::Resource), "n1");
        c.put(key("https://b.example", Target::Resource), "n2");
        // Touch a, so b is the least recently used.
        assert_eq!(
            c.get(&key("https://a.example/x", Target::Resource))
                .as_deref(),
            Some("n1")
        );
        c.put(key("https://c.example", Target::Resource), "n3");
        assert_eq!(c.len(), 2);
        assert!(c.get(&key("https://b.example", Target::Resource)).is_none());
        assert!(c.get(&key("https://a.example", Target::Resource)).is_some());
        assert!(c.get(&key("https://c.example", Target::Resource)).is_some());
    }

    #[test]
    fn keeps_origins_and_roles_apart() {
        let mut c = NonceCache::new(8);
        c.put(key("https://a.example", Target::Resource), "rs");
        c.put(key("https://a.example", Target::AuthorizationServer), "as");
        c.put(key("http://a.example", Target::Resource), "plain");
        c.put(key("https://a.example:8443", Target::Resource), "port");
        assert_eq!(
            c.get(&key("https://A.EXAMPLE:443/p?q", Target::Resource))
                .as_deref(),
            Some("rs")
        );
        assert_eq!(
            c.get(&key("https://a.example/token", Target::AuthorizationServer))
                .as_deref(),
            Some("as")
        );
        assert_eq!(
            c.get(&key("http://a.example:80", Target::Resource))
                .as_deref(),
            Some("plain")
        );
        assert_eq!(
            c.get(&key("https://a.example:8443", Target::Resource))
                .as_deref(),
            Some("port")
        );
    }

    #[test]
    fn replaces_nonce_of_same_origin() {
        let mut c = NonceCache::new(2);
        c.put(key("https://a.example", Target::Resource), "old");
        c.put(key("https://a.example", Target::Resource), "new");
        assert_eq!(c.len(), 1);
        assert_eq!(
            c.get(&key("https://a.example", Target::Resource))
                .as_deref(),
            Some("new")
        );
    }
}

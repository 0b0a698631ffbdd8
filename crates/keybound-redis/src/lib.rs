#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod backend;
mod blocking;
mod epoch;
mod error;
mod key;
mod options;
mod rng;
mod store;
mod target;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

pub use blocking::BlockingRedisReplayStore;
pub use error::RedisStoreError;
pub use options::RedisOptions;
pub use store::{Health, RedisReplayStore};

/// The replay-store traits and types this crate implements (from `keybound-dpop`).
pub use keybound_dpop::replay::{AsyncReplayStore, ReplayError, ReplayKey, ReplayStore};

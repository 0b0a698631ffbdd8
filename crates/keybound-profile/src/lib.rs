#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod feature;
pub mod metadata;
mod profile;
mod resolve;

pub use feature::{Feature, FeatureSet, UnknownFeature};
pub use metadata::Metadata;
pub use profile::{
    AnyOf, FAPI2_LEEWAY_MAX, FAPI2_LEEWAY_MIN, FAPI2_MAX_AGE, FeatureRule, Profile, Range, Rule,
};
pub use resolve::{
    Choices, ClientKind, PolicyError, RefreshTokenBinding, ResolveError, ResolvedConfig,
};

/// The layers below, re-exported so callers name one version of each.
pub use keybound_dpop as dpop;
pub use keybound_mtls as mtls;

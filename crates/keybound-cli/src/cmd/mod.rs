//! One module per subcommand group.

pub(crate) mod cert;
pub(crate) mod dpop;
pub(crate) mod fetch;
pub(crate) mod jwk;
pub(crate) mod profile;
pub(crate) mod serve;
pub(crate) mod token;

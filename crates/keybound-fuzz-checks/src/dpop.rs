//! Fuzz checks for the dpop layer.

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[];

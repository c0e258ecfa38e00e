//! The crate's one integration-test binary (one binary links once; modules by area).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checkpoint;
mod common;
mod leaf;
mod nodestore;
mod proofs;
mod receipt;
mod sealed;
mod tessera;
mod vectors;

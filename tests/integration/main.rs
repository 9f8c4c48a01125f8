//! The integration tests that need nothing but this process, in one binary (one link step
//! instead of one per file). One module per concern; the tests that start external programs
//! (nginx, Redis, Chromium) have binaries of their own, with a harness that reports them as
//! ignored when the program is missing.

#[path = "../common/mod.rs"]
mod common;

mod axum;
mod bad_inputs;
mod budget;
#[cfg(feature = "tracing")]
mod capture;
mod configuration;
#[cfg(feature = "propagate")]
mod connection_leak;
mod cross_origin;
#[cfg(feature = "csrf")]
mod csrf_tokens;
#[cfg(feature = "dbsc")]
mod dbsc;
#[cfg(feature = "dpop")]
mod dpop;
#[cfg(feature = "node-keys")]
mod eddsa;
#[cfg(feature = "jwe")]
mod encrypted;
mod expiry;
mod grpc;
mod hyper;
#[cfg(feature = "node-keys")]
mod interop;
#[cfg(feature = "jwe")]
mod jwe_interop;
#[cfg(feature = "jwks")]
mod jwks;
#[cfg(feature = "tracing")]
mod logs;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(all(feature = "jwks", feature = "propagate"))]
mod minted_tokens;
mod module_graph;
#[cfg(feature = "node-keys")]
mod node_failure;
#[cfg(feature = "jwks")]
mod node_keys;
#[cfg(any(feature = "dbsc", feature = "dpop"))]
mod pop_binding;
#[cfg(any(feature = "dbsc", feature = "dpop"))]
mod pop_proofs;
#[cfg(any(feature = "dbsc", feature = "dpop"))]
mod pop_support;
#[cfg(any(feature = "dbsc", feature = "dpop"))]
mod pop_vectors;
#[cfg(feature = "propagate")]
mod propagation;
mod properties;
#[cfg(feature = "jwe")]
mod properties_jwe;
mod rotation;
mod rotation_load;
mod tampering;
mod transport;

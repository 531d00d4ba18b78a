//! The server's integration tests, one binary: each file below is a subject (its module doc
//! says what it covers), all sharing `common` (the fixtures: a fresh database per test, the
//! real registry stack, PKI, a PostgreSQL cluster, replicas). One binary links the server once
//! instead of once per file; the tests run one at a time (`--test-threads=1`, see
//! deploy/local/test.sh), each with its own runtime, database and servers.
//!
//! Run one subject with `cargo test -p server --test it cleanup::`.

mod common;

mod accounts;
mod api;
mod assets;
mod balancer;
mod cleanup;
mod credentials;
mod database_tls;
mod doctor;
mod events;
mod first_load;
mod gate;
mod history;
mod image;
mod images;
mod keys;
mod ldap;
mod metrics;
mod oidc;
mod outage;
mod recovery;
mod registry;
mod replicas;
mod schemathesis;
mod tls;
mod token;
mod webhooks;

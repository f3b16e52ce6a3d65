//! The server: a [`Config`] and [`Route`]s in; a listener thread, a timer thread and a
//! thread per connection out; a [`ServerHandle`] to stop it all.
//!
//! This layer decides which route serves a path and answers every request that does not
//! become a WebSocket; once an upgrade is accepted it hands the connection to `connection`
//! and keeps only a way to reach it (the registry) for the shutdown.

mod accept;
mod answer;
mod builder;
pub(crate) mod config;
mod handle;
mod listener;
pub(crate) mod route;
mod state;
mod sys;

pub use builder::Server;
pub use config::Config;
pub use handle::{ServerHandle, Stopper};
pub use route::Route;

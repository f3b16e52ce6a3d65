//! Broadcast rooms across servers through an MQTT broker (feature `mqtt`): an
//! [`MqttBridge`] joins a [`Broadcast`](crate::Broadcast) hub to the hubs of every other
//! process bridged to the same broker and topic prefix, as Socket.IO's Redis adapter does for
//! its rooms, on the broker a fleet of boards usually runs already.
//!
//! **Topics**, under the prefix ([`MqttConfig::topic_prefix`], `syncws` by default):
//!
//! | topic | who publishes | payload |
//! | --- | --- | --- |
//! | `PREFIX/bridge/all` | a bridge, for `publish` | envelope |
//! | `PREFIX/bridge/room/ROOM` | a bridge, for `publish_to(ROOM, ..)` | envelope |
//! | `PREFIX/all` | any MQTT client (`mosquitto_pub`, a sensor) | the message |
//! | `PREFIX/room/ROOM` | any MQTT client | the message |
//!
//! ROOM is the room's name, with `%`, `/`, `+`, `#` and control characters percent-encoded
//! (`a/b` is `a%2Fb`). Each bridge subscribes to `PREFIX/#`. A plain client's payload becomes
//! a text message if it is UTF-8, a binary one otherwise. The envelope is 18 bytes before the
//! message: a version (1), flags (bit 0: text), the publishing bridge's origin (8 random
//! bytes, new each start) and its sequence number (8 bytes, big endian).
//!
//! **Delivery: at least once on the wire, once to members.** Bridges publish and subscribe
//! with QoS 1: the broker acknowledges each message, and a bridge that reconnects sends again
//! what was not acknowledged, so a broker restart loses nothing a bridge had queued or had in
//! flight (what the broker had acknowledged but not yet passed on when it died is lost, and
//! counted by the receivers as below). QoS 1 may deliver a message twice; a receiving bridge
//! remembers the newest 64 numbers of each other bridge and drops repeats
//! ([`MqttStats::duplicates`]), so members get each bridged message once. A bridge drops its
//! own messages when the broker echoes them (its hub had them first). Plain clients' messages
//! carry no number: a QoS 1 one the broker sends twice reaches members twice, and retained
//! ones are dropped (they would come again with every resubscription). QoS 2 would cost two
//! more packets per message and still lose what a receiver missed while disconnected (sessions
//! are clean: a restarted broker keeps nothing), which the numbers reveal instead: gaps are
//! counted as [`MqttStats::lost`]. A number far beyond its bridge's newest (anyone may publish
//! under the prefix) is dropped as malformed; let only bridges publish to `PREFIX/bridge/#`
//! (the broker's access rules) where that matters.
//!
//! **Order.** A hub hands its publishes to the bridge under its own lock, so in the order its
//! members get them, and the bridge numbers and queues them in that order and publishes them
//! from one thread; MQTT keeps a publisher's messages in order on a topic. So members
//! everywhere get each server's messages to a room in the order that server's members got
//! them. Messages to different rooms, or to a room and to all, are separate topics, which a
//! broker may interleave differently.

//! **Limits.** Publishing never waits for the broker: the bridge's queue is bounded
//! ([`MqttConfig::queue_capacity`]) with the hub members' slow-consumer policies
//! ([`MqttConfig::slow_broker`]); 32 messages at most wait for the broker's acknowledgement.
//! Messages larger than [`MqttConfig::max_message_size`] (256 KiB by default) are not
//! forwarded, either way; a malformed message from the broker is dropped; both are counted and
//! logged. A broker that breaks MQTT, or stops answering pings, is disconnected and dialled
//! again, with backoff.
//!
//! **Members** are sessions of either side: a [`Client`](crate::Client)'s session joins a hub
//! as a server's does, so a board that serves browsers and dials its fleet can bridge both.
//!
//! **Threads:** two per bridge (one publishes and keeps the connection alive, one reads), none
//! per member. The codec is syncws's own (MQTT 3.1.1, the nine packets a bridge uses, about
//! 300 lines): `rumqttc`, the usual Rust client, runs a tokio runtime inside its blocking API,
//! and the codec-only crates have had no release for years.

mod bridge;
mod config;
pub(crate) mod link;
pub(crate) mod packet;
mod seen;
pub(crate) mod topic;

pub use bridge::{MqttBridge, MqttStats};
pub use config::{MqttConfig, MqttError};
pub use packet::PacketError;

//! Content converters (Ktor's `contentConverter`): typed values to and from messages.
//!
//! A converter speaks serde through `erased-serde`, so one trait object in the [`Config`]
//! serves every type: [`Session::send_serialized`] and [`Session::deserialize`] (or
//! [`Session::receive_deserialized`] on channel routes) do the typing.
//!
//! [`Config`]: crate::Config
//! [`Session::send_serialized`]: crate::Session::send_serialized
//! [`Session::deserialize`]: crate::Session::deserialize
//! [`Session::receive_deserialized`]: crate::Session::receive_deserialized

use std::fmt;

use crate::error::ConvertError;
use crate::protocol::Message;

/// Converts values to and from messages for one format (JSON, CBOR, ...).
///
/// ```
/// use syncws::{ContentConverter, ConvertError, Message};
///
/// /// Messages are JSON text (a sketch of what `JsonConverter` does).
/// #[derive(Debug)]
/// struct MyJson;
/// # #[cfg(feature = "json")]
/// impl ContentConverter for MyJson {
///     fn serialize(&self, value: &dyn erased_serde::Serialize) -> Result<Message, ConvertError> {
///         serde_json::to_string(value).map(Message::Text).map_err(|e| ConvertError::Serialize(e.to_string()))
///     }
///     fn deserialize(
///         &self,
///         message: &Message,
///         visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<(), erased_serde::Error>,
///     ) -> Result<(), ConvertError> {
///         let mut json = serde_json::Deserializer::from_slice(message.as_bytes());
///         visit(&mut <dyn erased_serde::Deserializer>::erase(&mut json))
///             .map_err(|e| ConvertError::Deserialize(e.to_string()))?;
///         json.end().map_err(|e| ConvertError::Deserialize(e.to_string()))
///     }
/// }
/// ```
pub trait ContentConverter: Send + Sync + fmt::Debug {
    /// Serializes `value` into a text or binary message.
    ///
    /// # Errors
    /// [`ConvertError::Serialize`] when the value cannot be represented.
    fn serialize(&self, value: &dyn erased_serde::Serialize) -> Result<Message, ConvertError>;

    /// Parses `message` and hands the format's deserializer to `visit`, which builds the
    /// value.
    ///
    /// # Errors
    /// [`ConvertError::Deserialize`] for malformed input or a value of the wrong shape;
    /// [`ConvertError::WrongKind`] for a message of a kind the format does not use.
    fn deserialize(
        &self,
        message: &Message,
        visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<(), erased_serde::Error>,
    ) -> Result<(), ConvertError>;
}

/// JSON in text messages, on `serde_json` (feature `json`). Binary messages holding JSON are
/// accepted too.
///
/// ```
/// # #[cfg(feature = "json")] {
/// use syncws::{Config, JsonConverter};
/// let config = Config::default().content_converter(JsonConverter);
/// # }
/// ```
#[cfg(feature = "json")]
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonConverter;

#[cfg(feature = "json")]
impl ContentConverter for JsonConverter {
    fn serialize(&self, value: &dyn erased_serde::Serialize) -> Result<Message, ConvertError> {
        serde_json::to_string(value).map(Message::Text).map_err(|e| ConvertError::Serialize(e.to_string()))
    }

    fn deserialize(
        &self,
        message: &Message,
        visit: &mut dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<(), erased_serde::Error>,
    ) -> Result<(), ConvertError> {
        let mut json = serde_json::Deserializer::from_slice(message.as_bytes());
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut json))
            .map_err(|e| ConvertError::Deserialize(e.to_string()))?;
        json.end().map_err(|e| ConvertError::Deserialize(e.to_string()))
    }
}

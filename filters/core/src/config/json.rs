//! JSON decoding with the failing field's path in the error.

use super::error::ConfigError;
use serde::de::DeserializeOwned;

/// Decodes `bytes` as `T`, reporting the path of the field that failed
/// (`shed_response.status`) rather than only a line and column.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ConfigError::new(
            ".",
            "the plugin configuration is empty; expected a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ConfigError::new(path, e.into_inner().to_string())
    })?;
    de.end()
        .map_err(|e| ConfigError::new(".", format!("trailing data after the JSON object: {e}")))?;
    Ok(value)
}

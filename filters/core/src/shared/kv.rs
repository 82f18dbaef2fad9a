//! The shared key-value store and the compare-and-swap update loop.

/// Errors from a shared-data operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvError {
    /// Someone wrote the key after our `get`.
    CasMismatch,
    /// The host refused the call with this proxy-wasm status code.
    Host(u32),
}

/// Proxy-wasm shared data, as Envoy implements it.
pub trait SharedKv {
    /// The value of `key` and its CAS token (never 0), or `None` if absent.
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, KvError>;

    /// Stores `value` if `cas` is 0 or equals the key's current token.
    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), KvError>;
}

/// What an update step wants done with the value it was shown.
#[derive(Debug)]
pub enum Step<T> {
    /// Write these bytes (conditionally on the token of the value shown).
    Write(Vec<u8>, T),
    /// Write nothing; the update is complete.
    Keep(T),
}

/// The result of [`cas_update`].
#[derive(Debug, PartialEq, Eq)]
pub struct CasOutcome<T> {
    /// What the last step computed.
    pub result: T,
    /// `get`/`set` rounds used (1 when uncontended).
    pub attempts: u32,
    /// False if every attempt lost its race: the step's write did not land.
    pub committed: bool,
}

/// Read-modify-write of `key` with compare-and-swap, at most `max_attempts`
/// rounds. `step` sees the current bytes (`None` if the key is absent) and
/// decides what to write; it runs again on every lost race, so it must be a
/// pure function of its input and the caller's state.
///
/// When the key is absent the write is unconditional (Envoy has no
/// create-if-absent); callers whose records are per-worker lanes repair the
/// rare lost creation at their next write.
pub fn cas_update<K: SharedKv + ?Sized, T>(
    kv: &K,
    key: &str,
    max_attempts: u32,
    mut step: impl FnMut(Option<&[u8]>) -> Step<T>,
) -> Result<CasOutcome<T>, KvError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = kv.get(key)?;
        let (bytes, cas) = match &current {
            Some((bytes, cas)) => (Some(bytes.as_slice()), *cas),
            None => (None, 0),
        };
        match step(bytes) {
            Step::Keep(result) => {
                return Ok(CasOutcome {
                    result,
                    attempts,
                    committed: true,
                })
            }
            Step::Write(value, result) => match kv.set(key, &value, cas) {
                Ok(()) => {
                    return Ok(CasOutcome {
                        result,
                        attempts,
                        committed: true,
                    })
                }
                Err(KvError::CasMismatch) if attempts < max_attempts => continue,
                Err(KvError::CasMismatch) => {
                    return Ok(CasOutcome {
                        result,
                        attempts,
                        committed: false,
                    })
                }
                Err(e) => return Err(e),
            },
        }
    }
}

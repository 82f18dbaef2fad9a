//! Effects a guest asked for, applied after its callback returned.

use super::world::{Event, LocalReply, World};
use crate::host::shared::VmKey;
use crate::host::state::{CallResponse, Deferred};
use std::time::Duration;

impl World {
    /// Takes the deferred effects of VM `key` and carries them out. Effects
    /// on a stream other than the one being driven wake that stream up with
    /// a zero-delay event, keeping the call stack flat.
    pub(super) fn apply_deferred(&mut self, key: VmKey) {
        let Some(deferred) = self
            .vms
            .slot_mut(key)
            .and_then(|s| s.vm.as_mut().ok())
            .map(|vm| vm.take_deferred())
        else {
            return;
        };
        let generation = self.vms.slot_mut(key).map_or(0, |s| s.generation);
        for d in deferred {
            match d {
                Deferred::LocalReply {
                    context_id,
                    status,
                    details,
                    body,
                    headers,
                    ..
                } => {
                    self.on_stream(key, context_id, |s, plugin| {
                        s.pending.local_reply = Some(LocalReply {
                            status,
                            details,
                            body,
                            headers,
                            from_plugin: Some(plugin),
                        });
                    });
                }
                Deferred::Continue { context_id, stream } => {
                    let dir = usize::from(stream == 1);
                    self.on_stream(key, context_id, |s, _| s.pending.resume[dir] = true);
                }
                Deferred::Close { context_id, .. } => {
                    self.on_stream(key, context_id, |s, _| s.pending.reset = true);
                }
                Deferred::TickPeriod { root_index } => self.schedule_tick(key, root_index),
                Deferred::QueueReady { registrant, token } => {
                    let vm_generation =
                        self.vms.slot_mut(registrant.vm).map_or(0, |s| s.generation);
                    self.events.push(
                        self.now(),
                        Event::QueueReady {
                            vm: registrant.vm,
                            generation: vm_generation,
                            root_context_id: registrant.root_context_id,
                            token,
                        },
                    );
                }
                Deferred::HttpCall(call) => {
                    let target = self.config.targets.get(&call.cluster).cloned();
                    let (delay, response) = match target {
                        Some(t) => {
                            let mut headers: Vec<(Vec<u8>, Vec<u8>)> = vec![(
                                b":status".to_vec(),
                                t.status.max(100).to_string().into_bytes(),
                            )];
                            headers.extend(t.headers.iter().map(|(k, v)| {
                                (k.to_ascii_lowercase().into_bytes(), v.clone().into_bytes())
                            }));
                            (
                                t.delay.0,
                                CallResponse {
                                    headers,
                                    body: t.body.into_bytes(),
                                    trailers: Vec::new(),
                                },
                            )
                        }
                        None => (
                            Duration::from_millis(1),
                            CallResponse {
                                headers: vec![(b":status".to_vec(), b"200".to_vec())],
                                body: Vec::new(),
                                trailers: Vec::new(),
                            },
                        ),
                    };
                    // A call that outlives its timeout fails: no headers.
                    let (delay, response) = if !call.timeout.is_zero() && delay > call.timeout {
                        (call.timeout, CallResponse::default())
                    } else {
                        (delay, response)
                    };
                    self.events.push(
                        self.now() + delay,
                        Event::HttpCallResponse {
                            vm: key,
                            generation,
                            token: call.token,
                            response,
                        },
                    );
                }
                Deferred::GrpcCall(call) => {
                    let t = self
                        .config
                        .targets
                        .get(&call.cluster)
                        .cloned()
                        .unwrap_or_default();
                    let (delay, status, message, body) =
                        if !call.timeout.is_zero() && t.delay.0 > call.timeout {
                            // DEADLINE_EXCEEDED
                            (call.timeout, 4, b"deadline exceeded".to_vec(), Vec::new())
                        } else {
                            (
                                t.delay.0,
                                t.grpc_status,
                                t.grpc_message.into_bytes(),
                                t.body.into_bytes(),
                            )
                        };
                    self.events.push(
                        self.now() + delay,
                        Event::GrpcResponse {
                            vm: key,
                            generation,
                            token: call.token,
                            status,
                            message,
                            body,
                        },
                    );
                }
                Deferred::Done { .. } => {}
            }
        }
    }

    /// Applies `f` to the stream of context `context_id` in VM `key`, and
    /// wakes it if it is not the stream being driven.
    fn on_stream(
        &mut self,
        key: VmKey,
        context_id: u32,
        f: impl FnOnce(&mut super::world::Stream, usize),
    ) {
        let Some(&(sid, plugin)) = self.contexts.get(&(key, context_id)) else {
            return;
        };
        let Some(s) = self.streams.get_mut(&sid) else {
            return;
        };
        f(s, plugin);
        if self.driving != Some(sid) {
            self.events.push(self.now(), Event::Kick(sid));
        }
    }
}

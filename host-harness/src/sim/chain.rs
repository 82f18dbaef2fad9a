//! A stream through the filter chain, as Envoy's filter manager runs it.

use super::collector::Outcome;
use super::config::FailurePolicy;
use super::exchange::{text_pairs, Exchange};
use super::upstream::Admission;
use super::vms::Vms;
use super::world::{Event, LocalReply, Phase, Slot, Stage, World};
use crate::host::shared::VmKey;
use crate::host::stream::Access;
use crate::vm::instance::Action;
use crate::vm::{Vm, VmFailure};

/// What one filter step did.
enum Step {
    Continue,
    Pause,
    /// The filter's VM failed in this callback.
    Failed,
}

/// Body bytes the harness sends for a request or response of `len` bytes.
pub(super) fn filler(len: u64) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

impl World {
    /// Advances stream `sid` until it waits (paused filter, upstream) or ends.
    pub(super) fn drive(&mut self, sid: u64) {
        let outer = self.driving.replace(sid);
        self.drive_inner(sid);
        self.driving = outer;
    }

    fn drive_inner(&mut self, sid: u64) {
        let n = self.config.plugins.len();
        loop {
            let Some(s) = self.streams.get_mut(&sid) else {
                return;
            };
            if std::mem::take(&mut s.pending.reset) {
                s.outcome = Some(Outcome::Shed("stream_reset".into()));
                self.abandon_upstream(sid);
                self.complete(sid);
                return;
            }
            if let Some(reply) = s.pending.local_reply.take() {
                self.start_local_reply(sid, reply);
                continue;
            }
            if s.paused {
                let dir = match s.phase {
                    Phase::Encode { .. } => 1,
                    _ => 0,
                };
                if !std::mem::take(&mut s.pending.resume[dir]) {
                    return;
                }
                s.paused = false;
                continue;
            }
            match s.phase {
                Phase::Decode { stage, next } if next < n => {
                    s.phase = Phase::Decode {
                        stage,
                        next: next + 1,
                    };
                    if let Step::Pause = self.decode_step(sid, stage, next) {
                        if let Some(s) = self.streams.get_mut(&sid) {
                            s.paused = true;
                        }
                    }
                }
                Phase::Decode {
                    stage: Stage::Headers,
                    ..
                } if s.body_len > 0 => {
                    s.data.lock().request_body = filler(s.body_len);
                    s.phase = Phase::Decode {
                        stage: Stage::Body,
                        next: 0,
                    };
                }
                Phase::Decode { .. } => {
                    self.forward(sid);
                    return;
                }
                Phase::Upstream | Phase::Done => return,
                Phase::Encode { stage, remaining } if remaining > 0 => {
                    s.phase = Phase::Encode {
                        stage,
                        remaining: remaining - 1,
                    };
                    if let Step::Pause = self.encode_step(sid, stage, remaining - 1) {
                        if let Some(s) = self.streams.get_mut(&sid) {
                            s.paused = true;
                        }
                    }
                }
                Phase::Encode {
                    stage: Stage::Headers,
                    ..
                } => {
                    let has_body = !s.data.lock().response_body.is_empty();
                    if has_body {
                        let top = s
                            .slots
                            .iter()
                            .rposition(|x| matches!(x, Slot::Ctx { .. }))
                            .map_or(0, |i| i + 1);
                        s.phase = Phase::Encode {
                            stage: Stage::Body,
                            remaining: top,
                        };
                    } else {
                        self.complete(sid);
                        return;
                    }
                }
                Phase::Encode {
                    stage: Stage::Body, ..
                } => {
                    self.complete(sid);
                    return;
                }
            }
        }
    }

    /// The live VM and context of filter `i` in stream `sid`, if it has one.
    fn context(&mut self, sid: u64, i: usize) -> Option<(VmKey, u32)> {
        let slot = *self.streams.get(&sid)?.slots.get(i)?;
        let Slot::Ctx { vm, generation, id } = slot else {
            return None;
        };
        let vm_slot = self.vms.slot_mut(vm)?;
        if vm_slot.generation != generation || vm_slot.live().is_none() {
            if let Some(s) = self.streams.get_mut(&sid) {
                s.slots[i] = Slot::Skipped;
            }
            return None;
        }
        Some((vm, id))
    }

    /// Calls a stream callback on filter `i`'s VM and applies its effects.
    fn call(&mut self, key: VmKey, f: impl FnOnce(&mut Vm) -> Result<Action, VmFailure>) -> Step {
        let result = match self.vms.slot_mut(key).and_then(|s| s.live()) {
            Some(vm) => f(vm),
            None => Ok(Action::Continue),
        };
        self.apply_deferred(key);
        match result {
            Ok(Action::Pause) => Step::Pause,
            Ok(Action::Continue) => Step::Continue,
            Err(failure) => {
                self.report_failure(key, &failure);
                Step::Failed
            }
        }
    }

    fn decode_step(&mut self, sid: u64, stage: Stage, i: usize) -> Step {
        if stage == Stage::Headers
            && self
                .streams
                .get(&sid)
                .is_some_and(|s| s.slots[i] == Slot::Unstarted)
        {
            self.start_filter(sid, i);
        }
        let Some((key, id)) = self.context(sid, i) else {
            return Step::Continue;
        };
        let (n_headers, body_len) = match self.streams.get(&sid) {
            Some(s) => (s.data.lock().request_headers.len() as u32, s.body_len),
            None => return Step::Continue,
        };
        let step = match stage {
            Stage::Headers => self.call(key, |vm| {
                vm.set_access(
                    id,
                    Access {
                        request_headers: true,
                        ..Access::NONE
                    },
                );
                vm.request_headers(id, n_headers, body_len == 0)
            }),
            Stage::Body => self.call(key, |vm| {
                let a = vm.access(id);
                vm.set_access(
                    id,
                    Access {
                        request_body: true,
                        ..a
                    },
                );
                vm.request_body(id, body_len as u32, true)
            }),
        };
        if let Step::Failed = step {
            // As Envoy 1.40 does (tests/e2e/tests/failure_policy.rs): the
            // stream whose callback trapped gets a 503 local reply
            // (`failStream`) under every policy, fail-open included; later
            // streams meet the policy when the filter starts.
            if let Some(s) = self.streams.get_mut(&sid) {
                s.slots[i] = Slot::Skipped;
            }
            self.fail_stream(sid, i, FailurePolicy::FailClosed);
            return Step::Pause;
        }
        if let (Step::Continue, Some(vm)) = (&step, self.vms.slot_mut(key).and_then(|s| s.live())) {
            vm.set_access(id, Access::NONE);
        }
        step
    }

    fn encode_step(&mut self, sid: u64, stage: Stage, i: usize) -> Step {
        let Some((key, id)) = self.context(sid, i) else {
            return Step::Continue;
        };
        let (n_headers, body_len) = match self.streams.get(&sid) {
            Some(s) => {
                let d = s.data.lock();
                (
                    d.response_headers.len() as u32,
                    d.response_body.len() as u32,
                )
            }
            None => return Step::Continue,
        };
        let step = match stage {
            Stage::Headers => self.call(key, |vm| {
                let a = vm.access(id);
                vm.set_access(
                    id,
                    Access {
                        response_headers: true,
                        ..a
                    },
                );
                vm.response_headers(id, n_headers, body_len == 0)
            }),
            Stage::Body => self.call(key, |vm| {
                let a = vm.access(id);
                vm.set_access(
                    id,
                    Access {
                        response_body: true,
                        response_headers: false,
                        ..a
                    },
                );
                vm.response_body(id, body_len, true)
            }),
        };
        if let Step::Failed = step {
            // The response is already under way: the stream finishes
            // without the filter (Envoy would reset it under fail-closed;
            // the harness lets it complete).
            return Step::Continue;
        }
        if let (Step::Continue, Some(vm)) = (&step, self.vms.slot_mut(key).and_then(|s| s.live())) {
            vm.set_access(id, Access::NONE);
        }
        step
    }

    /// Creates filter `i`'s context for the stream, applying the plugin's
    /// failure policy if its VM failed.
    fn start_filter(&mut self, sid: u64, i: usize) {
        let Some(worker) = self.streams.get(&sid).map(|s| s.worker) else {
            return;
        };
        let (group, root) = self.vms.plugin_at[i];
        let key = VmKey {
            worker: Some(worker),
            group: group as u32,
        };
        let policy = self.config.plugins[i].failure_policy;
        let failed = self.vms.slot_mut(key).is_some_and(|s| s.live().is_none());
        if failed && policy == FailurePolicy::FailReload {
            self.maybe_reload(key);
        }
        let stream_data = match self.streams.get(&sid) {
            Some(s) => s.data.clone(),
            None => return,
        };
        let created = self.vms.slot_mut(key).and_then(|slot| {
            let generation = slot.generation;
            slot.live()
                .map(|vm| (generation, vm.create_http_context(root, stream_data)))
        });
        let slot = match created {
            Some((generation, Ok(id))) => {
                self.contexts.insert((key, id), (sid, i));
                Slot::Ctx {
                    vm: key,
                    generation,
                    id,
                }
            }
            Some((_, Err(failure))) => {
                self.report_failure(key, &failure);
                self.fail_stream(sid, i, policy)
            }
            None => self.fail_stream(sid, i, policy),
        };
        self.apply_deferred(key);
        if let Some(s) = self.streams.get_mut(&sid) {
            s.slots[i] = slot;
        }
    }

    /// Filter `i` has no working VM: skip it (fail open) or refuse the
    /// stream with 503 (fail closed, or fail reload while backing off).
    fn fail_stream(&mut self, sid: u64, i: usize, policy: FailurePolicy) -> Slot {
        if policy != FailurePolicy::FailOpen {
            if let Some(s) = self.streams.get_mut(&sid) {
                s.pending.local_reply = Some(LocalReply {
                    status: 503,
                    details: "wasm_fail_stream".into(),
                    body: b"wasm plugin failed\n".to_vec(),
                    headers: vec![(
                        self.config.classes.shed_reason_header.clone().into_bytes(),
                        b"vm_failed".to_vec(),
                    )],
                    from_plugin: Some(i),
                });
            }
        }
        Slot::Skipped
    }

    /// Starts a new VM in place of a failed one, if the backoff has passed.
    fn maybe_reload(&mut self, key: VmKey) {
        let now = self.now();
        let backoff = self.config.vm.reload_backoff;
        let Some(slot) = self.vms.slot_mut(key) else {
            return;
        };
        if now < slot.last_reload + backoff && slot.generation > 0 {
            return;
        }
        let generation = slot.generation + 1;
        let new = Vms::create(
            &self.config,
            &self.shared,
            &self.vms.groups,
            key,
            generation,
        );
        if let Some(slot) = self.vms.slot_mut(key) {
            *slot = new;
        }
        self.collector
            .vm_events
            .push(sluice_report::model::VmEvent {
                at_s: now.as_secs_f64(),
                worker: key.worker.map_or("main".into(), |w| format!("worker_{w}")),
                plugin: self.vms.groups[key.group as usize]
                    .plugins
                    .iter()
                    .map(|&p| self.config.plugins[p].name.clone())
                    .collect::<Vec<_>>()
                    .join(","),
                callback: String::new(),
                kind: "reload".into(),
                message: format!("VM reloaded (generation {generation})"),
            });
        self.contexts.retain(|(k, _), _| *k != key);
        let roots = self.vms.groups[key.group as usize].plugins.len();
        self.after_start(key);
        for r in 0..roots {
            self.tick_generation.remove(&(key, r));
        }
    }

    /// Sends the request upstream, to the route's cluster or the one named
    /// by the cluster header (read after every filter ran).
    fn forward(&mut self, sid: u64) {
        let now = self.now();
        let Some(s) = self.streams.get_mut(&sid) else {
            return;
        };
        let name = {
            let d = s.data.lock();
            self.config
                .route
                .cluster_header
                .as_ref()
                .and_then(|h| {
                    d.request_headers
                        .iter()
                        .find(|(k, _)| k == h.as_bytes())
                        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                })
                .unwrap_or_else(|| self.config.route.cluster.clone())
        };
        let Some(k) = self.clusters.iter().position(|c| c.name == name) else {
            s.outcome = Some(Outcome::Failure);
            self.respond_local(sid, 503, "cluster_not_found");
            return;
        };
        s.cluster = Some(k);
        s.phase = Phase::Upstream;
        s.awaiting_upstream = true;
        s.upstream_started = Some(now);
        {
            let mut d = s.data.lock();
            d.info.cluster_name = name;
            if self.config.record_exchanges {
                s.upstream_request = Some(d.request_headers.clone());
            }
        }
        let class = s.class;
        let recorded = s.recorded.as_ref().map(|r| r.duration);
        self.collector.record_admitted(now, class, Some(k));
        let admission = {
            let draws = &mut self.draws;
            self.clusters[k].arrive(sid, now, recorded, &mut || draws.next())
        };
        match admission {
            Admission::Serve(d) => self.events.push(
                now + d,
                Event::UpstreamDone {
                    stream: sid,
                    cluster: k,
                },
            ),
            Admission::Queued => {}
            Admission::Refuse(status) => self.events.push(
                now,
                Event::UpstreamRefused {
                    stream: sid,
                    cluster: k,
                    status,
                },
            ),
        }
        self.events
            .push(now + self.config.route.timeout, Event::RouteTimeout(sid));
    }

    /// The upstream (or the router) answered `status`.
    pub(super) fn respond(&mut self, sid: u64, status: u16, cluster: usize) {
        let Some(s) = self.streams.get_mut(&sid) else {
            return;
        };
        if !s.awaiting_upstream {
            return;
        }
        s.awaiting_upstream = false;
        let name = self
            .clusters
            .get(cluster)
            .map_or("router", |c| c.name.as_str());
        let body = format!("{status} from {name}\n").into_bytes();
        {
            let mut d = s.data.lock();
            d.response_headers = vec![
                (b":status".to_vec(), status.to_string().into_bytes()),
                (
                    b"content-length".to_vec(),
                    body.len().to_string().into_bytes(),
                ),
                (b"content-type".to_vec(), b"text/plain".to_vec()),
                (b"x-upstream-name".to_vec(), name.as_bytes().to_vec()),
            ];
            d.response_body = body;
            d.response_code = Some(u32::from(status));
            d.response_code_details = if status == 504 {
                "upstream_response_timeout".into()
            } else {
                "via_upstream".into()
            };
        }
        s.outcome = Some(if status < 400 {
            Outcome::Success
        } else {
            Outcome::Failure
        });
        let top = s.slots.len();
        s.phase = Phase::Encode {
            stage: Stage::Headers,
            remaining: top,
        };
        s.paused = false;
        self.drive(sid);
    }

    /// A reply generated by the proxy itself (not a filter).
    fn respond_local(&mut self, sid: u64, status: u32, details: &str) {
        self.start_local_reply(
            sid,
            LocalReply {
                status,
                details: details.into(),
                body: format!("{details}\n").into_bytes(),
                headers: Vec::new(),
                from_plugin: None,
            },
        );
        self.drive(sid);
    }

    /// Replaces the response with a local reply and encodes it through every
    /// filter, last first, as Envoy's filter manager does (`encodeHeaders`
    /// from the first encoder filter). A filter the request never reached has
    /// no context and sees nothing (Envoy's wasm filter skips a stream whose
    /// VM context was never created); one the request already passed, say
    /// before the sender paused the body, sees the reply.
    fn start_local_reply(&mut self, sid: u64, reply: LocalReply) {
        self.abandon_upstream(sid);
        let reason_header = self.config.classes.shed_reason_header.as_bytes().to_vec();
        let Some(s) = self.streams.get_mut(&sid) else {
            return;
        };
        let reason = reply
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&reason_header))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
        if reply.from_plugin.is_some() {
            s.outcome = Some(Outcome::Shed(
                reason.unwrap_or_else(|| "local_reply".into()),
            ));
        } else if s.outcome.is_none() {
            s.outcome = Some(Outcome::Failure);
        }
        {
            let mut d = s.data.lock();
            let mut headers = vec![(b":status".to_vec(), reply.status.to_string().into_bytes())];
            if !reply.body.is_empty() {
                headers.push((
                    b"content-length".to_vec(),
                    reply.body.len().to_string().into_bytes(),
                ));
                headers.push((b"content-type".to_vec(), b"text/plain".to_vec()));
            }
            headers.extend(
                reply
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
            );
            d.response_headers = headers;
            d.response_body = reply.body;
            d.response_code = Some(reply.status);
            d.response_code_details = reply.details;
        }
        s.phase = Phase::Encode {
            stage: Stage::Headers,
            remaining: s.slots.len(),
        };
        s.paused = false;
        s.pending.resume = [false; 2];
    }

    /// The stream no longer waits for its upstream request.
    fn abandon_upstream(&mut self, sid: u64) {
        let Some(s) = self.streams.get_mut(&sid) else {
            return;
        };
        if std::mem::take(&mut s.awaiting_upstream) {
            if let Some(k) = s.cluster {
                self.clusters[k].abandon(sid);
            }
        }
    }

    /// The stream ended: `on_log` for every filter in chain order, then
    /// `on_done` and `on_delete` for each, then the outcome is counted.
    pub(super) fn complete(&mut self, sid: u64) {
        let Some(s) = self.streams.get_mut(&sid) else {
            return;
        };
        s.phase = Phase::Done;
        let slots = s.slots.clone();
        for (i, _) in slots.iter().enumerate() {
            if let Some((key, id)) = self.context(sid, i) {
                self.call(key, |vm| vm.log(id).map(|()| Action::Continue));
            }
        }
        for (i, slot) in slots.iter().enumerate() {
            if let Some((key, id)) = self.context(sid, i) {
                self.call(key, |vm| vm.end(id).map(|()| Action::Continue));
            }
            if let Slot::Ctx { vm, id, .. } = slot {
                self.contexts.remove(&(*vm, *id));
            }
        }
        let Some(s) = self.streams.remove(&sid) else {
            return;
        };
        if let Some(session) = s.session.clone() {
            let headers = s.data.lock().response_headers.clone();
            self.sessions.store(session, &headers);
        }
        if self.config.record_exchanges {
            let d = s.data.lock();
            self.exchanges.push(Exchange {
                index: sid,
                upstream_request_headers: s.upstream_request.as_ref().map(text_pairs),
                status: d.response_code.unwrap_or(0),
                response_headers: text_pairs(&d.response_headers),
                body: String::from_utf8_lossy(&d.response_body).into_owned(),
                details: d.response_code_details.clone(),
            });
        }
        let outcome = s.outcome.unwrap_or(Outcome::Failure);
        let latency = s
            .upstream_started
            .map(|_| self.now().saturating_sub(s.arrived));
        let latency = match outcome {
            Outcome::Shed(_) => None,
            _ => latency,
        };
        // Counted in the interval the request arrived in: a window's
        // success rate and latency are those of the requests offered in it.
        self.collector
            .completed(s.arrived, s.class, &outcome, latency);
    }

    /// Requests admitted and not finished.
    pub fn inflight(&self) -> usize {
        self.streams
            .values()
            .filter(|s| s.awaiting_upstream)
            .count()
    }
}

//! The simulated Envoy: workers with their VMs, streams, upstreams, timers.

use super::collector::{Collector, Outcome};
use super::config::{Balance, SimConfig};
use super::events::EventQueue;
use super::exchange::Exchange;
use super::fast_map::IdMap;
use super::sessions::Sessions;
use super::upstream::Cluster;
use super::vms::{Shared, Vms};
use crate::host::clock::VirtualClock;
use crate::host::log::LogSink;
use crate::host::metrics::MetricStore;
use crate::host::pairs::Pairs;
use crate::host::shared::{SharedStore, VmKey};
use crate::host::state::CallResponse;
use crate::host::stream::{RequestInfo, SharedStream, StreamData};
use crate::vm::VmFailure;
use sluice_report::model::VmEvent;
use sluice_traffic::{Recorded, RequestSpec};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a run leaves behind.
#[derive(Debug)]
pub struct RunResult {
    pub collector: Collector,
    pub log: Arc<Mutex<LogSink>>,
    pub shared: Arc<Mutex<SharedStore>>,
    pub metrics: Arc<Mutex<MetricStore>>,
    pub simulated_requests: u64,
    /// Streams still unfinished when the drain after the traffic ended
    /// gave up (their route timeout past it): 0 unless a filter holds a
    /// stream forever.
    pub inflight_at_end: u64,
    /// Every finished request, in arrival order (when recorded).
    pub exchanges: Vec<Exchange>,
}

/// Something that happens at a point in virtual time.
#[derive(Debug)]
pub(super) enum Event {
    Arrival,
    Sample,
    /// A stream has something to do now (resume, local reply, reset).
    Kick(u64),
    UpstreamDone {
        stream: u64,
        cluster: usize,
    },
    UpstreamRefused {
        stream: u64,
        cluster: usize,
        status: u16,
    },
    RouteTimeout(u64),
    Tick {
        vm: VmKey,
        root: usize,
        generation: u32,
    },
    QueueReady {
        vm: VmKey,
        generation: u32,
        root_context_id: u32,
        token: u32,
    },
    HttpCallResponse {
        vm: VmKey,
        generation: u32,
        token: u32,
        response: CallResponse,
    },
    GrpcResponse {
        vm: VmKey,
        generation: u32,
        token: u32,
        status: u32,
        message: Vec<u8>,
        body: Vec<u8>,
    },
}

/// A filter's place in a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// Not reached yet (Envoy creates the context at the first callback).
    Unstarted,
    Ctx {
        vm: VmKey,
        generation: u32,
        id: u32,
    },
    /// The filter is out of this stream (its VM failed, fail-open).
    Skipped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    Headers,
    Body,
}

/// Where a stream is in the filter manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Decoding; filters `next..` still to run.
    Decode {
        stage: Stage,
        next: usize,
    },
    /// Waiting for the upstream.
    Upstream,
    /// Encoding; filters `..remaining` still to run, last first.
    Encode {
        stage: Stage,
        remaining: usize,
    },
    Done,
}

/// A local reply a filter asked for.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct LocalReply {
    pub status: u32,
    pub details: String,
    pub body: Vec<u8>,
    pub headers: Pairs,
    pub from_plugin: Option<usize>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Pending {
    pub local_reply: Option<LocalReply>,
    /// Resume requested: [request, response].
    pub resume: [bool; 2],
    pub reset: bool,
}

#[derive(Debug)]
pub(super) struct Stream {
    pub class: usize,
    pub worker: u32,
    pub arrived: Duration,
    pub data: SharedStream,
    pub body_len: u64,
    pub recorded: Option<Recorded>,
    pub slots: Vec<Slot>,
    pub phase: Phase,
    pub paused: bool,
    pub pending: Pending,
    pub outcome: Option<Outcome>,
    pub cluster: Option<usize>,
    pub upstream_started: Option<Duration>,
    pub awaiting_upstream: bool,
    /// Request headers as sent upstream (only when recording exchanges).
    pub upstream_request: Option<Pairs>,
    /// The client session (`x-harness-session`), whose cookie jar the
    /// response's `set-cookie` headers go to.
    pub session: Option<Vec<u8>>,
}

/// SplitMix64 draws for the simulation's own randomness.
#[derive(Debug)]
pub(super) struct Draws(u64);

impl Draws {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The simulation.
pub struct World {
    pub(super) config: SimConfig,
    pub(super) clock: VirtualClock,
    pub(super) events: EventQueue<Event>,
    pub(super) vms: Vms,
    pub(super) shared: Shared,
    pub(super) streams: IdMap<u64, Stream>,
    pub(super) contexts: IdMap<(VmKey, u32), (u64, usize)>,
    pub(super) tick_generation: IdMap<(VmKey, usize), u32>,
    pub(super) clusters: Vec<Cluster>,
    pub(super) collector: Collector,
    pub(super) draws: Draws,
    pub(super) driving: Option<u64>,
    traffic: Box<dyn Iterator<Item = RequestSpec>>,
    next_request: Option<RequestSpec>,
    next_stream: u64,
    round_robin: u32,
    reported: IdMap<(VmKey, u32), ()>,
    pub(super) simulated: u64,
    pub(super) exchanges: Vec<Exchange>,
    pub(super) sessions: Sessions,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("now", &self.clock.now())
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl World {
    /// Builds the world: VMs start in Envoy's order (each group's main-thread
    /// VM, then the workers'), at virtual time zero.
    pub fn new(
        config: SimConfig,
        traffic: Box<dyn Iterator<Item = RequestSpec>>,
        log: LogSink,
    ) -> World {
        let clock = VirtualClock::new();
        let mut known: Vec<String> = config.clusters.iter().map(|(n, _)| n.clone()).collect();
        for t in config.targets.keys() {
            if !known.contains(t) {
                known.push(t.clone());
            }
        }
        let shared = Shared {
            clock: clock.clone(),
            shared: Arc::new(Mutex::new(SharedStore::default())),
            metrics: Arc::new(Mutex::new(MetricStore::default())),
            log: Arc::new(Mutex::new(log)),
            known_clusters: Arc::new(known),
        };
        let (groups, plugin_at) = Vms::group(&config);
        let collector = Collector::new(
            config.interval,
            config.duration,
            config.classes.names.clone(),
            config.clusters.iter().map(|(n, _)| n.clone()).collect(),
        );
        let clusters = config
            .clusters
            .iter()
            .map(|(n, s)| Cluster::new(n.clone(), s.clone()))
            .collect();
        let mut world = World {
            draws: Draws(config.seed ^ 0xD1CE),
            clock,
            events: EventQueue::default(),
            vms: Vms {
                groups,
                plugin_at,
                main: Vec::new(),
                workers: Vec::new(),
            },
            shared,
            streams: IdMap::default(),
            contexts: IdMap::default(),
            tick_generation: IdMap::default(),
            clusters,
            collector,
            driving: None,
            traffic,
            next_request: None,
            next_stream: 0,
            round_robin: 0,
            reported: IdMap::default(),
            simulated: 0,
            exchanges: Vec::new(),
            sessions: Sessions::default(),
            config,
        };
        world.start_vms();
        world
    }

    fn start_vms(&mut self) {
        let groups = self.vms.groups.len() as u32;
        for g in 0..groups {
            let key = VmKey {
                worker: None,
                group: g,
            };
            let slot = Vms::create(&self.config, &self.shared, &self.vms.groups, key, 0);
            self.vms.main.push(slot);
            self.after_start(key);
        }
        for w in 0..self.config.workers {
            let mut row = Vec::new();
            for g in 0..groups {
                row.push(Vms::create(
                    &self.config,
                    &self.shared,
                    &self.vms.groups,
                    VmKey {
                        worker: Some(w),
                        group: g,
                    },
                    0,
                ));
            }
            self.vms.workers.push(row);
            for g in 0..groups {
                self.after_start(VmKey {
                    worker: Some(w),
                    group: g,
                });
            }
        }
    }

    /// After a VM started: report a failure, apply what it asked for.
    pub(super) fn after_start(&mut self, key: VmKey) {
        let failure = self.vms.slot_mut(key).and_then(|s| s.failure());
        if let Some(f) = failure {
            self.report_failure(key, &f);
        }
        self.apply_deferred(key);
    }

    /// Like Envoy, which rejects a configuration whose plugin refuses it on
    /// the main thread: the refusals, with what the guests logged at warn
    /// level and above while starting. `None` if every plugin started.
    pub fn refused_configuration(&self) -> Option<String> {
        let refused: Vec<&VmEvent> = self
            .collector
            .vm_events
            .iter()
            .filter(|e| e.worker == "main" && e.kind == "configure_failed")
            .collect();
        if refused.is_empty() {
            return None;
        }
        let mut text = String::new();
        for e in refused {
            text.push_str(&format!(
                "plugin {} refused its configuration ({}: {})",
                e.plugin, e.callback, e.message
            ));
        }
        if let Ok(log) = self.shared.log.lock() {
            for l in log
                .lines
                .iter()
                .filter(|l| l.worker.is_none() && l.level >= 3)
            {
                text.push_str(&format!("\n  {}: {}", l.plugin, l.message));
            }
        }
        Some(text)
    }

    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Records a VM failure once per VM generation.
    pub(super) fn report_failure(&mut self, key: VmKey, failure: &VmFailure) {
        let generation = self.vms.slot_mut(key).map_or(0, |s| s.generation);
        if self.reported.insert((key, generation), ()).is_some() {
            return;
        }
        let group = &self.vms.groups[key.group as usize];
        let plugin = group
            .plugins
            .iter()
            .map(|&p| self.config.plugins[p].name.clone())
            .collect::<Vec<_>>()
            .join(",");
        self.collector.vm_events.push(VmEvent {
            at_s: self.now().as_secs_f64(),
            worker: key.worker.map_or("main".into(), |w| format!("worker_{w}")),
            plugin,
            callback: failure.callback.export_name().to_string(),
            kind: failure.kind.as_str().to_string(),
            message: failure.message.clone(),
        });
    }

    /// Runs to the end of the scenario and returns the report (without the
    /// scenario and run facts, which the caller adds).
    pub fn run(mut self, mut progress: impl FnMut(Duration)) -> RunResult {
        self.pull_next_request();
        let interval = self.config.interval;
        self.events.push(interval, Event::Sample);
        let end = self.config.duration;
        // Traffic stops at `end`; the requests it sent are then answered
        // (workers keep ticking), so that each has an outcome. Every
        // forwarded request has its route timeout scheduled, which bounds
        // the drain.
        let drain_until = end + self.config.route.timeout;
        let mut last_progress = Duration::ZERO;
        while let Some(at) = self.events.peek_time() {
            if at > end && (self.streams.is_empty() || at > drain_until) {
                break;
            }
            let Some((at, event)) = self.events.pop() else {
                break;
            };
            self.clock.set(at);
            if at >= last_progress + Duration::from_secs(1) && at <= end {
                last_progress = at;
                progress(at);
            }
            self.handle(event);
        }
        if self.now() < end {
            self.clock.set(end);
        }
        RunResult {
            collector: self.collector,
            log: Arc::clone(&self.shared.log),
            shared: Arc::clone(&self.shared.shared),
            metrics: Arc::clone(&self.shared.metrics),
            simulated_requests: self.simulated,
            inflight_at_end: self.streams.len() as u64,
            exchanges: {
                let mut e = std::mem::take(&mut self.exchanges);
                e.sort_by_key(|x| x.index);
                e
            },
        }
    }

    fn pull_next_request(&mut self) {
        self.next_request = self.traffic.next();
        if let Some(r) = &self.next_request {
            if r.at <= self.config.duration {
                self.events.push(r.at, Event::Arrival);
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival => {
                if let Some(req) = self.next_request.take() {
                    self.arrive(req);
                }
                self.pull_next_request();
            }
            Event::Sample => {
                let inflight = self
                    .streams
                    .values()
                    .filter(|s| s.awaiting_upstream)
                    .count() as u64;
                let loads: Vec<u64> = self.clusters.iter().map(Cluster::load).collect();
                let metrics = Arc::clone(&self.shared.metrics);
                let metrics = metrics.lock().unwrap_or_else(|e| e.into_inner());
                self.collector
                    .sample(self.now(), inflight, &loads, &metrics);
                drop(metrics);
                let next = self.now() + self.config.interval;
                if next <= self.config.duration {
                    self.events.push(next, Event::Sample);
                }
            }
            Event::Kick(sid) => self.drive(sid),
            Event::UpstreamDone { stream, cluster } => self.upstream_done(stream, cluster),
            Event::UpstreamRefused {
                stream,
                cluster,
                status,
            } => {
                self.collector
                    .upstream_done(self.now(), cluster, status, Duration::ZERO);
                self.respond(stream, status, cluster);
            }
            Event::RouteTimeout(sid) => self.route_timeout(sid),
            Event::Tick {
                vm,
                root,
                generation,
            } => self.tick(vm, root, generation),
            Event::QueueReady {
                vm,
                generation,
                root_context_id,
                token,
            } => {
                self.on_vm(vm, generation, |v| v.queue_ready(root_context_id, token));
            }
            Event::HttpCallResponse {
                vm,
                generation,
                token,
                response,
            } => {
                self.on_vm(vm, generation, |v| v.http_call_response(token, response));
            }
            Event::GrpcResponse {
                vm,
                generation,
                token,
                status,
                message,
                body,
            } => {
                self.on_vm(vm, generation, |v| {
                    v.grpc_response(token, status, message, body)
                });
            }
        }
    }

    /// Runs a root-context callback on a live VM of the given generation.
    fn on_vm(
        &mut self,
        key: VmKey,
        generation: u32,
        f: impl FnOnce(&mut crate::vm::Vm) -> Result<(), VmFailure>,
    ) {
        let Some(slot) = self.vms.slot_mut(key) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        let Some(vm) = slot.live() else { return };
        if let Err(failure) = f(vm) {
            self.report_failure(key, &failure);
        }
        self.apply_deferred(key);
    }

    fn tick(&mut self, key: VmKey, root: usize, generation: u32) {
        if self.tick_generation.get(&(key, root)) != Some(&generation) {
            return;
        }
        let vm_generation = self.vms.slot_mut(key).map_or(0, |s| s.generation);
        let root_id = self
            .vms
            .slot_mut(key)
            .and_then(|s| s.live())
            .and_then(|vm| vm.state().roots.get(root).map(|r| r.context_id));
        let Some(root_id) = root_id else { return };
        self.on_vm(key, vm_generation, |vm| vm.tick(root_id));
        // Re-arm after on_tick returned, unless it changed the period.
        if self.tick_generation.get(&(key, root)) == Some(&generation) {
            self.arm_tick(key, root, generation);
        }
    }

    /// (Re)arms a root context's timer after its period was set.
    pub(super) fn schedule_tick(&mut self, key: VmKey, root: usize) {
        let generation = {
            let g = self.tick_generation.entry((key, root)).or_insert(0);
            *g += 1;
            *g
        };
        self.arm_tick(key, root, generation);
    }

    /// Schedules the root context's next tick one period from now (none if
    /// its period is zero).
    fn arm_tick(&mut self, key: VmKey, root: usize, generation: u32) {
        let period = self
            .vms
            .slot_mut(key)
            .and_then(|s| s.live())
            .and_then(|vm| vm.state().roots.get(root).map(|r| r.tick_period))
            .unwrap_or(Duration::ZERO);
        if !period.is_zero() {
            let at = self.now() + period;
            self.events.push(
                at,
                Event::Tick {
                    vm: key,
                    root,
                    generation,
                },
            );
        }
    }

    fn pick_worker(&mut self) -> u32 {
        match self.config.balance {
            Balance::RoundRobin => {
                let w = self.round_robin % self.config.workers;
                self.round_robin = self.round_robin.wrapping_add(1);
                w
            }
            Balance::Random => ((self.draws.next() * f64::from(self.config.workers)) as u32)
                .min(self.config.workers - 1),
        }
    }

    fn arrive(&mut self, req: RequestSpec) {
        self.simulated += 1;
        let sid = self.next_stream;
        self.next_stream += 1;
        let worker = self.pick_worker();
        let class = self
            .config
            .classes
            .classify(req.header(&self.config.classes.header));
        let mut headers: Pairs = vec![
            (b":authority".to_vec(), req.authority.clone().into_bytes()),
            (b":path".to_vec(), req.path.clone().into_bytes()),
            (b":method".to_vec(), req.method.clone().into_bytes()),
            (b":scheme".to_vec(), b"http".to_vec()),
        ];
        for (k, v) in &req.headers {
            headers.push((k.to_ascii_lowercase().into_bytes(), v.clone().into_bytes()));
        }
        if req.body_bytes > 0 {
            headers.push((
                b"content-length".to_vec(),
                req.body_bytes.to_string().into_bytes(),
            ));
        }
        headers.push((
            b"x-request-id".to_vec(),
            format!("{:016x}-{:08x}", self.config.seed, sid).into_bytes(),
        ));
        let session = Sessions::of(&headers);
        if let Some(id) = &session {
            self.sessions.attach(id, &mut headers);
        }
        let data = StreamData {
            request_headers: headers,
            info: RequestInfo {
                id: sid,
                source_address: req.source_address.clone().unwrap_or_else(|| {
                    format!(
                        "10.1.{}.{}:{}",
                        (sid >> 8) & 255,
                        sid & 255,
                        40_000 + (sid % 20_000)
                    )
                }),
                destination_address: "127.0.0.1:10000".into(),
                route_name: self.config.route.name.clone(),
                cluster_name: self.config.route.cluster.clone(),
                peer_principal: None,
                start_wall_nanos: self.clock.wall_nanos(),
            },
            ..Default::default()
        };
        let plugins = self.config.plugins.len();
        self.streams.insert(
            sid,
            Stream {
                class,
                worker,
                arrived: self.now(),
                data: SharedStream::new(data),
                body_len: req.body_bytes,
                recorded: req.recorded,
                slots: vec![Slot::Unstarted; plugins],
                phase: Phase::Decode {
                    stage: Stage::Headers,
                    next: 0,
                },
                paused: false,
                pending: Pending::default(),
                outcome: None,
                cluster: None,
                upstream_started: None,
                upstream_request: None,
                awaiting_upstream: false,
                session,
            },
        );
        self.collector.record_offered(self.now(), class);
        self.drive(sid);
    }

    fn upstream_done(&mut self, sid: u64, k: usize) {
        // The server is free: start the next queued request, if any.
        if let Some(next) = self.clusters[k].finish() {
            let recorded = self
                .streams
                .get(&next)
                .and_then(|s| s.recorded.as_ref().map(|r| r.duration));
            let now = self.now();
            let d = {
                let draws = &mut self.draws;
                self.clusters[k].service_time(now, recorded, &mut || draws.next())
            };
            self.events.push(
                now + d,
                Event::UpstreamDone {
                    stream: next,
                    cluster: k,
                },
            );
        }
        let Some(s) = self.streams.get(&sid) else {
            return;
        };
        if !s.awaiting_upstream {
            return;
        }
        let recorded = s.recorded.as_ref().map(|r| r.status);
        let started = s.upstream_started.unwrap_or(self.now());
        let now = self.now();
        let status = {
            let draws = &mut self.draws;
            self.clusters[k].status(now, recorded, &mut || draws.next())
        };
        self.collector
            .upstream_done(now, k, status, now.saturating_sub(started));
        self.respond(sid, status, k);
    }

    fn route_timeout(&mut self, sid: u64) {
        let Some(s) = self.streams.get(&sid) else {
            return;
        };
        if !s.awaiting_upstream {
            return;
        }
        if let Some(k) = s.cluster {
            self.clusters[k].abandon(sid);
            let started = s.upstream_started.unwrap_or(self.now());
            self.collector
                .upstream_done(self.now(), k, 504, self.now().saturating_sub(started));
        }
        self.respond(sid, 504, usize::MAX);
    }
}

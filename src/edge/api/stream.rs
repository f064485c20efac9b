//! A stream on its way back (an endpoint the plan marks `"stream": true`): the client gets the
//! response head at once, and a pump moves the origin's body to it chunk by chunk, through the
//! core's per-line decisions (`domain::redistribution::stream`), telling the guard what it
//! delivered as it goes and spending from the holds the guard renews with each report. Every
//! report (one every 2 s at least) is also the stream's heartbeat at the guard and a fresh check
//! of its token and account: when a cap has nothing left, the token is revoked or the account
//! suspended, the guard says so, and the stream ends with that error line. A stream whose guard
//! answers nothing for 15 s ends the same way (`guard-unavailable`).
//!
//! The response's body is the readable side of the runtime's `IdentityTransformStream`. The pump
//! is a future handed to `ctx.wait_until`, so it runs on after `handle` has returned the
//! response, for as long as the stream lasts, and its last report is made before the runtime lets
//! the request go. The bytes move in steps of the relay (`relay.js`, the runtime's own script): a
//! step writes the lines decided on to the client while it reads the origin, and ends when the
//! write is done and a chunk has come, with all that came meanwhile; the pump decides on its
//! lines and starts the next step. One write is in flight at a time and a step holds at most
//! [`STEP_BYTES`], so the worker's memory stays flat whatever the stream's length.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use serde_json::json;
use worker::js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ReadableStreamDefaultReader, ResponseInit, TransformStream, WritableStreamDefaultWriter};
use worker::{Delay, Env};

use super::delivery::{self, Constraint, Shipment};
use crate::domain::access::decision::Grant;
use crate::domain::access::id::Id;
use crate::domain::guard::command::{Command, Reply};
use crate::domain::http::problem::Problem;
use crate::domain::redistribution::stream::{Batch, Budget, Dropped, LineFilter, Meter};
use crate::domain::throttle::charge::Charge;
use crate::domain::throttle::lease::Deliveries;
use crate::domain::throttle::verdict::{Quota, Verdict};
use crate::domain::time::clock::{Clock, UnixMillis};
use crate::edge::clock::EdgeClock;
use crate::edge::guard::client as guard_client;
use crate::edge::log;

#[wasm_bindgen]
extern "C" {
    /// The runtime's byte pipe: what is written to its writable side is read from its readable
    /// side as it is, and the response it feeds is sent by the runtime itself, with no script run
    /// per chunk on the way out (a script `TransformStream` would run one per chunk).
    #[wasm_bindgen(extends = TransformStream)]
    type IdentityTransformStream;

    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<IdentityTransformStream, JsValue>;
}

#[wasm_bindgen(module = "/src/edge/api/relay.js")]
extern "C" {
    /// Moves a stream's bytes a step at a time (see `relay.js`).
    type Relay;

    #[wasm_bindgen(constructor)]
    fn new(reader: &ReadableStreamDefaultReader, writer: &WritableStreamDefaultWriter, max: u32) -> Relay;

    /// Writes `out` (if any) to the client and, if `read`, reads the origin meanwhile.
    #[wasm_bindgen(method)]
    fn step(this: &Relay, out: Option<Uint8Array>, read: bool) -> Promise;

    /// When the origin's last chunk came (ms since the epoch).
    #[wasm_bindgen(method, getter)]
    fn heard(this: &Relay) -> f64;

    /// Chunks read from the origin so far.
    #[wasm_bindgen(method, getter)]
    fn reads(this: &Relay) -> f64;

    /// Writes to the client so far.
    #[wasm_bindgen(method, getter)]
    fn writes(this: &Relay) -> f64;
}

/// The most a step reads while a write is under way (the chunks that come during one write are
/// joined): 64 KiB, plus the one chunk that passes it.
pub const STEP_BYTES: u32 = 64 * 1024;

/// What became of the origin's answer to a stream request.
pub enum Opened {
    /// Not a stream after all (an error status, a `206`, no body): delivered as a page is.
    Page(Result<(web_sys::Response, Shipment), Problem>),
    /// The response to return now, and the pump that will feed its body.
    Stream(web_sys::Response, Pump),
}

/// Moves one stream from the origin to the client.
pub struct Pump {
    reader: ReadableStreamDefaultReader,
    writer: WritableStreamDefaultWriter,
    relay: Relay,
    filter: LineFilter,
}

/// The stream at its guard: its number there, and its charge (whose app, group and recipient its
/// ledger line is, and which caps bind it).
pub struct Ledger {
    /// 0 when the guard did not answer the charge (a plan that fails open): the first report
    /// that it answers notes the stream.
    pub stream: u64,
    pub charge: Charge,
    /// Items the charge reserved for the stream (a recipient's page of ids).
    pub reserved: u64,
    /// The problem base, for the error line a stream ends with.
    pub type_base: String,
    /// How long the origin may send nothing before the stream ends.
    pub silence_ms: u64,
}

/// Opens the client's side of a stream: the origin's status and headers with the rate-limit
/// headers, and a body the pump feeds, its lines read in the endpoint's shape.
pub async fn open(response: web_sys::Response, quotas: &[Quota], constraint: Option<Constraint>, grant: &Grant, now: UnixMillis) -> Opened {
    let status = response.status();
    let body = response.body().filter(|_| (200..300).contains(&status) && status != 206);
    let Some(body) = body else {
        return Opened::Page(delivery::deliver(response, quotas, constraint, grant, now).await);
    };
    let origin_init: &ResponseInit = response.unchecked_ref();
    let opened = (|| {
        let reader = ReadableStreamDefaultReader::new(&body)?;
        let pipe = IdentityTransformStream::new()?;
        let writer = pipe.writable().get_writer()?;
        let out = web_sys::Response::new_with_opt_readable_stream_and_init(Some(&pipe.readable()), origin_init)?;
        Ok::<_, JsValue>((out, reader, writer))
    })();
    let Ok((out, reader, writer)) = opened else {
        return Opened::Page(Err(Problem::OriginUnreachable));
    };
    let relay = Relay::new(&reader, &writer, STEP_BYTES);
    let pump = Pump { reader, writer, relay, filter: LineFilter::new(constraint.map(|c| c.mode)).metered(grant.metering.clone()) };
    Opened::Stream(uncompressed(delivery::with_rate_headers(out, quotas, now)), pump)
}

/// A stream leaves as it is: a compressor on the way (the platform compresses JSON for clients
/// that accept it) would hold lines back until its buffer fills. `no-transform` asks every hop
/// not to, and an explicit `identity` encoding is what the platform's own compression skips.
/// The body is already decoded (the runtime decodes what the origin compressed).
fn uncompressed(out: web_sys::Response) -> web_sys::Response {
    let headers = out.headers();
    let _ = headers.set("content-encoding", "identity");
    let cache = headers.get("cache-control").ok().flatten().unwrap_or_default();
    if !cache.to_ascii_lowercase().contains("no-transform") {
        let value = if cache.trim().is_empty() { "no-transform".to_owned() } else { format!("{cache}, no-transform") };
        let _ = headers.set("cache-control", &value);
    }
    out
}

/// What the pump waited for.
enum Event {
    Step(Stepped),
    ClientGone,
    ReportDue,
    Answered(Answer),
}

/// The guard's answer to a report.
enum Answer {
    /// Go on: the stream (by its number) may now send this many items.
    Go { stream: u64, held: u64 },
    /// The stream must end: a cap has nothing left (the guard gave its holds back).
    Stop(Problem),
    /// No answer: the report's deliveries are not in the ledger, and its holds stay counted.
    Unanswered,
}

/// Why a stream ended.
enum Ending {
    /// The origin ended its response.
    OriginEnded,
    /// The origin's connection broke (mid-line or not): the client's is broken too.
    OriginCut,
    /// The client went away: the origin's request is cancelled.
    ClientGone,
    /// The edge ended it, after its last allowed line, with an error line saying why.
    Refused(Problem),
}

impl Ending {
    fn name(&self) -> &'static str {
        match self {
            Self::OriginEnded => "origin_ended",
            Self::OriginCut => "origin_cut",
            Self::ClientGone => "client_gone",
            Self::Refused(p) => p.ledger_reason(),
        }
    }
}

type Report = Pin<Box<dyn Future<Output = Answer>>>;

impl Pump {
    /// Runs the stream to its end: each chunk's whole lines go to the client as they come, within
    /// the stream's budget, and what reached the client is reported as it goes (see `Meter`),
    /// each report renewing the holds the budget spends, and once more at the end.
    pub async fn run(mut self, env: Env, account: Id, mut ledger: Ledger) {
        let mut meter = Meter::new(EdgeClock.now());
        let charge = &ledger.charge;
        let held = if charge.monthly_item_cap.is_some() { 0 } else { ledger.reserved };
        let mut budget = Budget::new(charge.monthly_item_cap.is_some() || charge.recipient.is_some(), held);
        let mut odd = OddLines::default();
        // The relay's step under way, and what it is writing (counted as sent once it is done);
        // the lines decided on that wait for the next step.
        let mut step: Option<JsFuture> = None;
        let mut writing: Option<Batch> = None;
        let mut ready: Option<Batch> = None;
        let mut closed = JsFuture::from(self.writer.closed());
        let mut timer: Option<Delay> = None;
        let mut in_flight: Option<Report> = None;
        // Whether the step under way reads the origin, and when it began (the origin is silent
        // only while the pump waits on it, not while it waits for the budget), and a wake-up for
        // when it will have been silent too long (re-armed only when it fires: one timer per
        // silence period, not one per step).
        let mut reading = false;
        let mut heard_origin = EdgeClock.now();
        let mut silence: Option<Delay> = None;
        let ending = loop {
            let now = EdgeClock.now();
            if meter.guard_silent(now) {
                break Ending::Refused(Problem::GuardUnavailable);
            }
            if in_flight.is_none() {
                let renew = budget.wants_renewal(spent(&meter, &writing, &ready), meter.unreported());
                if meter.due(now, renew) {
                    timer = None;
                    let delivered = meter.take(now);
                    budget.report(delivered.items);
                    in_flight = Some(Box::pin(report(&env, &account, &ledger, delivered, false)));
                } else if timer.is_none() {
                    timer = Some(Delay::from(Duration::from_millis(meter.due_at(renew).0.saturating_sub(now.0))));
                }
            }
            // The next step: the lines ready go out, and the origin is read meanwhile, unless
            // lines wait for the budget (then nothing more is read).
            if step.is_none() {
                reading = !self.filter.waiting();
                if reading || ready.is_some() {
                    let out = ready.as_ref().map(|batch| Uint8Array::from(batch.bytes.as_slice()));
                    step = Some(JsFuture::from(self.relay.step(out, reading)));
                    writing = ready.take();
                    if reading {
                        heard_origin = now;
                    }
                }
            }
            if step.is_some() && reading && silence.is_none() {
                // A step lasts as long as its write: the origin was heard when its last chunk came.
                let heard = heard_origin.0.max(self.relay.heard() as u64);
                let quiet = now.0.saturating_sub(heard);
                if quiet >= ledger.silence_ms {
                    break Ending::Refused(Problem::OriginTimeout);
                }
                silence = Some(Delay::from(Duration::from_millis(ledger.silence_ms - quiet)));
            }
            let event = poll_fn(|cx| {
                if let Some(report) = in_flight.as_mut() {
                    if let Poll::Ready(answer) = report.as_mut().poll(cx) {
                        in_flight = None;
                        return Poll::Ready(Event::Answered(answer));
                    }
                }
                if Pin::new(&mut closed).poll(cx).is_ready() {
                    return Poll::Ready(Event::ClientGone);
                }
                if let Some(delay) = timer.as_mut() {
                    if Pin::new(delay).poll(cx).is_ready() {
                        timer = None;
                        return Poll::Ready(Event::ReportDue);
                    }
                }
                if let Some(delay) = silence.as_mut() {
                    if Pin::new(delay).poll(cx).is_ready() {
                        silence = None;
                        return Poll::Ready(Event::ReportDue);
                    }
                }
                match step.as_mut() {
                    Some(next) => Pin::new(next).poll(cx).map(|result| Event::Step(Stepped::of(result))),
                    None => Poll::Pending,
                }
            })
            .await;
            let batch = match event {
                Event::ReportDue => continue,
                Event::ClientGone => break Ending::ClientGone,
                Event::Answered(Answer::Unanswered) => {
                    budget.unanswered();
                    meter.answered(false, EdgeClock.now());
                    continue;
                }
                Event::Answered(Answer::Stop(problem)) => break Ending::Refused(problem),
                Event::Answered(Answer::Go { stream, held }) => {
                    ledger.stream = stream;
                    budget.renewed(held);
                    meter.answered(true, EdgeClock.now());
                    if !self.filter.waiting() {
                        continue;
                    }
                    self.filter.resume(budget.left(spent(&meter, &writing, &ready)))
                }
                Event::Step(stepped) => {
                    step = None;
                    if stepped == Stepped::ClientGone {
                        break Ending::ClientGone;
                    }
                    // The step's write is done: its lines reached the client.
                    if let Some(sent) = writing.take() {
                        meter.sent(sent.items, sent.ids, sent.bytes.len() as u64);
                    }
                    match stepped {
                        Stepped::Read(chunk) => self.filter.feed(&chunk, budget.left(spent(&meter, &writing, &ready))),
                        Stepped::Written => continue,
                        Stepped::OriginEnded => break Ending::OriginEnded,
                        Stepped::OriginCut | Stepped::ClientGone => break Ending::OriginCut,
                    }
                }
            };
            odd.note(&batch, &account, &ledger);
            if batch.bytes.is_empty() {
                continue;
            }
            match ready.as_mut() {
                Some(waiting) => waiting.absorb(batch),
                None => ready = Some(batch),
            }
        };
        // A step still under way: the origin's side is cancelled (so a read it waits on ends),
        // and its write counts if it was done.
        if matches!(ending, Ending::ClientGone | Ending::Refused(_)) {
            let _ = JsFuture::from(self.reader.cancel()).await;
        }
        if let Some(step) = step.take() {
            if Stepped::of(step.await) != Stepped::ClientGone {
                if let Some(sent) = writing.take() {
                    meter.sent(sent.items, sent.ids, sent.bytes.len() as u64);
                }
            }
        }
        self.close(&ending, &ledger.type_base).await;
        if let Some(report) = in_flight.take() {
            if let Answer::Go { stream, .. } = report.await {
                ledger.stream = stream;
            }
        }
        // The last report gives back what the stream still holds and closes it at the guard
        // (which already did, if it stopped the stream).
        let items = meter.items();
        report(&env, &account, &ledger, meter.take(EdgeClock.now()), true).await;
        log::event(
            "info",
            "stream_ended",
            json!({ "account": account.as_str(), "app": ledger.charge.app.as_str(), "group": ledger.charge.group.as_str(),
                    "how": ending.name(), "items": items, "unended_line_dropped": self.filter.unended(),
                    "too_long": odd.dropped.too_long, "not_json_dropped": odd.dropped.not_json,
                    "unfilterable": odd.dropped.unfilterable, "not_json_passed": odd.passed_not_json,
                    "origin_reads": self.relay.reads() as u64, "client_writes": self.relay.writes() as u64 }),
        );
    }

    /// Closes the client's side the way the ending calls for (the origin's is cancelled already
    /// when the edge ended the stream); failures here change nothing.
    async fn close(&self, ending: &Ending, type_base: &str) {
        match ending {
            Ending::OriginEnded => {
                let _ = JsFuture::from(self.writer.close()).await;
            }
            Ending::OriginCut => {
                let _ = JsFuture::from(self.writer.abort()).await;
            }
            Ending::ClientGone => {}
            Ending::Refused(problem) => {
                let line = Uint8Array::from(problem.stream_error_line(type_base).as_slice());
                let _ = JsFuture::from(self.writer.write_with_chunk(&line)).await;
                let _ = JsFuture::from(self.writer.close()).await;
            }
        }
    }
}

/// Items spent from the stream's budget since the last report left: sent, being written, and
/// decided on and waiting for the next step.
fn spent(meter: &Meter, writing: &Option<Batch>, ready: &Option<Batch>) -> u64 {
    let items = |batch: &Option<Batch>| batch.as_ref().map_or(0, |b| b.items);
    meter.unreported() + items(writing) + items(ready)
}

/// How a step of the relay ended (see `relay.js`).
#[derive(Debug, PartialEq, Eq)]
enum Stepped {
    /// The step's write is done, and these bytes came from the origin.
    Read(Vec<u8>),
    /// The step's write is done (it read nothing).
    Written,
    OriginEnded,
    OriginCut,
    ClientGone,
}

impl Stepped {
    fn of(result: Result<JsValue, JsValue>) -> Self {
        let Ok(value) = result else { return Self::OriginCut };
        if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
            return Self::Read(bytes.to_vec());
        }
        match value.as_f64() {
            Some(0.0) => Self::Written,
            Some(1.0) => Self::OriginEnded,
            Some(3.0) => Self::ClientGone,
            _ => Self::OriginCut,
        }
    }
}

/// Lines a stream did not send, or sent uncounted because they were not JSON.
#[derive(Default)]
struct OddLines {
    dropped: Dropped,
    passed_not_json: u64,
}

impl OddLines {
    /// Adds a batch's odd lines; a batch that dropped lines is logged at once, as streams can
    /// run for days.
    fn note(&mut self, batch: &Batch, account: &Id, ledger: &Ledger) {
        let d = batch.dropped;
        if d != Dropped::default() {
            log::event(
                "warn",
                "stream_lines_dropped",
                json!({ "account": account.as_str(), "app": ledger.charge.app.as_str(), "too_long": d.too_long,
                        "not_json": d.not_json, "unfilterable": d.unfilterable }),
            );
            self.dropped.add(d);
        }
        self.passed_not_json += batch.passed_not_json;
    }
}

/// One report to the guard: what the stream delivered since the last one, settling its holds
/// and (unless it is the `last`) renewing them.
fn report(env: &Env, account: &Id, ledger: &Ledger, delivered: Deliveries, last: bool) -> impl Future<Output = Answer> + 'static {
    let env = env.clone();
    let account = account.clone();
    let items = delivered.items;
    let command = Command::Stream { stream: ledger.stream, charge: ledger.charge.clone(), delivered, last };
    async move {
        let failure = match guard_client::call(&env, &account, &command).await {
            Ok(Reply::Verdict(Verdict::Allow { granted, stream, .. })) => return Answer::Go { stream: stream.unwrap_or(0), held: granted },
            Ok(Reply::Verdict(verdict)) => match verdict.refusal() {
                Some(problem) => return Answer::Stop(problem),
                None => "unexpected verdict".to_owned(),
            },
            Ok(Reply::Done) => return Answer::Unanswered,
            Ok(_) => "unexpected reply".to_owned(),
            Err(e) => e.to_string(),
        };
        log::event(
            "error",
            "delivery_not_recorded",
            json!({ "account": account.as_str(), "items": items, "stream": true, "error": failure }),
        );
        Answer::Unanswered
    }
}

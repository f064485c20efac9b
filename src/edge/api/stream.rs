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
//! the request go. The bytes move through the relay (`relay.js`, the runtime's own script): it
//! reads a chunk, calls the pump's decisions on it (a plain call into wasm, [`Flow::decide`]) and
//! writes the lines they let pass, one write in flight at a time and the next chunk read
//! meanwhile, so the worker's memory stays flat whatever the stream's length. The pump itself
//! wakes only for its reports and their answers, its timers, and the relay's pauses and ending.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::pin::Pin;
use std::task::{Poll, Waker};
use std::time::Duration;

use serde_json::json;
use worker::js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ResponseInit, TransformStream, WritableStreamDefaultWriter};
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
    /// Moves a stream's bytes, calling the pump's decisions for each chunk (see `relay.js`).
    type Relay;

    #[wasm_bindgen(constructor, catch)]
    fn new(body: &web_sys::ReadableStream, writer: &WritableStreamDefaultWriter) -> Result<Relay, JsValue>;

    /// Writes `out` (if any) and, if `read`, moves the stream until it pauses, halts or ends,
    /// calling `decide` for each chunk.
    #[wasm_bindgen(method)]
    fn run(this: &Relay, out: Option<Uint8Array>, read: bool, decide: &Function) -> Promise;

    #[wasm_bindgen(method)]
    fn pause(this: &Relay);

    #[wasm_bindgen(method)]
    fn halt(this: &Relay);

    /// Cancels the origin's side (a read waiting on it ends).
    #[wasm_bindgen(method)]
    fn cancel(this: &Relay) -> Promise;

    /// How long the run has waited on the origin, in ms.
    #[wasm_bindgen(method, getter)]
    fn quiet(this: &Relay) -> f64;

    /// Chunks read from the origin so far.
    #[wasm_bindgen(method, getter)]
    fn reads(this: &Relay) -> f64;

    /// Writes to the client so far.
    #[wasm_bindgen(method, getter)]
    fn writes(this: &Relay) -> f64;
}

/// What became of the origin's answer to a stream request.
pub enum Opened {
    /// Not a stream after all (an error status, a `206`, no body): delivered as a page is.
    Page(Result<(web_sys::Response, Shipment), Problem>),
    /// The response to return now, and the pump that will feed its body.
    Stream(web_sys::Response, Pump),
}

/// Moves one stream from the origin to the client.
pub struct Pump {
    relay: Relay,
    writer: WritableStreamDefaultWriter,
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
        return Opened::Page(delivery::deliver(response, None, quotas, constraint, grant, now).await);
    };
    let origin_init: &ResponseInit = response.unchecked_ref();
    let opened = (|| {
        let pipe = IdentityTransformStream::new()?;
        let writer = pipe.writable().get_writer()?;
        let relay = Relay::new(&body, &writer)?;
        let out = web_sys::Response::new_with_opt_readable_stream_and_init(Some(&pipe.readable()), origin_init)?;
        Ok::<_, JsValue>((out, relay, writer))
    })();
    let Ok((out, relay, writer)) = opened else {
        return Opened::Page(Err(Problem::OriginUnreachable));
    };
    let pump = Pump { relay, writer, filter: LineFilter::new(constraint.map(|c| c.mode)).metered(grant.metering.clone()) };
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
    Ran(Ran),
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

/// What the pump and its relay share: the per-line decisions and what the stream has spent.
/// The relay calls [`Flow::decide`] for each chunk; the pump reads and updates the rest between
/// chunks. Neither holds it across a wait, so the two never borrow it at once.
struct Flow {
    filter: LineFilter,
    meter: Meter,
    budget: Budget,
    odd: OddLines,
    /// Whose stream (for the log line of dropped lines).
    account: Id,
    app: String,
    /// The lines being written to the client: counted as sent once the write is done.
    writing: Option<Batch>,
    /// When the pump will next look at its reports (its timer), 0 while one is in flight (it
    /// looks again when the answer comes): a chunk that makes a report due sooner wakes it.
    looks_at: u64,
    /// Set by a chunk that wants the pump's attention, and the pump's waker.
    nudged: bool,
    waker: Option<Waker>,
}

impl Flow {
    /// Items spent from the budget since the last report left: sent, being written, and
    /// decided on and waiting to be written (`ready`).
    fn spent(&self, ready: Option<&Batch>) -> u64 {
        let items = |batch: Option<&Batch>| batch.map_or(0, |b| b.items);
        self.meter.unreported() + items(self.writing.as_ref()) + items(ready)
    }

    /// Notes a batch's odd lines (logged at once when it dropped some).
    fn note(&mut self, batch: &Batch) {
        self.odd.note(batch, &self.account, &self.app);
    }

    /// The write in progress is done: its lines reached the client.
    fn written(&mut self) {
        if let Some(sent) = self.writing.take() {
            self.meter.sent(sent.items, sent.ids, sent.bytes.len() as u64);
        }
    }

    /// One chunk from the origin (the lines before it have reached the client): the bytes to
    /// send on. Pauses the relay when lines wait for the budget, and wakes the pump when a report
    /// is due sooner than it would look.
    fn decide(&mut self, chunk: &[u8], relay: &Relay) -> Uint8Array {
        self.written();
        let batch = self.filter.feed(chunk, self.budget.left(self.spent(None)));
        self.note(&batch);
        let out = Uint8Array::from(batch.bytes.as_slice());
        if !batch.bytes.is_empty() {
            self.writing = Some(batch);
        }
        let waiting = self.filter.waiting();
        if waiting {
            relay.pause();
        }
        let renew = self.budget.wants_renewal(self.spent(None), self.meter.unreported());
        if waiting || self.meter.due_at(renew).0 < self.looks_at {
            self.nudged = true;
            if let Some(waker) = &self.waker {
                waker.wake_by_ref();
            }
        }
        out
    }
}

impl Pump {
    /// Runs the stream to its end: each chunk's whole lines go to the client as they come, within
    /// the stream's budget, and what reached the client is reported as it goes (see `Meter`),
    /// each report renewing the holds the budget spends, and once more at the end.
    pub async fn run(self, env: Env, account: Id, mut ledger: Ledger) {
        let charge = &ledger.charge;
        let held = if charge.monthly_item_cap.is_some() { 0 } else { ledger.reserved };
        let flow = Rc::new(RefCell::new(Flow {
            filter: self.filter,
            meter: Meter::new(EdgeClock.now()),
            budget: Budget::new(charge.monthly_item_cap.is_some() || charge.recipient.is_some(), held),
            odd: OddLines::default(),
            account: account.clone(),
            app: charge.app.as_str().to_owned(),
            writing: None,
            looks_at: 0,
            nudged: false,
            waker: None,
        }));
        let relay = self.relay;
        // The relay calls this for each chunk while it runs (it is dropped once the stream ends).
        let decide = {
            let flow = Rc::clone(&flow);
            let relay: Relay = relay.clone().unchecked_into();
            Closure::<dyn FnMut(Uint8Array) -> Option<Uint8Array>>::new(move |chunk: Uint8Array| {
                Some(flow.try_borrow_mut().ok()?.decide(&chunk.to_vec(), &relay))
            })
        };
        // The lines decided on that wait for the next run (after a renewal).
        let mut ready: Option<Batch> = None;
        let mut running: Option<JsFuture> = None;
        let mut reading = false;
        let mut closed = JsFuture::from(self.writer.closed());
        let mut timer: Option<Delay> = None;
        let mut in_flight: Option<Report> = None;
        // A wake-up for when the origin will have been silent too long (re-armed only when it
        // fires: one timer per silence period).
        let mut silence: Option<Delay> = None;
        let ending = loop {
            let now = EdgeClock.now();
            {
                let mut f = flow.borrow_mut();
                if f.meter.guard_silent(now) {
                    break Ending::Refused(Problem::GuardUnavailable);
                }
                if in_flight.is_none() {
                    let renew = f.budget.wants_renewal(f.spent(ready.as_ref()), f.meter.unreported());
                    if f.meter.due(now, renew) {
                        timer = None;
                        f.looks_at = 0;
                        let delivered = f.meter.take(now);
                        f.budget.report(delivered.items);
                        in_flight = Some(Box::pin(report(&env, &account, &ledger, delivered, false)));
                    } else if timer.is_none() {
                        let due = f.meter.due_at(renew);
                        f.looks_at = due.0;
                        timer = Some(Delay::from(Duration::from_millis(due.0.saturating_sub(now.0))));
                    }
                }
                // The next run: the lines ready go out, and the origin is read, unless lines wait
                // for the budget (then nothing more is read).
                if running.is_none() {
                    reading = !f.filter.waiting();
                    if reading || ready.is_some() {
                        let out = ready.as_ref().map(|batch| Uint8Array::from(batch.bytes.as_slice()));
                        f.writing = ready.take();
                        drop(f);
                        running = Some(JsFuture::from(relay.run(out, reading, decide.as_ref().unchecked_ref())));
                    }
                }
            }
            if running.is_some() && reading && silence.is_none() {
                let quiet = relay.quiet() as u64;
                if quiet >= ledger.silence_ms {
                    break Ending::Refused(Problem::OriginTimeout);
                }
                silence = Some(Delay::from(Duration::from_millis(ledger.silence_ms - quiet)));
            }
            let event = poll_fn(|cx| {
                {
                    let mut f = flow.borrow_mut();
                    if !f.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        f.waker = Some(cx.waker().clone());
                    }
                    if std::mem::take(&mut f.nudged) {
                        return Poll::Ready(Event::ReportDue);
                    }
                }
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
                match running.as_mut() {
                    Some(run) => Pin::new(run).poll(cx).map(|result| Event::Ran(Ran::of(&result))),
                    None => Poll::Pending,
                }
            })
            .await;
            let mut f = flow.borrow_mut();
            let batch = match event {
                Event::ReportDue => continue,
                Event::ClientGone => break Ending::ClientGone,
                Event::Answered(Answer::Unanswered) => {
                    f.budget.unanswered();
                    f.meter.answered(false, EdgeClock.now());
                    continue;
                }
                Event::Answered(Answer::Stop(problem)) => break Ending::Refused(problem),
                Event::Answered(Answer::Go { stream, held }) => {
                    ledger.stream = stream;
                    f.budget.renewed(held);
                    f.meter.answered(true, EdgeClock.now());
                    if !f.filter.waiting() {
                        continue;
                    }
                    let left = f.budget.left(f.spent(ready.as_ref()));
                    f.filter.resume(left)
                }
                Event::Ran(ran) => {
                    running = None;
                    // Unless a write failed, the run's last write is done: its lines reached the
                    // client.
                    if ran != Ran::ClientGone {
                        f.written();
                    }
                    match ran {
                        Ran::Paused => continue,
                        Ran::OriginEnded => break Ending::OriginEnded,
                        Ran::OriginCut => break Ending::OriginCut,
                        Ran::ClientGone => break Ending::ClientGone,
                    }
                }
            };
            f.note(&batch);
            if batch.bytes.is_empty() {
                continue;
            }
            match ready.as_mut() {
                Some(waiting) => waiting.absorb(batch),
                None => ready = Some(batch),
            }
        };
        // A run still under way: it is halted and the origin's side cancelled (so a read it waits
        // on ends), and its last write counts if it was done.
        relay.halt();
        if matches!(ending, Ending::ClientGone | Ending::Refused(_)) {
            let _ = JsFuture::from(relay.cancel()).await;
        }
        if let Some(run) = running.take() {
            if Ran::of(&run.await) != Ran::ClientGone {
                flow.borrow_mut().written();
            }
        }
        close(&self.writer, &ending, &ledger.type_base).await;
        if let Some(report) = in_flight.take() {
            if let Answer::Go { stream, .. } = report.await {
                ledger.stream = stream;
            }
        }
        drop(decide);
        // The last report gives back what the stream still holds and closes it at the guard
        // (which already did, if it stopped the stream).
        let (items, delivered, unended, odd) = {
            let mut f = flow.borrow_mut();
            (f.meter.items(), f.meter.take(EdgeClock.now()), f.filter.unended(), std::mem::take(&mut f.odd))
        };
        report(&env, &account, &ledger, delivered, true).await;
        log::event(
            "info",
            "stream_ended",
            json!({ "account": account.as_str(), "app": ledger.charge.app.as_str(), "group": ledger.charge.group.as_str(),
                    "how": ending.name(), "items": items, "unended_line_dropped": unended,
                    "too_long": odd.dropped.too_long, "not_json_dropped": odd.dropped.not_json,
                    "unfilterable": odd.dropped.unfilterable, "not_json_passed": odd.passed_not_json,
                    "origin_reads": relay.reads() as u64, "client_writes": relay.writes() as u64 }),
        );
    }
}

/// Closes the client's side the way the ending calls for (the origin's is cancelled already
/// when the edge ended the stream); failures here change nothing.
async fn close(writer: &WritableStreamDefaultWriter, ending: &Ending, type_base: &str) {
    match ending {
        Ending::OriginEnded => {
            let _ = JsFuture::from(writer.close()).await;
        }
        Ending::OriginCut => {
            let _ = JsFuture::from(writer.abort()).await;
        }
        Ending::ClientGone => {}
        Ending::Refused(problem) => {
            let line = Uint8Array::from(problem.stream_error_line(type_base).as_slice());
            let _ = JsFuture::from(writer.write_with_chunk(&line)).await;
            let _ = JsFuture::from(writer.close()).await;
        }
    }
}

/// How a run of the relay ended (see `relay.js`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    /// Paused (lines wait for the budget), or it only wrote; its last write is done.
    Paused,
    OriginEnded,
    OriginCut,
    /// A write failed: its lines did not reach the client.
    ClientGone,
}

impl Ran {
    fn of(result: &Result<JsValue, JsValue>) -> Self {
        match result.as_ref().ok().and_then(JsValue::as_f64) {
            Some(0.0) => Self::Paused,
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
    fn note(&mut self, batch: &Batch, account: &Id, app: &str) {
        let d = batch.dropped;
        if d != Dropped::default() {
            log::event(
                "warn",
                "stream_lines_dropped",
                json!({ "account": account.as_str(), "app": app, "too_long": d.too_long,
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
